"""Studies: variants of estimator parameters × training seeds × data, each fit scored with the
evaluation protocol, stored in an Optuna storage (resumable, shareable by workers) and written
as CSV, JSON and HTML. The command is ``neurognocchi study CONFIG``.
"""

from neurognocchi.study.config import (
    StudyConfig,
    Variant,
    read_study_config,
    study_config_from_dict,
)
from neurognocchi.study.outputs import study_markdown, study_results, write_outputs
from neurognocchi.study.runner import default_storage, fit_and_score, report_study, run_study

__all__ = [
    "StudyConfig",
    "Variant",
    "default_storage",
    "fit_and_score",
    "read_study_config",
    "report_study",
    "run_study",
    "study_config_from_dict",
    "study_markdown",
    "study_results",
    "write_outputs",
]
