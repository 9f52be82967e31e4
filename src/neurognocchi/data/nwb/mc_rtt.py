"""Trialise a continuous random-target reaching session (NLB MC_RTT, DANDI 000129).

MC_RTT has no trials table: one reach is one period of constant target, aligned to movement
onset (the low-passed finger speed crossing a fraction of its peak). The reach periods are
found here, the onsets by :mod:`~.onsets`; binning, smoothing and behaviour sampling are
:func:`~.read.load_nwb`'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from neurognocchi._checks import check_int, check_real
from neurognocchi.data.nwb.onsets import ONSET_NOTES, movement_onsets, smoothed_speed, uniform_trace
from neurognocchi.data.nwb.read import load_nwb, open_nwb, read_named_series
from neurognocchi.data.nwb.windows import interpolate_series
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


def _grid_condition(target: np.ndarray, grid_size: int) -> np.ndarray:
    """Grid cell ``iy * grid_size + ix`` of each target (n, 2), the grid spanning the targets'
    range (as `grid_targets` numbers its conditions)."""
    low, high = target.min(axis=0), target.max(axis=0)
    scale = np.where(high > low, high - low, 1.0)
    cell = np.clip(np.rint((target - low) / scale * (grid_size - 1)), 0, grid_size - 1)
    return (cell[:, 1] * grid_size + cell[:, 0]).astype(np.int64)


class _Reaches(NamedTuple):
    """The complete reaches of a session, one row each."""

    onset: np.ndarray  # (n,) session time; NaN where none was found
    note: np.ndarray  # (n,) str: "" or a key of ONSET_NOTES
    start: np.ndarray  # (n, 2) finger position at onset; NaN where none was found
    target: np.ndarray  # (n, 2)
    target_on: np.ndarray  # (n,) session time the target appeared

    def take(self, index: np.ndarray) -> _Reaches:
        """The reaches at ``index`` (integer array)."""
        return _Reaches(*(field[index] for field in self))


def _reach_events(
    nwbfile,
    *,
    position,
    velocity,
    target,
    fraction,
    min_period_s,
    cutoff_hz,
    max_gap_s,
    min_peak_fraction,
) -> _Reaches:
    """Target periods, onsets and start positions of the complete reaches in the file."""
    series = read_named_series(nwbfile, [target, position])
    target_times, target_values, _ = series[target]
    first, last = _reach_periods(target_times, target_values[:, :2], min_period_s=min_period_s)
    position_times, position_values, _ = series[position]
    times, values = position_times, position_values
    if velocity is not None:
        times, values = read_named_series(nwbfile, [velocity])[velocity][:2]
    grid, speed = smoothed_speed(
        times, values, is_position=velocity is None, cutoff_hz=cutoff_hz, max_gap_s=max_gap_s
    )
    # Periods are found on the target's clock; onsets on the speed's grid (usually the same).
    a = np.searchsorted(grid, target_times[first])
    b = np.searchsorted(grid, target_times[last], side="right") - 1
    onsets = movement_onsets(
        grid, speed, a, b, fraction=fraction, min_peak_fraction=min_peak_fraction
    )
    # The start is the unfiltered position (short gaps bridged): exact on a clean trace.
    position_grid, bridged = uniform_trace(
        position_times, position_values[:, :2], max_gap_s=max_gap_s
    )
    found = np.isfinite(onsets.times)
    start = np.full((len(first), 2), np.nan)
    start[found] = interpolate_series(position_grid, bridged, onsets.times[found])
    lost = found & ~np.isfinite(start).all(axis=1)  # a gap in position, not in `velocity`
    start[lost] = np.nan
    return _Reaches(
        np.where(lost, np.nan, onsets.times),
        np.where(lost, "gap", onsets.notes),
        start,
        target_values[first, :2],
        target_times[first],
    )


def _align_times(reaches: _Reaches) -> np.ndarray:
    """The onsets; where none was found, the target onset plus the others' median latency."""
    found = np.isfinite(reaches.onset)
    if not found.any():
        notes, counts = np.unique(reaches.note, return_counts=True)
        reasons = "; ".join(f"{c} {ONSET_NOTES[n]}" for n, c in zip(notes, counts, strict=True))
        raise ValueError(
            f"found no movement onset in any of the {len(found)} complete reaches ({reasons}); "
            "see speed_cutoff_hz, max_gap_s and min_peak_fraction"
        )
    latency = np.median(reaches.onset[found] - reaches.target_on[found])
    return np.where(found, reaches.onset, reaches.target_on + latency)


def _reach_info(reaches: _Reaches, align_times: np.ndarray, grid_size: int) -> dict:
    """The ``trial_info`` columns of the reaches (see :func:`load_mc_rtt`)."""
    reach = reaches.target - reaches.start  # (n, 2)
    return dict(
        target_x=reaches.target[:, 0],
        target_y=reaches.target[:, 1],
        start_x=reaches.start[:, 0],
        start_y=reaches.start[:, 1],
        reach_x=reach[:, 0],
        reach_y=reach[:, 1],
        reach_angle=np.arctan2(reach[:, 1], reach[:, 0]),
        condition=_grid_condition(reaches.target, grid_size),
        target_on_time=reaches.target_on - align_times,
        move_onset_time=align_times,
        onset_found=np.isfinite(reaches.onset),
        onset_note=reaches.note,
    )


def load_mc_rtt(
    path: str | os.PathLike,
    *,
    window_s: Sequence[float] = (-0.2, 0.5),
    bin_size_s: float = 0.02,
    smooth_sigma_s: float | None = 0.04,
    onset_fraction: float = 0.3,
    speed_cutoff_hz: float | None = 10.0,
    max_gap_s: float = 0.05,
    min_peak_fraction: float = 0.1,
    min_period_s: float = 0.1,
    grid_size: int = 8,
    behavior: Sequence[str] | None = None,
    units: str = "all",
    position: str = "finger_pos",
    velocity: str | None = None,
    target: str = "target_pos",
) -> Trials:
    """Trialize a continuous random-target reaching session (NLB MC_RTT, DANDI 000129).

    One reach is one period of constant target. Reaches that begin or end at a gap in the
    target (NaN or missing samples) or at either end of the recording are incomplete and
    dropped. Each reach is aligned to movement onset: the first sample after the last one,
    before the period's peak finger speed, at which the speed is below ``onset_fraction`` of
    that peak. The speed is the derivative of the finger position resampled on a uniform grid
    at its sample period (1 ms for NLB files), with dropouts up to ``max_gap_s`` bridged
    linearly, and low-passed by a zero-phase 4th-order Butterworth filter at
    ``speed_cutoff_hz`` (see :mod:`~neurognocchi.data.nwb.onsets` for why): on a raw 1 kHz
    speed, 0.05 mm of position noise delays onsets by tens of ms.

    A reach whose onset cannot be found is kept and flagged (``onset_found`` False,
    ``onset_note`` says why): its finger trace has a gap longer than ``max_gap_s``, its peak
    speed is below ``min_peak_fraction`` of the median peak (no movement), or its speed never
    falls below the threshold before the peak (already moving). Its window is aligned at the
    target onset plus the median onset latency of the other reaches; its start and reach
    columns are NaN. Select ``trials[trials.trial_info["onset_found"]]`` to drop them.
    Windows outside the units' observation intervals or with gaps in the sampled behaviour
    are dropped (as by :func:`load_nwb`; pass ``behavior=()`` to keep windows with dropouts).

    A file with a trials table holding ``move_onset_time`` (MC_Maze style) is aligned on that
    column instead (see :func:`load_nwb`).

    Parameters
    ----------
    path : path
        An ``.nwb`` file.
    window_s, bin_size_s, smooth_sigma_s, behavior, units : as for :func:`load_nwb`.
    onset_fraction : float
        Fraction of the peak speed that marks movement onset, in (0, 1).
    speed_cutoff_hz : float or None
        Cut-off (-6 dB) of the zero-phase low-pass applied to the finger position (or to
        ``velocity``) before the speed is thresholded, below the Nyquist frequency; None
        thresholds the raw speed.
    max_gap_s : float
        Longest dropout of the finger trace (NaN values or missing samples), in seconds,
        bridged by linear interpolation; longer gaps make a reach's onset unusable.
    min_peak_fraction : float
        A reach whose peak speed is below this fraction of the median peak over the reaches
        has no onset (``"no_movement"``), in [0, 1).
    min_period_s : float
        Shorter constant-target periods are not reaches (e.g. upsampling transients).
    grid_size : int
        Targets lie on a ``grid_size x grid_size`` grid spanning their range (8 for MC_RTT);
        ``condition`` is the grid cell ``iy * grid_size + ix``.
    position, target : str
        Names of the finger position and target position series.
    velocity : str, optional
        Name of a finger velocity series (e.g. ``"finger_vel"``) to low-pass and threshold
        instead of the derivative of ``position``. The default, None, differentiates the
        position: dropouts are bridged in position, and the onsets do not depend on how the
        file's velocity was derived (a derivative taken on jittered timestamps leaks noise
        into low frequencies).

    Returns
    -------
    Trials
        ``trial_info``: ``target_x, target_y``, ``start_x, start_y`` (finger at onset),
        ``reach_x, reach_y`` (target - start), ``reach_angle`` (radians), ``condition``,
        ``target_on_time`` (relative to the alignment, s), ``move_onset_time`` (session time
        of the alignment, s: the onset, or its estimate where none was found),
        ``onset_found`` (bool), ``onset_note`` (``""`` or a key of
        :data:`~neurognocchi.data.nwb.onsets.ONSET_NOTES`: ``"gap"``, ``"no_movement"``,
        ``"moving_at_target_on"``) and ``reach_id`` (index among complete reaches).

    Raises
    ------
    ValueError
        For bad arguments, a file without complete reaches, or one where no onset is found.
    """
    check_real(onset_fraction, "onset_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    if speed_cutoff_hz is not None:
        check_real(speed_cutoff_hz, "speed_cutoff_hz", low=0.0, low_open=True)
    check_real(max_gap_s, "max_gap_s", low=0.0)
    check_real(min_peak_fraction, "min_peak_fraction", low=0.0, high=1.0, high_open=True)
    check_real(min_period_s, "min_period_s", low=0.0)
    check_int(grid_size, "grid_size", minimum=1)
    with open_nwb(path) as nwbfile:
        has_onsets = nwbfile.trials is not None and "move_onset_time" in nwbfile.trials.colnames
        if not has_onsets:
            reaches = _reach_events(
                nwbfile,
                position=position,
                velocity=velocity,
                target=target,
                fraction=onset_fraction,
                min_period_s=min_period_s,
                cutoff_hz=speed_cutoff_hz,
                max_gap_s=max_gap_s,
                min_peak_fraction=min_peak_fraction,
            )
    if has_onsets:
        return load_nwb(
            path,
            align="move_onset_time",
            window_s=window_s,
            bin_size_s=bin_size_s,
            smooth_sigma_s=smooth_sigma_s,
            behavior=behavior,
            units=units,
        )
    if len(reaches.onset) == 0:
        raise ValueError(f"found no complete constant-{target} periods (reaches) in the file")
    align_times = _align_times(reaches)
    trials = load_nwb(
        path,
        window_s=window_s,
        bin_size_s=bin_size_s,
        smooth_sigma_s=smooth_sigma_s,
        behavior=behavior,
        units=units,
        align_times=align_times,
    )
    kept = trials.trial_info.pop("trial_id")
    info = _reach_info(reaches.take(kept), align_times[kept], grid_size)
    lowpass = f", low-passed at {speed_cutoff_hz:g} Hz" if speed_cutoff_hz is not None else ""
    window = f"[{window_s[0]:g}, {window_s[1]:g}] s"
    align = f"movement onset ({onset_fraction:g} of peak speed{lowpass}) {window}"
    return trials.replace(trial_info=trials.trial_info | info | {"reach_id": kept}, align=align)
