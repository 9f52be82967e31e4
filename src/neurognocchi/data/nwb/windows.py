"""Trials cut out of a recording: windows around alignment times, binned and smoothed.

:func:`trialize` is the part of :func:`~neurognocchi.data.nwb.load_nwb` that does not touch
the file: given spike times, the units' observation intervals, behavioural series and
alignment times, it keeps the windows that every unit observes and whose behaviour has no
gaps, counts spikes in them and samples the behaviour at the bin centres. Trials it drops are
counted by reason in one warning; when none is left the error says why and, if windows fell
outside ``obs_intervals``, which window is observed (:func:`observed_window`).
"""

from __future__ import annotations

import warnings

import numpy as np

from neurognocchi._checks import InvalidArgumentError
from neurognocchi.data.preprocess import bin_spike_times, gaussian_smooth

__all__ = ["interpolate_series", "observed_window", "observed_window_ms", "trialize"]


def interpolate_series(timestamps: np.ndarray, values: np.ndarray, times: np.ndarray):
    """Linear interpolation of ``values`` (n, d) at ``times`` (any shape) -> (*times.shape, d).

    Times farther than one sample period from any sample (before the start, after the end,
    inside a gap of the timestamps) are NaN; NaN samples propagate, so gaps marked by NaN
    values stay gaps.
    """
    period = np.median(np.diff(timestamps)) if len(timestamps) > 1 else np.inf
    flat = times.ravel()
    hi = np.clip(np.searchsorted(timestamps, flat), 1, len(timestamps) - 1)
    lo = hi - 1
    span = timestamps[hi] - timestamps[lo]
    weight = np.clip((flat - timestamps[lo]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
    near_lo, near_hi = weight <= 1e-6, weight >= 1 - 1e-6
    out = (1 - weight)[:, None] * values[lo] + weight[:, None] * values[hi]
    out[near_lo] = values[lo[near_lo]]  # exactly at a sample: take it, even beside a gap
    out[near_hi] = values[hi[near_hi]]
    distance = np.minimum(np.abs(flat - timestamps[lo]), np.abs(timestamps[hi] - flat))
    bridged = (span > 1.5 * period) & ~near_lo & ~near_hi
    out[(distance > period) | bridged] = np.nan
    return out.reshape(*times.shape, values.shape[1])


def _check_window(window_s, bin_size_s: float) -> int:
    """Number of bins of ``window_s``; errors name the arguments."""
    if not np.isfinite(bin_size_s) or bin_size_s <= 0:
        raise InvalidArgumentError(
            f"bin_size_s must be a positive number of seconds; got {bin_size_s!r}"
        )
    if len(window_s) != 2 or not window_s[1] > window_s[0]:
        raise InvalidArgumentError(
            f"window_s must be (start, stop) with stop > start; got {window_s!r}"
        )
    n_exact = (window_s[1] - window_s[0]) / bin_size_s
    if abs(n_exact - round(n_exact)) > 1e-6:
        raise InvalidArgumentError(
            f"window_s {tuple(window_s)} is not a whole number of bins of bin_size_s={bin_size_s}"
        )
    return round(n_exact)


def _bin_trials(spike_times, starts: np.ndarray, n_bins: int, bin_size_s: float) -> np.ndarray:
    """Counts (n_trials, n_bins, n_units) in the windows ``[start, start + n_bins * bin)``."""
    stops = starts + n_bins * bin_size_s
    # Index ranges of each unit's spikes in each window, found once per unit: binning then
    # only touches the spikes of a trial instead of a whole session per trial.
    lo = np.stack([np.searchsorted(times, starts - bin_size_s) for times in spike_times], 1)
    hi = np.stack([np.searchsorted(times, stops + bin_size_s) for times in spike_times], 1)
    counts = np.empty((len(starts), n_bins, len(spike_times)), dtype=np.int32)
    for trial, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        window = [times[a:b] for times, a, b in zip(spike_times, lo[trial], hi[trial], strict=True)]
        counts[trial] = bin_spike_times(window, t_start=start, t_stop=stop, bin_size_s=bin_size_s)
    return counts


def _observed(intervals, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Which windows lie inside an observation interval of every unit: bool (n_trials,)."""
    ok = np.ones(len(starts), dtype=bool)
    for unit_intervals in {part.tobytes(): part for part in intervals or []}.values():
        inside = (starts[:, None] >= unit_intervals[None, :, 0] - 1e-9) & (
            stops[:, None] <= unit_intervals[None, :, 1] + 1e-9
        )
        ok &= inside.any(axis=1)
    return ok


def trialize(spike_times, intervals, series, align_times, *, window_s, bin_size_s, smooth_sigma_s):
    """Cut windows around ``align_times``, keeping those every unit observes with no gap in
    the behaviour; warns with the counts dropped, raises when none is left.

    Parameters
    ----------
    spike_times : list of 1-D arrays
        Sorted spike times (s) of each unit.
    intervals : list of (k, 2) arrays or None
        Each unit's observation intervals (None: observed throughout).
    series : dict
        ``name -> (timestamps, values (n, d), channel names)`` of the behaviour to sample.
    align_times : array (n,)
        Alignment times (s); NaN: no alignment time (dropped).
    window_s, bin_size_s, smooth_sigma_s
        As in :func:`~neurognocchi.data.nwb.load_nwb`.

    Returns
    -------
    counts, activity, behavior, names, keep
        Counts and activity (Hz) ``(n_kept, n_bins, n_units)``, behaviour ``(n_kept, n_bins,
        n_channels)`` or None, its channel names, and which alignment times were kept.
    """
    n_bins = _check_window(window_s, bin_size_s)
    align_times = np.asarray(align_times, dtype=np.float64)
    starts = align_times + window_s[0]
    keep = np.isfinite(align_times)
    dropped = {"with no alignment time (NaN)": int(np.sum(~keep))}
    keep[keep] &= _observed(intervals, starts[keep], starts[keep] + n_bins * bin_size_s)
    dropped["outside the units' obs_intervals"] = int(np.sum(~keep)) - sum(dropped.values())
    centres = starts[:, None] + (np.arange(n_bins) + 0.5) * bin_size_s  # (n, T)
    behavior, names = [], []
    for name, (timestamps, values, channel_names) in series.items():
        at = np.where(keep[:, None], centres, 0.0)  # (n, T)
        sampled = interpolate_series(timestamps, values, at)  # (n, T, d)
        gaps = keep & ~np.isfinite(sampled).all(axis=(1, 2))
        dropped[f"with gaps in {name!r}"] = int(np.sum(gaps))
        keep &= ~gaps
        behavior.append(sampled)
        names.extend(channel_names)
    _report_dropped(dropped, int(keep.sum()), window_s, intervals, align_times)
    counts = _bin_trials(spike_times, starts[keep], n_bins, bin_size_s)
    activity = counts / bin_size_s
    if smooth_sigma_s:
        activity = gaussian_smooth(counts, sigma_s=smooth_sigma_s, bin_size_s=bin_size_s)
        activity = activity / bin_size_s
    behavior = np.concatenate(behavior, axis=-1)[keep] if behavior else None
    return counts, activity, behavior, names, keep


def _report_dropped(dropped: dict, n_kept: int, window_s, intervals, align_times) -> None:
    """Warn once with the counts of trials dropped for each reason, or raise when none is
    left; either way, when windows fell outside ``obs_intervals``, say which window is
    observed around the alignment times."""
    n = len(align_times)
    reasons = "; ".join(f"{count} {reason}" for reason, count in dropped.items() if count)
    if dropped["outside the units' obs_intervals"]:
        reasons += _observed_window_hint(intervals, align_times)
    if n_kept == 0:
        raise InvalidArgumentError(
            f"no window of {tuple(window_s)} s around the {n} alignment times can be read: "
            f"{reasons or 'there are none'}"
        )
    if n_kept < n:
        warnings.warn(
            f"{n - n_kept} of {n} trials dropped: {reasons} (trial_info['trial_id'] says "
            "which remain)",
            UserWarning,
            stacklevel=4,
        )


def observed_window(intervals, align_times: np.ndarray) -> tuple[tuple[float, float], int]:
    """The widest window (start, stop), in seconds relative to the alignment times, that every
    unit observes around every alignment time it observes at all, and how many alignment times
    that is (0, with window (nan, nan), when none is observed by every unit).

    Examples
    --------
    >>> trial_windows = [np.array([[0.0, 1.0], [2.0, 3.0]])]  # one unit, two observed spans
    >>> observed_window(trial_windows, np.array([0.25, 2.5, 9.0]))
    ((-0.25, 0.5), 2)
    """
    times = np.asarray(align_times, dtype=np.float64)
    lo, hi = np.full(len(times), -np.inf), np.full(len(times), np.inf)
    for unit_intervals in {part.tobytes(): part.reshape(-1, 2) for part in intervals}.values():
        inside = (times[:, None] >= unit_intervals[:, 0]) & (times[:, None] <= unit_intervals[:, 1])
        which = inside.argmax(axis=1)
        observed = inside.any(axis=1)  # NaN times are never inside: they stay unobserved
        lo = np.where(observed, np.maximum(lo, unit_intervals[which, 0] - times), np.nan)
        hi = np.where(observed, np.minimum(hi, unit_intervals[which, 1] - times), np.nan)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return (np.nan, np.nan), 0
    return (float(lo[ok].max()), float(hi[ok].min())), int(ok.sum())


def observed_window_ms(intervals, align_times: np.ndarray) -> tuple[tuple[float, float], int]:
    """:func:`observed_window` rounded inwards to whole milliseconds (a window one can type)."""
    (start, stop), count = observed_window(intervals, align_times)
    if count:
        start, stop = np.ceil(start * 1e3 - 1e-6) / 1e3, np.floor(stop * 1e3 + 1e-6) / 1e3
    return (float(start) + 0.0, float(stop) + 0.0), count  # + 0.0: no "-0" in messages


def _observed_window_hint(intervals, align_times) -> str:
    (start, stop), count = observed_window_ms(intervals, align_times)
    if count == 0:
        return " (no alignment time lies inside every unit's obs_intervals)"
    return (
        f" (the window ({start:g}, {stop:g}) s is observed around {count} of them: pass "
        f"window_s inside it, or --window {start:g} {stop:g})"
    )
