"""Experiments that combine data, models and metrics into reported numbers (JSON-able dicts)."""

from neurognocchi.experiments.realdata import run_datahigh_experiment, run_datahigh_seeds
from neurognocchi.experiments.smoothing import compare_smoothing, smoothed_inputs

__all__ = [
    "compare_smoothing",
    "run_datahigh_experiment",
    "run_datahigh_seeds",
    "smoothed_inputs",
]
