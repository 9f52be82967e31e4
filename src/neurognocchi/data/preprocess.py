"""Binning spike times into counts, summing bins, and Gaussian smoothing of binned counts.

Time runs along the middle axis of ``[n_trials, n_time, n_neurons]`` arrays by default.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurognocchi._checks import InvalidArgumentError

__all__ = ["bin_spike_times", "gaussian_kernel", "gaussian_smooth", "rebin"]


def bin_spike_times(
    spike_times: Sequence[np.ndarray],
    *,
    t_start: float,
    t_stop: float,
    bin_size_s: float,
) -> np.ndarray:
    """Count each neuron's spikes in consecutive bins ``[t_start + k*b, t_start + (k+1)*b)``.

    Parameters
    ----------
    spike_times : sequence of 1-D arrays
        One array of spike times (seconds) per neuron.
    t_start, t_stop : float
        Window in seconds; ``(t_stop - t_start)`` must be a whole number of bins.
    bin_size_s : float
        Bin width in seconds.

    Returns
    -------
    counts : int32 array, shape (n_bins, n_neurons)
        Spikes outside the window are ignored; a spike exactly at ``t_stop`` is outside.

    Examples
    --------
    >>> bin_spike_times([np.array([0.01, 0.03, 0.035])], t_start=0.0, t_stop=0.04,
    ...                 bin_size_s=0.02).ravel().tolist()
    [1, 2]
    """
    if not np.isfinite(bin_size_s) or bin_size_s <= 0:
        raise InvalidArgumentError(
            f"bin_size_s must be a positive number of seconds; got {bin_size_s}"
        )
    if not t_stop > t_start:
        raise InvalidArgumentError(
            f"t_stop must be after t_start; got t_start={t_start}, t_stop={t_stop}"
        )
    n_exact = (t_stop - t_start) / bin_size_s
    n_bins = round(n_exact)
    if abs(n_exact - n_bins) > 1e-6:
        raise InvalidArgumentError(
            f"the window {t_stop - t_start:g} s is not a whole number of bins of {bin_size_s:g} s"
        )
    counts = np.zeros((n_bins, len(spike_times)), dtype=np.int32)
    for neuron, times in enumerate(spike_times):
        times = np.asarray(times, dtype=float)
        # Small tolerance so a spike at exactly a bin edge lands in the bin it starts.
        index = np.floor((times - t_start) / bin_size_s + 1e-9).astype(np.int64)
        index = index[(index >= 0) & (index < n_bins) & (times < t_stop)]
        counts[:, neuron] = np.bincount(index, minlength=n_bins)
    return counts


def rebin(counts: np.ndarray, factor: int, *, axis: int = -2) -> np.ndarray:
    """Sum groups of ``factor`` adjacent bins along ``axis`` (e.g. 1 ms counts to 20 ms).

    The number of bins must be a multiple of ``factor``; nothing is dropped silently.

    Examples
    --------
    >>> rebin(np.arange(6).reshape(1, 6, 1), 3).ravel().tolist()
    [3, 12]
    """
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise InvalidArgumentError(f"factor must be a positive integer; got {factor!r}")
    counts = np.moveaxis(np.asarray(counts), axis, 0)
    if counts.shape[0] % factor:
        raise InvalidArgumentError(
            f"{counts.shape[0]} bins are not a multiple of factor={factor}; "
            f"trim {counts.shape[0] % factor} bins first"
        )
    summed = counts.reshape(counts.shape[0] // factor, factor, *counts.shape[1:]).sum(axis=1)
    return np.moveaxis(summed, 0, axis)


def gaussian_kernel(
    sigma_bins: float, *, causal: bool = False, truncate: float = 4.0
) -> np.ndarray:
    """Normalised Gaussian weights over lags ``-K..K`` (acausal) or ``0..K`` (causal, past only).

    ``K = ceil(truncate * sigma_bins)``. Entry ``k`` of the returned array weighs lag
    ``k - K`` (acausal) or ``k`` (causal, i.e. the value ``k`` bins in the past).
    """
    if not np.isfinite(sigma_bins) or sigma_bins <= 0:
        raise InvalidArgumentError(f"sigma must be positive; got {sigma_bins} bins")
    half_width = int(np.ceil(truncate * sigma_bins))
    lags = np.arange(0 if causal else -half_width, half_width + 1)
    weights = np.exp(-0.5 * (lags / sigma_bins) ** 2)
    return weights / weights.sum()


def gaussian_smooth(
    x: np.ndarray,
    *,
    sigma_s: float,
    bin_size_s: float,
    causal: bool = False,
    truncate: float = 4.0,
    axis: int = -2,
) -> np.ndarray:
    """Smooth ``x`` along time with a Gaussian of s.d. ``sigma_s`` seconds.

    Acausal smoothing uses past and future bins symmetrically; causal smoothing uses only the
    present and past bins (a half-Gaussian), so it can run online. Near the edges the kernel
    is renormalised over the bins that exist, so a constant signal stays constant.

    Parameters
    ----------
    x : array, time along ``axis`` (default: the middle axis of ``[n_trials, n_time, n]``)
    sigma_s, bin_size_s : float
        Kernel s.d. and bin width in seconds.

    Returns
    -------
    float64 array of ``x``'s shape, in ``x``'s units (divide counts by ``bin_size_s`` for Hz).

    Examples
    --------
    >>> smoothed = gaussian_smooth(np.full((1, 5, 2), 3.0), sigma_s=0.04, bin_size_s=0.02)
    >>> smoothed[0, :, 0].round(12).tolist()  # a constant stays constant, up to rounding
    [3.0, 3.0, 3.0, 3.0, 3.0]
    """
    if not np.isfinite(bin_size_s) or bin_size_s <= 0:
        raise InvalidArgumentError(
            f"bin_size_s must be a positive number of seconds; got {bin_size_s}"
        )
    if not np.isfinite(sigma_s) or sigma_s <= 0:
        raise InvalidArgumentError(f"sigma_s must be a positive number of seconds; got {sigma_s}")
    weights = gaussian_kernel(sigma_s / bin_size_s, causal=causal, truncate=truncate)
    lags = np.arange(len(weights)) if causal else np.arange(len(weights)) - len(weights) // 2
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)  # (T, ...)
    n_time = x.shape[0]
    total = np.zeros_like(x)
    mass = np.zeros(n_time)
    for weight, lag in zip(weights, lags, strict=True):
        # out[t] += weight * x[t - lag] for causal (past), x[t + lag] symmetric otherwise.
        shift = lag if causal else -lag
        lo, hi = max(shift, 0), min(n_time + shift, n_time)
        if lo >= hi:
            continue
        total[lo:hi] += weight * x[lo - shift : hi - shift]
        mass[lo:hi] += weight
    smoothed = total / mass.reshape((n_time,) + (1,) * (x.ndim - 1))
    return np.moveaxis(smoothed, 0, axis)
