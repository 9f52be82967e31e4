"""The comparison figures of the evaluation protocol (DESIGN §7), after the GNOCCHI paper's.

Each function takes arrays or results (plain lists from `neurognocchi.evaluation.evaluate`
work too; None is read as NaN) and returns a `matplotlib.figure.Figure` built with the object
API, so nothing depends on pyplot state or a display. `comparison_figures` draws every figure
of a `compare` result, keyed and captioned as `FIGURE_CAPTIONS` (the HTML report's order);
`save_figure` writes a PNG atomically.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from neurognocchi._checks import InvalidArgumentError
from neurognocchi.evaluation.drawing import (
    ANGLE_CMAP,
    ANGLE_NORM,
    angle_colorbar,
    figure_png,
    float_array,
    grouped_bars,
    save_figure,
    unity_scatter,
)
from neurognocchi.evaluation.paired import paired_fraction
from neurognocchi.evaluation.protocol import VARIABLES

__all__ = [
    "FIGURE_CAPTIONS",
    "code_pcs_figure",
    "code_snr_figure",
    "comparison_figures",
    "disentanglement_figure",
    "figure_png",
    "generated_pca_figure",
    "heldout_prediction_figure",
    "navigation_trajectories_figure",
    "reconstruction_figure",
    "save_figure",
    "unit_responses_figure",
]


def unit_responses_figure(real, generated: Mapping, angles, *, bin_size_s=None) -> Figure:
    """Per-condition PSTHs of a few units, real vs generated, coloured by reach angle.

    Parameters
    ----------
    real : array (n_conditions, n_time, n_units)
    generated : dict model name -> array (n_conditions, n_time, n_units)
    angles : array (n_conditions,), reach angle (rad) of each condition
    bin_size_s : float, optional; the time axis is in bins when None
    """
    real = float_array("real", real, 3)
    angles = float_array("angles", angles, 1)
    panels = {"real": real} | {name: float_array(name, g, 3) for name, g in generated.items()}
    n_units = real.shape[2]
    time = np.arange(real.shape[1]) * (bin_size_s or 1.0)
    fig = Figure(figsize=(2.6 * len(panels) + 1, 1.8 * n_units + 0.6), layout="constrained")
    axes = fig.subplots(n_units, len(panels), squeeze=False, sharex=True)
    for col, (name, psth) in enumerate(panels.items()):
        for unit in range(n_units):
            ax = axes[unit, col]
            for condition, angle in enumerate(angles):
                ax.plot(time, psth[condition, :, unit], color=ANGLE_CMAP(ANGLE_NORM(angle)), lw=1)
            ax.set_ylim(*_shared_limits(panels, unit))
            if unit == 0:
                ax.set_title(name)
            if col == 0:
                ax.set_ylabel(f"unit {unit + 1}")
        axes[-1, col].set_xlabel("time (s)" if bin_size_s else "time (bins)")
    angle_colorbar(fig, axes)
    return fig


def _shared_limits(panels: Mapping, unit: int) -> tuple[float, float]:
    values = np.concatenate([p[:, :, unit].ravel() for p in panels.values()])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = values.min(), values.max()
    pad = 0.05 * (high - low) or 0.5
    return float(low - pad), float(high + pad)


def code_pcs_figure(code_pcs: Mapping, target_x, target_y, heldout) -> Figure:
    """Top-3 PCs of each model's codes, coloured by target x and by target y; held-out
    trials in black.

    Parameters
    ----------
    code_pcs : dict model name -> array (n_trials, 3)
    target_x, target_y : arrays (n_trials,)
    heldout : boolean array (n_trials,)
    """
    target_x, target_y = float_array("target_x", target_x, 1), float_array("target_y", target_y, 1)
    heldout = np.asarray(heldout, dtype=bool)
    fig = Figure(figsize=(8, 3.8 * len(code_pcs)), layout="constrained")
    for row, (name, pcs) in enumerate(code_pcs.items()):
        pcs = float_array(f"code_pcs[{name!r}]", pcs, 2)
        for col, (label, colour) in enumerate((("target x", target_x), ("target y", target_y))):
            ax = fig.add_subplot(len(code_pcs), 2, 2 * row + col + 1, projection="3d")
            points = ax.scatter(*pcs[~heldout, :3].T, c=colour[~heldout], cmap="viridis", s=8)
            ax.scatter(*pcs[heldout, :3].T, c="black", s=8, label="held out")
            ax.set_title(f"{name}: coloured by {label}")
            ax.set_xlabel("PC1"), ax.set_ylabel("PC2"), ax.set_zlabel("PC3")
            fig.colorbar(points, ax=ax, shrink=0.6, pad=0.12, label=label)
        if row == 0:
            fig.axes[0].legend(loc="upper left", fontsize=8)
    return fig


def code_snr_figure(snr_db: Mapping) -> Figure:
    """Code SNR (dB) per variable, one bar per model: ``snr_db[model][variable]``."""
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    groups = list(next(iter(snr_db.values()))) if snr_db else list(VARIABLES)
    grouped_bars(ax, snr_db, groups, ylabel="code SNR (dB)")
    ax.set_title("Code SNR per variable")
    return fig


def _pair(names, x_model, y_model) -> tuple[str, str]:
    """The (x, y) models of a pairwise scatter: named, else the last and the first model."""
    names = list(names)
    x_model = names[-1] if x_model is None else x_model
    y_model = names[0] if y_model is None else y_model
    for model in (x_model, y_model):
        if model not in names:
            raise InvalidArgumentError(f"model {model!r} is not among {names}")
    return x_model, y_model


def reconstruction_figure(
    pooled_r2: Mapping, per_neuron_r2: Mapping, *, x_model=None, y_model=None
) -> Figure:
    """Pooled reconstruction R² per model (bars) and per-neuron R², ``x_model`` on x against
    ``y_model`` on y with the unity line (defaults: the last and the first model, e.g. LFADS
    on x and GNOCCHI on y for ``{"GNOCCHI": ..., "LFADS": ...}``).

    Parameters
    ----------
    pooled_r2 : dict model -> float
    per_neuron_r2 : dict model -> array (n_neurons,)
    """
    x_model, y_model = _pair(per_neuron_r2, x_model, y_model)
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    bars, scatter = fig.subplots(1, 2)
    names = list(pooled_r2)
    heights = [np.nan if pooled_r2[n] is None else pooled_r2[n] for n in names]
    bars.bar(names, heights, color=[f"C{i}" for i in range(len(names))])
    bars.set_ylabel("reconstruction R² (pooled)")
    bars.axhline(0.0, color="grey", lw=0.5)
    x = float_array("per_neuron_r2[x]", per_neuron_r2[x_model], 1)
    y = float_array("per_neuron_r2[y]", per_neuron_r2[y_model], 1)
    unity_scatter(
        scatter, x, y, xlabel=f"{x_model} per-neuron R²", ylabel=f"{y_model} per-neuron R²"
    )
    if x_model != y_model:
        share = paired_fraction(y, x).fraction
        scatter.set_title(f"per-neuron R² ({y_model} higher for {share:.0%})")
    else:
        scatter.set_title("per-neuron R²")
    return fig


def navigation_trajectories_figure(
    trajectories: Mapping, *, variables=("target_x", "target_y")
) -> Figure:
    """Decoded hand trajectories of codes moved along each variable's direction.

    Parameters
    ----------
    trajectories : dict model -> dict variable -> array (n_steps, n_time, 2), the mean decoded
        position at each traversal step (colour: step, from dark to light)
    """
    fig = Figure(figsize=(3.4 * len(variables), 3.2 * len(trajectories)), layout="constrained")
    axes = fig.subplots(len(trajectories), len(variables), squeeze=False)
    cmap = colormaps["viridis"]
    for row, (name, by_variable) in enumerate(trajectories.items()):
        for col, variable in enumerate(variables):
            paths = float_array(f"trajectories[{name!r}][{variable!r}]", by_variable[variable], 3)
            ax = axes[row, col]
            for step, path in enumerate(paths):
                colour = cmap(step / max(1, len(paths) - 1))
                ax.plot(path[:, 0], path[:, 1], color=colour, lw=1.2)
                ax.plot(path[-1, 0], path[-1, 1], "o", color=colour, ms=4)
            ax.set_title(f"{name}: along {variable}")
            ax.set_xlabel("decoded x"), ax.set_ylabel("decoded y")
            ax.set_aspect("equal", adjustable="datalim")
    return fig


def disentanglement_figure(unintended: Mapping, orthogonality: Mapping) -> Figure:
    """Unintended movement per traversed variable and |cos| between the target_x and target_y
    code directions, one bar per model (lower is better for both).

    Parameters
    ----------
    unintended : dict model -> dict variable -> float
    orthogonality : dict model -> float
    """
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[3, 1])
    groups = list(next(iter(unintended.values()))) if unintended else list(VARIABLES)
    grouped_bars(left, unintended, groups, ylabel="unintended movement (data units)")
    left.set_xlabel("traversed variable")
    names = list(orthogonality)
    heights = [np.nan if orthogonality[n] is None else orthogonality[n] for n in names]
    right.bar(names, heights, color=[f"C{i}" for i in range(len(names))])
    right.set_ylim(0, 1)
    right.set_ylabel("|cos| target_x vs target_y")
    return fig


def heldout_prediction_figure(
    true_targets, predicted: Mapping, errors: Mapping, *, x_model=None, y_model=None
) -> Figure:
    """Held-out targets predicted from codes: true vs predicted per model (lines join each
    trial's prediction to its target) and per-trial errors, ``x_model`` against ``y_model``
    (defaults: the first model on x, the last on y, e.g. GNOCCHI on x and LFADS on y).

    Parameters
    ----------
    true_targets : array (n_trials, 2)
    predicted : dict model -> array (n_trials, 2)
    errors : dict model -> array (n_trials,)
    """
    true_targets = float_array("true_targets", true_targets, 2)
    names = list(errors)
    x_model = names[0] if x_model is None else x_model
    y_model = names[-1] if y_model is None else y_model
    x_model, y_model = _pair(names, x_model, y_model)
    fig = Figure(figsize=(3.6 * (len(predicted) + 1), 3.6), layout="constrained")
    axes = fig.subplots(1, len(predicted) + 1, squeeze=False)[0]
    for ax, (name, guess) in zip(axes, predicted.items(), strict=False):
        guess = float_array(f"predicted[{name!r}]", guess, 2)
        for truth, point in zip(true_targets, guess, strict=True):
            ax.plot([truth[0], point[0]], [truth[1], point[1]], color="grey", lw=0.5)
        ax.scatter(*guess.T, s=10, label="predicted")
        ax.scatter(
            *np.unique(true_targets, axis=0).T, marker="x", color="black", s=60, label="true"
        )
        ax.set_title(f"{name}: held-out targets")
        ax.set_xlabel("target x"), ax.set_ylabel("target y")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0].legend(fontsize=8)
    x = float_array("errors[x]", errors[x_model], 1)
    y = float_array("errors[y]", errors[y_model], 1)
    unity_scatter(axes[-1], x, y, xlabel=f"{x_model} error", ylabel=f"{y_model} error")
    if x_model != y_model:
        share = paired_fraction(x, y, higher_is_better=False).fraction
        axes[-1].set_title(f"per-trial error ({x_model} closer for {share:.0%})")
    else:
        axes[-1].set_title("per-trial error")
    return fig


def generated_pca_figure(projections: Mapping, angles) -> Figure:
    """Trajectories in the top-2 PCs of real activity: real, conditional and unconditional
    samples. Real and conditional trials are coloured by reach angle, unconditional in grey.

    Parameters
    ----------
    projections : dict row label -> dict with "real", "conditional", "unconditional"
        arrays (n_trials, n_time, >= 2) (e.g. one row per model)
    angles : array (n_trials,), reach angle of the real/conditional trials
    """
    angles = float_array("angles", angles, 1)
    columns = ("real", "conditional", "unconditional")
    fig = Figure(figsize=(10, 3.2 * len(projections)), layout="constrained")
    axes = fig.subplots(len(projections), 3, squeeze=False, sharex=True, sharey=True)
    for row, (name, by_kind) in enumerate(projections.items()):
        for col, kind in enumerate(columns):
            pcs, ax = float_array(f"{name}/{kind}", by_kind[kind], 3), axes[row, col]
            for trial, path in enumerate(pcs):
                colour = (
                    "grey"
                    if kind == "unconditional" or trial >= len(angles)
                    else ANGLE_CMAP(ANGLE_NORM(angles[trial]))
                )
                ax.plot(path[:, 0], path[:, 1], color=colour, lw=0.8, alpha=0.8)
            ax.set_title(f"{name}: {kind}")
            ax.set_xlabel("PC1"), ax.set_ylabel("PC2")
    angle_colorbar(fig, axes)
    return fig


# Titles and captions of the report's figures, in order.
FIGURE_CAPTIONS = {
    "unit_responses": "Unit responses (validation trials, per-condition means): real (the "
    "ground-truth rates when known) vs generated from each trial's own code, coloured by reach "
    "angle.",
    "code_pcs": "Top-3 principal components of the codes, coloured by target x and target y; "
    "held-out trials in black.",
    "code_snr": "Code SNR per behavioural variable (dB).",
    "reconstruction": "Reconstruction R² on validation trials (conditional means against the "
    "reference): pooled, and per neuron, second model on x against the first on y, with the unity "
    "line (the paper's Fig. 4D; the table gives the fraction of neurons above it).",
    "navigation": "Decoded hand trajectories of codes moved along the target-x and target-y "
    "directions (colour: step).",
    "disentanglement": "Unintended movement of the variables that should stay fixed (mean over "
    "sampling seeds), and |cos| of the target-x and target-y encoding directions in the frame "
    "whitened on training codes (lower is better).",
    "heldout_prediction": "Held-out targets predicted from codes, and per-trial errors, first "
    "model on x against the second on y, with the unity line (the paper's Fig. 4F; the table "
    "gives the fraction of trials where the first model is closer).",
    "generated_pca": "Top-2 PCs of real activity: real, conditional and unconditional samples.",
}


def _each(models: Mapping, *keys: str) -> dict:
    """``{name: result[keys[0]][keys[1]]...}`` for each model's ``evaluate`` result."""
    out = {}
    for name, value in models.items():
        for key in keys:
            value = value[key]
        out[name] = value
    return out


def _per_variable(by_model: Mapping, key: str) -> dict:
    """``{name: {variable: item[key]}}`` from ``{name: {variable: item}}``."""
    return {name: {v: item[key] for v, item in items.items()} for name, items in by_model.items()}


def comparison_figures(comparison: Mapping, *, bin_size_s=None) -> dict[str, Figure]:
    """Every figure of a :func:`neurognocchi.evaluation.compare` result, keyed as
    :data:`FIGURE_CAPTIONS`. Pairwise scatters put the last model on x and the first on y
    (reconstruction) and the first on x and the last on y (held-out errors). Models that
    cannot generate (no ``reconstruction``) appear in the code figures only."""
    models = comparison["models"]
    names = list(models)
    pair = {"x_model": names[min(1, len(names) - 1)], "y_model": names[0]}  # e.g. LFADS, GNOCCHI
    codes = next(iter(models.values()))["figure_data"]  # targets: the same for all models
    figures = {
        "code_pcs": code_pcs_figure(
            _each(models, "figure_data", "code_pcs"),
            codes["target_x"],
            codes["target_y"],
            codes["heldout"],
        ),
        "code_snr": code_snr_figure(_per_variable(_each(models, "code_snr"), "snr_db")),
        "heldout_prediction": heldout_prediction_figure(
            next(iter(models.values()))["heldout_targets"]["true"],
            _each(models, "heldout_targets", "predicted"),
            _each(models, "heldout_targets", "errors"),
            x_model=pair["y_model"],
            y_model=pair["x_model"],
        ),
    }
    generating = {name: result for name, result in models.items() if "reconstruction" in result}
    if generating:
        figures |= _generation_figures(generating, bin_size_s)
    return {name: figures[name] for name in FIGURE_CAPTIONS if name in figures}


def _generation_figures(models: Mapping, bin_size_s) -> dict[str, Figure]:
    """The figures of the generating steps, for the models that generate."""
    first = next(iter(models.values()))["figure_data"]  # data figures: the same for all models
    names = list(models)
    pair = {"x_model": names[min(1, len(names) - 1)], "y_model": names[0]}
    units, traversals = first["unit_responses"], _each(models, "unintended_movement")
    return {
        "unit_responses": unit_responses_figure(
            units["real"],
            _each(models, "figure_data", "unit_responses", "generated"),
            units["angles"],
            bin_size_s=bin_size_s,
        ),
        "reconstruction": reconstruction_figure(
            _each(models, "reconstruction", "pooled_r2"),
            _each(models, "reconstruction", "per_neuron_r2"),
            **pair,
        ),
        "navigation": navigation_trajectories_figure(_per_variable(traversals, "trajectories")),
        "disentanglement": disentanglement_figure(
            _per_variable(traversals, "unintended"), _each(models, "navigation", "orthogonality")
        ),
        "generated_pca": generated_pca_figure(
            _each(models, "figure_data", "activity_pcs"), first["activity_pcs"]["angles"]
        ),
    }
