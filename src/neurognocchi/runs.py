"""Old home of the run directories; moved to `neurognocchi.cli.runs` and
`neurognocchi.cli.params` (removed in 0.3)."""

from neurognocchi.cli.params import MODELS, build_estimator, parse_overrides, read_config
from neurognocchi.cli.runs import (
    FIT_SUBSETS,
    RESUME_MAY_CHANGE,
    RUN_FILE,
    evaluate_runs,
    fit_indices,
    fit_run,
    load_model,
    prepare_run_dir,
)

__all__ = [
    "FIT_SUBSETS",
    "MODELS",
    "RESUME_MAY_CHANGE",
    "RUN_FILE",
    "build_estimator",
    "evaluate_runs",
    "fit_indices",
    "fit_run",
    "load_model",
    "parse_overrides",
    "prepare_run_dir",
    "read_config",
]
