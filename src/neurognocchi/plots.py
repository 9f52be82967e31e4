"""Figures of the evaluation protocol (DESIGN §7), after the GNOCCHI paper's figures.

Each function takes arrays or results (plain lists from `neurognocchi.evaluation.evaluate`
work too; None is read as NaN) and returns a `matplotlib.figure.Figure` built with the object
API, so nothing depends on pyplot state or a display. `save_figure` writes a PNG atomically;
`comparison_figures` draws every figure of a `compare` result; `plot_reaching` shows a reaching
dataset (hand paths by target, units' mean responses).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, hsv_to_rgb
from matplotlib.figure import Figure

from neurognocchi._io import atomic_write
from neurognocchi.data.trials import Trials

VARIABLES = ("target_x", "target_y", "start_x", "start_y")
ANGLE_NORM = Normalize(-np.pi, np.pi)
ANGLE_CMAP = colormaps["hsv"]


def _array(name: str, value, ndim: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)  # None -> NaN
    if array.ndim != ndim:
        raise ValueError(f"{name} must have rank {ndim}; got shape {array.shape}")
    return array


def _angle_colorbar(fig: Figure, axes) -> None:
    mappable = ScalarMappable(norm=ANGLE_NORM, cmap=ANGLE_CMAP)
    fig.colorbar(mappable, ax=axes, label="reach angle (rad)", shrink=0.8)


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically; return the path."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())
    return Path(path)


def figure_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The PNG bytes of ``fig``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def unit_responses_figure(real, generated: Mapping, angles, *, bin_size_s=None) -> Figure:
    """Per-condition PSTHs of a few units, real vs generated, coloured by reach angle.

    Parameters
    ----------
    real : array (n_conditions, n_time, n_units)
    generated : dict model name -> array (n_conditions, n_time, n_units)
    angles : array (n_conditions,), reach angle (rad) of each condition
    bin_size_s : float, optional; the time axis is in bins when None
    """
    real = _array("real", real, 3)
    angles = _array("angles", angles, 1)
    panels = {"real": real} | {name: _array(name, g, 3) for name, g in generated.items()}
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
    _angle_colorbar(fig, axes)
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
    target_x, target_y = _array("target_x", target_x, 1), _array("target_y", target_y, 1)
    heldout = np.asarray(heldout, dtype=bool)
    fig = Figure(figsize=(8, 3.8 * len(code_pcs)), layout="constrained")
    for row, (name, pcs) in enumerate(code_pcs.items()):
        pcs = _array(f"code_pcs[{name!r}]", pcs, 2)
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


def _grouped_bars(ax, values: Mapping, groups, *, ylabel: str) -> None:
    """Bars of ``values[model][group]`` grouped by group, one colour per model."""
    width = 0.8 / max(1, len(values))
    positions = np.arange(len(groups))
    for i, (name, by_group) in enumerate(values.items()):
        heights = np.array([np.nan if by_group.get(g) is None else by_group[g] for g in groups])
        ax.bar(positions + (i - (len(values) - 1) / 2) * width, heights, width, label=name)
    ax.set_xticks(positions, list(groups))
    ax.set_ylabel(ylabel)
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.legend(fontsize=8)


def code_snr_figure(snr_db: Mapping) -> Figure:
    """Code SNR (dB) per variable, one bar per model: ``snr_db[model][variable]``."""
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    groups = list(next(iter(snr_db.values()))) if snr_db else list(VARIABLES)
    _grouped_bars(ax, snr_db, groups, ylabel="code SNR (dB)")
    ax.set_title("Code SNR per variable")
    return fig


def _unity_scatter(ax, x, y, *, xlabel: str, ylabel: str) -> None:
    """Scatter of y against x with the line y = x over their joint range."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ax.scatter(x, y, s=12, alpha=0.7)
    finite = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]])
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--", label="unity")
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    ax.set_aspect("equal", adjustable="datalim")


def _pair(names, x_model, y_model) -> tuple[str, str]:
    """The (x, y) models of a pairwise scatter: named, else the last and the first model."""
    names = list(names)
    x_model = names[-1] if x_model is None else x_model
    y_model = names[0] if y_model is None else y_model
    for model in (x_model, y_model):
        if model not in names:
            raise ValueError(f"model {model!r} is not among {names}")
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
    _unity_scatter(
        scatter,
        _array("per_neuron_r2[x]", per_neuron_r2[x_model], 1),
        _array("per_neuron_r2[y]", per_neuron_r2[y_model], 1),
        xlabel=f"{x_model} per-neuron R²",
        ylabel=f"{y_model} per-neuron R²",
    )
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
            paths = _array(f"trajectories[{name!r}][{variable!r}]", by_variable[variable], 3)
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
    _grouped_bars(left, unintended, groups, ylabel="unintended movement (data units)")
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
    true_targets = _array("true_targets", true_targets, 2)
    names = list(errors)
    x_model = names[0] if x_model is None else x_model
    y_model = names[-1] if y_model is None else y_model
    x_model, y_model = _pair(names, x_model, y_model)
    fig = Figure(figsize=(3.6 * (len(predicted) + 1), 3.6), layout="constrained")
    axes = fig.subplots(1, len(predicted) + 1, squeeze=False)[0]
    for ax, (name, guess) in zip(axes, predicted.items(), strict=False):
        guess = _array(f"predicted[{name!r}]", guess, 2)
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
    _unity_scatter(
        axes[-1],
        _array("errors[x]", errors[x_model], 1),
        _array("errors[y]", errors[y_model], 1),
        xlabel=f"{x_model} error",
        ylabel=f"{y_model} error",
    )
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
    angles = _array("angles", angles, 1)
    columns = ("real", "conditional", "unconditional")
    fig = Figure(figsize=(10, 3.2 * len(projections)), layout="constrained")
    axes = fig.subplots(len(projections), 3, squeeze=False, sharex=True, sharey=True)
    for row, (name, by_kind) in enumerate(projections.items()):
        for col, kind in enumerate(columns):
            pcs, ax = _array(f"{name}/{kind}", by_kind[kind], 3), axes[row, col]
            for trial, path in enumerate(pcs):
                colour = (
                    "grey"
                    if kind == "unconditional" or trial >= len(angles)
                    else ANGLE_CMAP(ANGLE_NORM(angles[trial]))
                )
                ax.plot(path[:, 0], path[:, 1], color=colour, lw=0.8, alpha=0.8)
            ax.set_title(f"{name}: {kind}")
            ax.set_xlabel("PC1"), ax.set_ylabel("PC2")
    _angle_colorbar(fig, axes)
    return fig


# Titles and captions of the report's figures, in order.
FIGURE_CAPTIONS = {
    "unit_responses": "Unit responses (validation trials, per-condition means): real (the "
    "ground-truth rates when known) vs generated from each trial's own code, coloured by reach "
    "angle.",
    "code_pcs": "Top-3 principal components of the codes, coloured by target x and target y; "
    "held-out trials in black.",
    "code_snr": "Code SNR per behavioural variable (dB).",
    "reconstruction": "Reconstruction R² on validation trials: pooled, and per neuron with the "
    "unity line.",
    "navigation": "Decoded hand trajectories of codes moved along the target-x and target-y "
    "directions (colour: step).",
    "disentanglement": "Unintended movement of the variables that should stay fixed, and "
    "orthogonality of the target-x and target-y directions (lower is better).",
    "heldout_prediction": "Held-out targets predicted from codes, and per-trial errors with the "
    "unity line.",
    "generated_pca": "Top-2 PCs of real activity: real, conditional and unconditional samples.",
}


def comparison_figures(comparison: Mapping, *, bin_size_s=None) -> dict[str, Figure]:
    """Every figure of a :func:`neurognocchi.evaluation.compare` result, keyed as
    :data:`FIGURE_CAPTIONS`. Pairwise scatters put the last model on x and the first on y
    (reconstruction) and the first on x and the last on y (held-out errors)."""
    models = comparison["models"]
    names = list(models)
    first = models[names[0]]
    units = first["figure_data"]["unit_responses"]
    return {
        "unit_responses": unit_responses_figure(
            units["real"],
            {n: models[n]["figure_data"]["unit_responses"]["generated"] for n in names},
            units["angles"],
            bin_size_s=bin_size_s,
        ),
        "code_pcs": code_pcs_figure(
            {n: models[n]["figure_data"]["code_pcs"] for n in names},
            first["figure_data"]["target_x"],
            first["figure_data"]["target_y"],
            first["figure_data"]["heldout"],
        ),
        "code_snr": code_snr_figure(
            {n: {v: s["snr_db"] for v, s in models[n]["code_snr"].items()} for n in names}
        ),
        "reconstruction": reconstruction_figure(
            {n: models[n]["reconstruction"]["pooled_r2"] for n in names},
            {n: models[n]["reconstruction"]["per_neuron_r2"] for n in names},
        ),
        "navigation": navigation_trajectories_figure(
            {
                n: {v: t["trajectories"] for v, t in models[n]["unintended_movement"].items()}
                for n in names
            }
        ),
        "disentanglement": disentanglement_figure(
            {
                n: {v: t["unintended"] for v, t in models[n]["unintended_movement"].items()}
                for n in names
            },
            {n: models[n]["navigation"]["orthogonality"] for n in names},
        ),
        "heldout_prediction": heldout_prediction_figure(
            first["heldout_targets"]["true"],
            {n: models[n]["heldout_targets"]["predicted"] for n in names},
            {n: models[n]["heldout_targets"]["errors"] for n in names},
        ),
        "generated_pca": generated_pca_figure(
            {n: models[n]["figure_data"]["activity_pcs"] for n in names},
            first["figure_data"]["activity_pcs"]["angles"],
        ),
    }


# ---------------------------------------------------------------------- datasets
def _target_colours(targets: np.ndarray) -> np.ndarray:
    """One colour per target, hue from its direction and lightness from its distance."""
    angle = np.arctan2(targets[:, 1], targets[:, 0])
    radius = np.linalg.norm(targets, axis=1)
    value = 0.45 + 0.5 * radius / max(radius.max(), 1e-12)
    hsv = np.stack([(angle / (2 * np.pi)) % 1.0, np.full_like(angle, 0.8), value], axis=1)
    return hsv_to_rgb(hsv)


def _condition_table(trials: Trials):
    """Sorted conditions, their (x, y) targets and held-out flags."""
    condition = trials.info("condition")
    conditions = np.unique(condition)
    first = np.array([np.flatnonzero(condition == c)[0] for c in conditions])
    targets = np.stack([trials.info("target_x")[first], trials.info("target_y")[first]], axis=1)
    heldout = (
        trials.trial_info["heldout"][first].astype(bool)
        if "heldout" in trials.trial_info
        else np.zeros(len(conditions), dtype=bool)
    )
    return conditions, targets, heldout


def plot_reaching(
    trials: Trials,
    n_units: int = 4,
    *,
    max_trials_per_target: int = 10,
    field: str = "truth",
    random_state: int = 0,
):
    """Hand trajectories coloured by target (held-out targets ringed in black) and the mean
    response per target of ``n_units`` neurons.

    Parameters
    ----------
    trials : Trials
        Reaching trials with ``behavior`` (hand x, y first) and ``trial_info`` ``condition,
        target_x, target_y`` (``heldout`` optional).
    n_units : int
        Number of neurons whose per-target mean responses are drawn (the most target-tuned).
    max_trials_per_target : int
        Trajectories drawn per target.
    field : str
        ``"truth"`` (rates) or ``"activity"`` for the response panels; falls back to activity.
    random_state : int
        Seed choosing which trials are drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """

    if trials.behavior is None:
        raise ValueError("trials has no behavior; plot_reaching needs hand positions")
    if n_units < 0:
        raise ValueError(f"n_units must be >= 0; got {n_units}")
    conditions, targets, heldout = _condition_table(trials)
    colours = _target_colours(targets)
    n_units = min(n_units, trials.n_neurons)
    figure = Figure(figsize=(4.5 + 2.6 * max(1, (n_units + 1) // 2), 4.5), layout="constrained")
    grid = figure.add_gridspec(2, 2 + max(1, (n_units + 1) // 2))
    _draw_paths(
        figure.add_subplot(grid[:, :2]),
        trials,
        conditions,
        targets,
        heldout,
        colours,
        max_trials_per_target,
        np.random.default_rng(random_state),
    )
    rates = trials.truth if field == "truth" and trials.truth is not None else trials.activity
    _draw_units(figure, grid, trials, rates, conditions, colours, n_units)
    return figure


def _draw_paths(axes, trials, conditions, targets, heldout, colours, max_per_target, rng):
    condition = trials.info("condition")
    for c, target, colour, is_heldout in zip(conditions, targets, colours, heldout, strict=True):
        members = np.flatnonzero(condition == c)
        chosen = rng.choice(members, size=min(max_per_target, len(members)), replace=False)
        for trial in chosen:
            axes.plot(
                trials.behavior[trial, :, 0],
                trials.behavior[trial, :, 1],
                color=colour,
                linewidth=0.7,
                alpha=0.7,
            )
        axes.scatter(
            *target,
            s=90,
            color=colour,
            edgecolors="black" if is_heldout else "none",
            linewidths=2.0,
            zorder=3,
        )
    axes.set_aspect("equal")
    axes.set_xlabel("hand x (cm)")
    axes.set_ylabel("hand y (cm)")
    axes.set_title("hand paths (ringed: held-out targets)")


def _draw_units(figure, grid, trials, rates, conditions, colours, n_units):
    """Per-target mean response of the most target-modulated neurons."""
    condition = trials.info("condition")
    means = np.stack([rates[condition == c].mean(axis=0) for c in conditions])  # (C, T, N)
    modulation = means.mean(axis=1).std(axis=0) / (means.mean(axis=(0, 1)) + 1e-9)
    time_s = np.arange(trials.n_time) * trials.bin_size_s
    for panel, neuron in enumerate(np.argsort(modulation)[::-1][:n_units]):
        axes = figure.add_subplot(grid[panel % 2, 2 + panel // 2])
        for c_index, colour in enumerate(colours):
            axes.plot(time_s, means[c_index, :, neuron], color=colour, linewidth=0.8)
        axes.set_title(f"neuron {neuron}", fontsize=9)
        axes.set_xlabel("time (s)", fontsize=8)
        axes.set_ylabel("rate (Hz)", fontsize=8)
        axes.tick_params(labelsize=7)
