"""Paired comparisons of two models on the same units (issue 16, item 9): the fraction of
neurons where one model's reconstruction R² is higher (the paper's Fig. 4D) and of held-out
trials where its target error is lower (Fig. 4F)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_bool

__all__ = ["PairedFraction", "paired_fraction"]


class PairedFraction(NamedTuple):
    """Output of :func:`paired_fraction`.

    ``fraction``: share of the compared pairs where ``a`` is better (ties count one half);
    NaN when no pair is left. ``n_pairs``: pairs compared. ``n_dropped``: pairs left out
    because either value is NaN.
    """

    fraction: float
    n_pairs: int
    n_dropped: int


def paired_fraction(a, b, *, higher_is_better: bool = True) -> PairedFraction:
    """Fraction of pairs ``(a[i], b[i])`` where ``a`` is better than ``b``.

    Ties count one half, so two identical models score 0.5 and
    ``paired_fraction(a, b) + paired_fraction(b, a) == 1``. Pairs where either value is NaN
    (e.g. the R² of a neuron whose truth is constant) are dropped and counted; infinities
    compare as numbers.

    Parameters
    ----------
    a, b : array (n_pairs,)
        One value per unit (neuron, trial) for each model, in the same order.
    higher_is_better : bool, optional
        True for scores such as per-neuron R² (Fig. 4D); False for errors such as per-trial
        held-out target error (Fig. 4F).

    Returns
    -------
    PairedFraction

    Examples
    --------
    >>> paired_fraction([0.9, 0.5, 0.7, np.nan], [0.8, 0.6, 0.7, 0.1])  # (1 + 0 + 0.5) / 3
    PairedFraction(fraction=0.5, n_pairs=3, n_dropped=1)
    >>> paired_fraction([1.0, 3.0], [2.0, 2.0], higher_is_better=False).fraction
    0.5
    """
    higher_is_better = check_bool(higher_is_better, "higher_is_better")
    a, b = _values(a, "a"), _values(b, "b")
    if a.shape != b.shape:
        raise InvalidArgumentError(
            f"a and b must hold one value per pair; got shapes {a.shape} and {b.shape}"
        )
    kept = ~(np.isnan(a) | np.isnan(b))
    a, b = a[kept], b[kept]
    n_pairs, n_dropped = int(kept.sum()), int((~kept).sum())
    if n_pairs == 0:
        return PairedFraction(float("nan"), 0, n_dropped)
    better = (a > b) if higher_is_better else (a < b)
    score = better.sum() + 0.5 * (a == b).sum()
    return PairedFraction(float(score / n_pairs), n_pairs, n_dropped)


def _values(value, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise InvalidArgumentError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != 1:
        raise InvalidArgumentError(f"{name} must be 1-D (n_pairs,); got shape {array.shape}")
    return array.astype(np.float64)
