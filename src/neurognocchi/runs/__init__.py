"""Run directories and the pipelines built on them: the library beneath the command line.

- :mod:`~neurognocchi.runs.registry`: the estimators by name (``MODELS``) and
  :func:`build_estimator`, checked before anything is fitted;
- :mod:`~neurognocchi.runs.directory`: a fitted model on disk (:func:`fit_run`, resumable,
  one writer at a time; :func:`load_model`; :func:`evaluate_runs` scores runs with the
  evaluation protocol);
- :mod:`~neurognocchi.runs.metrics`: the ``metrics.json`` an evaluation writes, read back;
- :mod:`~neurognocchi.runs.demo`: the demo and the reference table (data -> GNOCCHI, LFADS and
  PPCA -> the protocol -> one report).

``neurognocchi.cli`` parses arguments and prints; ``neurognocchi.study`` runs variants; both
call this package.
"""

from neurognocchi.runs.demo import DEMO_SETTINGS, run_demo, run_reference
from neurognocchi.runs.directory import (
    FIT_SUBSETS,
    RESUME_MAY_CHANGE,
    RUN_FILE,
    evaluate_runs,
    fit_indices,
    fit_run,
    load_model,
    prepare_run_dir,
    scorable_runs,
)
from neurognocchi.runs.metrics import read_metrics, rerender_report
from neurognocchi.runs.registry import MODELS, build_estimator

__all__ = [
    "DEMO_SETTINGS",
    "FIT_SUBSETS",
    "MODELS",
    "RESUME_MAY_CHANGE",
    "RUN_FILE",
    "build_estimator",
    "evaluate_runs",
    "fit_indices",
    "fit_run",
    "load_model",
    "prepare_run_dir",
    "read_metrics",
    "rerender_report",
    "run_demo",
    "run_reference",
    "scorable_runs",
]
