"""Uncertainty of stochastic numbers (issue 16, item 8): mean and s.d. over sampling or
training seeds, and their "mean ± s.d. (n=...)" text for tables."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_bool, check_int

__all__ = ["MeanSd", "format_mean_sd", "mean_and_sd"]


class MeanSd(NamedTuple):
    """Output of :func:`mean_and_sd`: floats for 1-D input, else arrays of the reduced shape."""

    mean: float | np.ndarray
    sd: float | np.ndarray
    n: int | np.ndarray


def mean_and_sd(values, *, axis: int = 0, ignore_nan: bool = False) -> MeanSd:
    """Mean, sample s.d. (ddof 1) and count of ``values`` along ``axis`` (e.g. over seeds).

    The s.d. is NaN with a single value. NaN values propagate (a failed seed is not hidden)
    unless ``ignore_nan``, which leaves them out and counts only the others, per entry.

    Parameters
    ----------
    values : array, e.g. (n_seeds,) or (n_seeds, ...)
    axis : int, optional
        The axis of the repetitions.
    ignore_nan : bool, optional
        Leave NaN values out of the mean, s.d. and count.

    Returns
    -------
    MeanSd
        ``mean``, ``sd`` and ``n``: scalars for 1-D input, else arrays without ``axis``.

    Examples
    --------
    >>> mean_and_sd([1.0, 2.0, 3.0])
    MeanSd(mean=2.0, sd=1.0, n=3)
    >>> format_mean_sd(*mean_and_sd([0.7, 0.8, 0.9, 0.8]))
    '0.80 ± 0.08 (n=4)'
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"values must hold real numbers; got {values!r}") from None
    if array.ndim == 0:
        raise InvalidArgumentError("values must have at least one axis of repetitions")
    axis = check_int(axis, "axis", minimum=-array.ndim)
    if axis >= array.ndim:
        raise InvalidArgumentError(f"axis must be < {array.ndim} for shape {array.shape}")
    if array.shape[axis] == 0:
        raise InvalidArgumentError(f"values has no repetition along axis {axis}")
    ignore_nan = check_bool(ignore_nan, "ignore_nan")
    with np.errstate(invalid="ignore", divide="ignore"):  # an infinite value: mean inf, sd NaN
        mean, sd, n = _reduce(array, axis, ignore_nan)
    if np.ndim(mean) == 0:
        return MeanSd(float(mean), float(sd), int(n))
    return MeanSd(mean, sd, n.astype(int))


def _reduce(array: np.ndarray, axis: int, ignore_nan: bool) -> tuple:
    if ignore_nan:
        n = np.sum(~np.isnan(array), axis=axis)
        mean = np.where(n > 0, np.nansum(array, axis=axis) / np.maximum(n, 1), np.nan)
        squares = np.nansum((array - np.expand_dims(mean, axis)) ** 2, axis=axis)
        sd = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), np.nan)
        return mean, sd, n
    n = np.full(np.delete(array.shape, axis), array.shape[axis])
    mean = array.mean(axis=axis)
    sd = array.std(axis=axis, ddof=1) if array.shape[axis] > 1 else np.full_like(mean, np.nan)
    return mean, sd, n


def format_mean_sd(mean, sd, n=None, *, digits: int = 2) -> str:
    """``"mean ± sd (n=...)"`` with ``digits`` decimals; the count is left out when None.

    A NaN s.d. (a single value) reads ``"± n/a"``; a NaN or infinite mean is written as such.

    Examples
    --------
    >>> format_mean_sd(0.7412, 0.0513, 5)
    '0.74 ± 0.05 (n=5)'
    >>> format_mean_sd(1.5, float("nan"), 1, digits=1)
    '1.5 ± n/a (n=1)'
    """
    digits = check_int(digits, "digits", minimum=0)
    mean, sd = _real(mean, "mean"), _real(sd, "sd")
    if sd < 0:
        raise InvalidArgumentError(f"sd must be >= 0; got {sd}")
    sd_text = "n/a" if np.isnan(sd) else f"{sd:.{digits}f}"
    text = f"{mean:.{digits}f} ± {sd_text}"
    return text if n is None else f"{text} (n={check_int(n, 'n', minimum=0)})"


def _real(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(
            f"{name} must be a real number; got {value!r} ({type(value).__name__})"
        )
    return float(value)
