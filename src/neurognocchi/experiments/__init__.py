"""Experiments that combine data, models and metrics into reported numbers (JSON-able dicts)."""

from neurognocchi.experiments.realdata import run_datahigh_experiment
from neurognocchi.experiments.smoothing import compare_smoothing, smoothed_inputs

__all__ = ["compare_smoothing", "run_datahigh_experiment", "smoothed_inputs"]
