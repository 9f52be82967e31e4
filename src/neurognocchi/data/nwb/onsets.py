"""Movement onsets in a noisy, gappy, irregularly sampled finger trace (for MC_RTT reaches).

Thresholding the raw speed fails on a real trace: differentiating position multiplies its sensor
noise by the sample rate (0.05 mm of noise at 1 kHz is about 35 mm/s of noise on each velocity
axis, with spikes past 100 mm/s, more than a short reach's peak), so the peak is a noise spike
and the last sub-threshold sample one of the noise's dips, tens to hundreds of ms late. The
steps here, in order:

1. :func:`uniform_trace`: resample onto a uniform grid at the median sample period (1 ms for
   NLB files) by linear interpolation, bridging dropouts (NaN runs or missing samples) of at
   most ``max_gap_s``; longer gaps stay NaN (unusable).
2. :func:`lowpass`: a zero-phase low-pass filter (4th-order Butterworth run forwards and
   backwards, :func:`scipy.signal.sosfiltfilt`; -6 dB at the cut-off, 10 Hz by default in
   :func:`~.mc_rtt.load_mc_rtt`) on the position, then central differences for the velocity
   (:func:`smoothed_speed`). Zero phase, so onsets are not delayed; 10 Hz keeps the reaches (a
   0.3-0.7 s minimum-jerk reach has its speed below about 5 Hz) and removes differentiated
   noise, whose power grows as frequency squared up to the Nyquist frequency: 0.05 mm of
   position noise leaves about 0.2 mm/s of velocity noise. On a clean trace onsets move by
   at most one 1 ms sample; with 0.05 mm of noise they stay within a few ms
   (``benchmarks/bench_onsets.py``).
3. :func:`movement_onsets`: per reach period, the first sample after the last one below a
   fraction of the period's peak speed, or a note saying why there is none (:data:`ONSET_NOTES`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurognocchi._checks import InvalidArgumentError

__all__ = [
    "ONSET_NOTES",
    "Onsets",
    "lowpass",
    "movement_onsets",
    "smoothed_speed",
    "uniform_trace",
]

ONSET_NOTES = {
    "": "onset found",
    "gap": "the period's finger trace has a gap longer than max_gap_s",
    "no_movement": "the period's peak speed is below min_peak_fraction of the median peak",
    "moving_at_target_on": "the speed never falls below the threshold between the period's "
    "start and its peak (the finger was already moving when the target appeared)",
}
_FILTER_ORDER = 4  # per pass; forwards and backwards make it 8th-order in magnitude


class Onsets(NamedTuple):
    """Movement onset of each reach period.

    Attributes
    ----------
    times : ndarray (n_periods,)
        Session time of the onset (a sample of the uniform grid); NaN where none was found.
    notes : ndarray of str (n_periods,)
        ``""`` where found, else a key of :data:`ONSET_NOTES`.
    peak_speed : ndarray (n_periods,)
        The period's peak smoothed speed; NaN for a ``"gap"``.
    """

    times: np.ndarray
    notes: np.ndarray
    peak_speed: np.ndarray


def uniform_trace(timestamps: np.ndarray, values: np.ndarray, *, max_gap_s: float):
    """Resample ``values`` (n, d) onto a uniform grid at the median sample period.

    Linear interpolation between finite samples. A grid time between two finite samples more
    than ``max_gap_s`` plus 1.5 sample periods apart (a dropout longer than ``max_gap_s``: NaN
    values or missing samples) is NaN, as are times before the first or after the last finite
    sample. A grid time that falls on a finite sample takes its value.

    Returns
    -------
    grid : ndarray (m,)
        ``timestamps[0] + k * period``, up to the last timestamp.
    values : ndarray (m, d)
    """
    period = float(np.median(np.diff(timestamps)))
    n_grid = int(np.floor((timestamps[-1] - timestamps[0]) / period + 1e-6)) + 1
    grid = timestamps[0] + np.arange(n_grid) * period  # (m,)
    if n_grid == len(timestamps) and np.abs(grid - timestamps).max() <= 1e-6 * period:
        grid = timestamps.copy()  # already uniform: keep the file's sample times exactly
    finite = np.isfinite(values).all(axis=1)
    times, kept = timestamps[finite], values[finite]
    out = np.full((n_grid, values.shape[1]), np.nan)
    if len(times) < 2:
        return grid, out
    for axis in range(values.shape[1]):
        out[:, axis] = np.interp(grid, times, kept[:, axis])
    before = np.searchsorted(times, grid + 1e-9 * period, side="right") - 1  # last sample <= t
    after = np.searchsorted(times, grid - 1e-9 * period, side="left")  # first sample >= t
    inside = (before >= 0) & (after < len(times))
    span = times[np.minimum(after, len(times) - 1)] - times[np.maximum(before, 0)]
    out[~inside | (span > max_gap_s + 1.5 * period)] = np.nan
    return grid, out


def lowpass(values: np.ndarray, *, cutoff_hz: float, rate_hz: float) -> np.ndarray:
    """Zero-phase Butterworth low-pass of ``values`` (m, d) sampled uniformly at ``rate_hz``.

    Each run of finite rows is filtered on its own (NaN rows split runs and stay NaN); a run
    too short for the forward-backward filter's padding becomes NaN.
    """
    if not 0 < cutoff_hz < rate_hz / 2:
        raise InvalidArgumentError(
            f"speed_cutoff_hz must be in (0, {rate_hz / 2:g}) Hz, below the Nyquist frequency "
            f"of the {rate_hz:g} Hz finger trace; got {cutoff_hz!r}"
        )
    from scipy import signal  # here: scipy.signal takes seconds to import

    sos = signal.butter(_FILTER_ORDER, cutoff_hz, fs=rate_hz, output="sos")
    padlen = 3 * (2 * len(sos) + 1)  # sosfiltfilt's default
    out = np.full_like(values, np.nan)
    finite = np.isfinite(values).all(axis=1)
    edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(np.int8), 0]))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start > padlen:
            out[start:stop] = signal.sosfiltfilt(sos, values[start:stop], axis=0, padlen=padlen)
    return out


def smoothed_speed(
    timestamps: np.ndarray,
    values: np.ndarray,
    *,
    is_position: bool,
    cutoff_hz: float | None,
    max_gap_s: float,
):
    """Finger speed on a uniform grid from position or velocity samples (n, >= 2; x, y used).

    Steps 1-2 of the module docstring. Position is low-passed first and then differentiated
    by central differences on the grid: a dropout is bridged in position (a bridged velocity
    would join two noise values), and the filter's edges at long gaps start from a position,
    not from a noisy velocity. ``cutoff_hz=None`` skips the low-pass (the raw speed).

    Returns
    -------
    grid : ndarray (m,)
    speed : ndarray (m,)
        NaN inside gaps longer than ``max_gap_s`` (and, when filtered, in runs too short
        to filter).
    """
    grid, trace = uniform_trace(timestamps, values[:, :2], max_gap_s=max_gap_s)  # (m, 2)
    period = float(grid[1] - grid[0]) if len(grid) > 1 else 1.0
    if cutoff_hz is not None:
        trace = lowpass(trace, cutoff_hz=cutoff_hz, rate_hz=1.0 / period)
    if is_position:
        trace = np.gradient(trace, period, axis=0)  # NaN spreads one sample into each edge
    return grid, np.hypot(trace[:, 0], trace[:, 1])


def movement_onsets(
    times: np.ndarray,
    speed: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    *,
    fraction: float,
    min_peak_fraction: float,
) -> Onsets:
    """Per period ``speed[first[k]:last[k] + 1]``: the first sample after the last one below
    ``fraction`` of the period's peak, searched before the peak.

    A period is given no onset, with a note (:data:`ONSET_NOTES`), when its speed has a gap
    (``"gap"``), when its peak is below ``min_peak_fraction`` of the median peak of the
    periods without gaps (``"no_movement"``: the finger did not reach, and the peak is noise),
    or when no sample before the peak is below the threshold (``"moving_at_target_on"``).
    """
    n = len(first)
    peak_at = np.zeros(n, dtype=np.int64)
    peak = np.full(n, np.nan)
    for k, (a, b) in enumerate(zip(first, last, strict=True)):
        segment = speed[a : b + 1]
        if len(segment) >= 2 and np.isfinite(segment).all():
            peak_at[k] = int(np.argmax(segment))
            peak[k] = segment[peak_at[k]]
    reference = np.median(peak[np.isfinite(peak)]) if np.isfinite(peak).any() else np.nan
    onsets, notes = np.full(n, np.nan), np.full(n, "gap", dtype=object)
    for k in np.flatnonzero(np.isfinite(peak)):
        if peak[k] < min_peak_fraction * reference or peak[k] <= 0:
            notes[k] = "no_movement"
            continue
        segment = speed[first[k] : first[k] + peak_at[k]]
        below = np.flatnonzero(segment < fraction * peak[k])
        if below.size == 0:
            notes[k] = "moving_at_target_on"
            continue
        onsets[k], notes[k] = times[first[k] + below[-1] + 1], ""
    return Onsets(onsets, notes.astype(str), peak)
