"""The small arrays the report's figures are drawn from (``evaluate(...)["figure_data"]``).

Codes and activity are projected on their top principal axes, and per-condition PSTHs are kept
for the units whose responses vary most across conditions, so that the figures need neither the
trials nor the model.
"""

from __future__ import annotations

import numpy as np

__all__ = ["code_figure_data", "figure_data", "reach_angle"]

MAX_FIGURE_TRIALS = 30  # validation trials drawn as activity trajectories
N_FIGURE_UNITS = 4  # units whose PSTHs are drawn


def _pca_basis(x: np.ndarray, n_components: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and top principal axes (D, k) of the rows of x (n, D)."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    axes = vt[:n_components].T
    if axes.shape[1] < n_components:  # fewer dimensions than components: pad with zeros
        axes = np.pad(axes, ((0, 0), (0, n_components - axes.shape[1])))
    return mean, axes


def reach_angle(variables: np.ndarray) -> np.ndarray:
    """Angle (rad) of the reach vector target - start of each row (target_x, target_y, ...)."""
    return np.arctan2(variables[:, 1] - variables[:, 3], variables[:, 0] - variables[:, 2])


def _unit_responses(data, reconstruction: np.ndarray) -> dict:
    """Per-condition PSTHs of validation trials, real (reference) and generated, for the
    units whose real PSTHs vary most across conditions."""
    valid = data.split.valid
    labels = np.unique(data.conditions[valid])
    masks = [data.conditions[valid] == c for c in labels]
    real = np.stack([data.reference[valid][m].mean(0) for m in masks])  # (C, T, N)
    generated = np.stack([reconstruction[m].mean(axis=(0, 1)) for m in masks])
    units = np.argsort(real.var(axis=0).sum(axis=0))[::-1][:N_FIGURE_UNITS]
    angles = np.array([reach_angle(data.variables[valid][m]).mean() for m in masks])
    return {
        "units": units,
        "real": real[:, :, units],
        "generated": generated[:, :, units],
        "angles": angles,
    }


def code_figure_data(data) -> dict:
    """The arrays of the code figures: top-3 PCs of the codes (held-in axes), the targets
    and which trials are held out."""
    mean, axes = _pca_basis(data.codes[data.heldin])
    return {
        "code_pcs": (data.codes - mean) @ axes,
        "target_x": data.variables[:, 0],
        "target_y": data.variables[:, 1],
        "heldout": np.isin(np.arange(len(data.codes)), data.split.heldout),
    }


def figure_data(data, reconstruction: np.ndarray, prior: np.ndarray) -> dict:
    """Small arrays the figures of the report are drawn from."""
    valid = data.split.valid
    n_fig = min(MAX_FIGURE_TRIALS, len(valid))
    real = data.trials.activity[valid]
    act_mean, act_axes = _pca_basis(real.reshape(-1, real.shape[2]))

    def project(x: np.ndarray) -> np.ndarray:  # (n_fig, T, 3)
        return (x[:n_fig] - act_mean) @ act_axes

    return code_figure_data(data) | {
        "unit_responses": _unit_responses(data, reconstruction),
        "activity_pcs": {
            "real": project(real),
            "conditional": project(reconstruction[:, 0]),
            "unconditional": project(prior),
            "angles": reach_angle(data.variables[valid][:n_fig]),
        },
    }
