"""Trialise a continuous random-target reaching session (NLB MC_RTT, DANDI 000129).

MC_RTT has no trials table: one reach is one period of constant target, aligned to movement
onset (the finger speed crossing a fraction of its peak). The reach periods and onsets are
found here; binning, smoothing and behaviour sampling are :func:`~.read.load_nwb`'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from neurognocchi._checks import check_int, check_real
from neurognocchi.data.nwb.read import (
    find_series,
    interpolate_series,
    load_nwb,
    open_nwb,
    read_named_series,
    read_series,
)
from neurognocchi.data.trials import Trials

__all__ = ["load_mc_rtt"]


def _reach_periods(timestamps, target, *, min_period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """First and last sample index of each complete constant-target period.

    A period is complete when it opens with a change of a finite target and closes with
    another: periods that begin at the start of the recording or after a gap (NaN values or
    missing timestamps), or end at one, are incomplete. Periods shorter than
    ``min_period_s`` (e.g. the intermediate values of an upsampled target switch) are dropped.
    """
    n = len(timestamps)
    finite = np.isfinite(target).all(axis=1)
    period = np.median(np.diff(timestamps))
    gap = np.diff(timestamps) > 1.5 * period  # (n - 1,): between sample i and i + 1
    tolerance = 1e-9 * (1.0 + np.nanmax(np.abs(target)))
    with np.errstate(invalid="ignore"):
        changed = (np.abs(np.diff(target, axis=0)) > tolerance).any(axis=1)
    boundary = gap | changed | (finite[:-1] != finite[1:])
    first = np.flatnonzero(np.r_[True, boundary])
    last = np.r_[first[1:] - 1, n - 1]
    before, after = np.maximum(first - 1, 0), np.minimum(last + 1, n - 1)
    opened = (first > 0) & finite[before] & ~gap[np.minimum(before, n - 2)]
    closed = (last < n - 1) & finite[after] & ~gap[np.minimum(last, n - 2)]
    long_enough = timestamps[last] - timestamps[first] + period >= min_period_s
    keep = finite[first] & opened & closed & long_enough
    return first[keep], last[keep]


def _movement_onsets(timestamps, speed, first, last, *, fraction: float) -> np.ndarray:
    """Per period: the time speed last rises through ``fraction`` of the period's peak speed
    before that peak (NaN when the period's speed has gaps)."""
    onsets = np.full(len(first), np.nan)
    for k, (a, b) in enumerate(zip(first, last, strict=True)):
        segment = speed[a : b + 1]
        if len(segment) < 2 or not np.isfinite(segment).all():
            continue
        peak = int(np.argmax(segment))
        below = np.flatnonzero(segment[:peak] < fraction * segment[peak])
        onsets[k] = timestamps[a + (below[-1] + 1 if below.size else 0)]
    return onsets


def _grid_condition(target: np.ndarray, grid_size: int) -> np.ndarray:
    """Grid cell ``iy * grid_size + ix`` of each target (n, 2), the grid spanning the targets'
    range (as `grid_targets` numbers its conditions)."""
    low, high = target.min(axis=0), target.max(axis=0)
    scale = np.where(high > low, high - low, 1.0)
    cell = np.clip(np.rint((target - low) / scale * (grid_size - 1)), 0, grid_size - 1)
    return (cell[:, 1] * grid_size + cell[:, 0]).astype(np.int64)


def _reach_events(nwbfile, *, position, velocity, target, fraction, min_period_s):
    """Movement onsets, targets (n, 2) and target-onset times of the complete reaches, and the
    position series (timestamps, values) for start positions."""
    series = read_named_series(nwbfile, [target, position])
    target_times, target_values, _ = series[target]
    first, last = _reach_periods(target_times, target_values[:, :2], min_period_s=min_period_s)
    position_times, position_values, _ = series[position]
    available = find_series(nwbfile)
    if velocity in available:
        speed_times, values, _ = read_series(available[velocity], velocity)
    else:  # differentiate position when the file has no velocity
        speed_times, values = position_times, np.gradient(position_values[:, :2], position_times,
                                                          axis=0)  # fmt: skip
    speed = np.hypot(values[:, 0], values[:, 1])
    # Periods are found on the target's clock; onsets on the speed's (usually the same).
    a = np.searchsorted(speed_times, target_times[first])
    b = np.searchsorted(speed_times, target_times[last], side="right") - 1
    onsets = _movement_onsets(speed_times, speed, a, b, fraction=fraction)
    return onsets, target_values[first, :2], target_times[first], (position_times, position_values)


def load_mc_rtt(
    path: str | os.PathLike,
    *,
    window_s: Sequence[float] = (-0.2, 0.5),
    bin_size_s: float = 0.02,
    smooth_sigma_s: float | None = 0.04,
    onset_fraction: float = 0.3,
    min_period_s: float = 0.1,
    grid_size: int = 8,
    behavior: Sequence[str] | None = None,
    units: str = "all",
    position: str = "finger_pos",
    velocity: str = "finger_vel",
    target: str = "target_pos",
) -> Trials:
    """Trialize a continuous random-target reaching session (NLB MC_RTT, DANDI 000129).

    One reach is one period of constant target. Reaches that begin or end at a gap (NaN
    behaviour or missing samples) or at either end of the recording are incomplete and
    dropped. Each reach is aligned to movement onset: the last time before the period's peak
    finger speed at which the speed rises through ``onset_fraction`` of that peak. Windows
    outside the units' observation intervals or with gaps in behaviour are dropped.

    A file with a trials table holding ``move_onset_time`` (MC_Maze style) is aligned on that
    column instead (see :func:`load_nwb`).

    Parameters
    ----------
    path : path
        An ``.nwb`` file.
    window_s, bin_size_s, smooth_sigma_s, behavior, units : as for :func:`load_nwb`.
    onset_fraction : float
        Fraction of the peak speed that marks movement onset, in (0, 1).
    min_period_s : float
        Shorter constant-target periods are not reaches (e.g. upsampling transients).
    grid_size : int
        Targets lie on a ``grid_size x grid_size`` grid spanning their range (8 for MC_RTT);
        ``condition`` is the grid cell ``iy * grid_size + ix``.
    position, velocity, target : str
        Names of the finger position, finger velocity (differentiated from position when
        absent) and target position series.

    Returns
    -------
    Trials
        ``trial_info``: ``target_x, target_y``, ``start_x, start_y`` (finger at onset),
        ``reach_x, reach_y`` (target - start), ``reach_angle`` (radians), ``condition``,
        ``target_on_time`` (relative to onset, s), ``move_onset_time`` (session time, s),
        ``reach_id`` (index among complete reaches).
    """
    check_real(onset_fraction, "onset_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    check_real(min_period_s, "min_period_s", low=0.0)
    check_int(grid_size, "grid_size", minimum=1)
    with open_nwb(path) as nwbfile:
        has_onsets = nwbfile.trials is not None and "move_onset_time" in nwbfile.trials.colnames
        if not has_onsets:
            onsets, targets, target_on, (pos_times, pos_values) = _reach_events(
                nwbfile, position=position, velocity=velocity, target=target,
                fraction=onset_fraction, min_period_s=min_period_s,
            )  # fmt: skip
    if has_onsets:
        return load_nwb(
            path, align="move_onset_time", window_s=window_s, bin_size_s=bin_size_s,
            smooth_sigma_s=smooth_sigma_s, behavior=behavior, units=units,
        )  # fmt: skip
    if len(onsets) == 0:
        raise ValueError(f"found no complete constant-{target} periods (reaches) in the file")
    trials = load_nwb(
        path, window_s=window_s, bin_size_s=bin_size_s, smooth_sigma_s=smooth_sigma_s,
        behavior=behavior, units=units, align_times=onsets,
    )  # fmt: skip
    kept = trials.trial_info.pop("trial_id")
    onsets, targets, target_on = onsets[kept], targets[kept], target_on[kept]
    start = interpolate_series(pos_times, pos_values[:, :2], onsets)  # (n, 2)
    reach = targets - start
    info = dict(
        target_x=targets[:, 0], target_y=targets[:, 1], start_x=start[:, 0], start_y=start[:, 1],
        reach_x=reach[:, 0], reach_y=reach[:, 1], reach_angle=np.arctan2(reach[:, 1], reach[:, 0]),
        condition=_grid_condition(targets, grid_size), target_on_time=target_on - onsets,
        move_onset_time=onsets, reach_id=kept,
    )  # fmt: skip
    window = f"[{window_s[0]:g}, {window_s[1]:g}] s"
    align = f"movement onset ({onset_fraction:g} of peak speed) {window}"
    trials = trials._replace(trial_info=trials.trial_info | info, align=align)
    return trials[np.isfinite(start).all(axis=1)]  # a start inside a gap of the position
