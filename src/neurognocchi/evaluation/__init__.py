"""Evaluation protocol (DESIGN §7): metrics as plain functions of arrays."""

from neurognocchi.evaluation.metrics import (
    code_regression_r2,
    per_neuron_r2,
    pooled_r2,
    sample_statistics,
)

__all__ = ["code_regression_r2", "per_neuron_r2", "pooled_r2", "sample_statistics"]
