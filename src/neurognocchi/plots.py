"""Figures of datasets: `plot_reaching` shows a reaching dataset (hand paths by target, the
mean responses of the most target-tuned units).

The comparison figures of the evaluation protocol are in `neurognocchi.evaluation.figures`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure

from neurognocchi._checks import InvalidArgumentError, check_int
from neurognocchi.data.trials import Trials

__all__ = ["plot_reaching"]


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
        raise InvalidArgumentError("trials has no behavior; plot_reaching needs hand positions")
    n_units = check_int(n_units, "n_units", minimum=0)
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
