"""Per-neuron statistics of trial arrays, computed a block of trials at a time.

The models normalise each neuron with these moments; computing them block by block keeps a
memory-mapped dataset (or a :class:`~neurognocchi.data._lazy.RowSubset` of one) out of memory.
"""

from __future__ import annotations

import warnings

import numpy as np

from neurognocchi._checks import check_positive_int
from neurognocchi._chunks import release_pages
from neurognocchi.data._lazy import RowSubset

__all__ = ["neuron_statistics", "warn_constant_neurons"]

_BLOCK_BYTES = 64 * 2**20  # float64 bytes of one block when block_trials is not given


def neuron_statistics(data, *, block_trials: int | None = None) -> dict[str, np.ndarray]:
    """Per-neuron mean, s.d. (n-1 denominator), minimum and maximum over trials and time.

    ``data`` is read a block of trials at a time (in float64). Blocks are merged with Chan et
    al.'s pairwise update, so the result matches a one-pass computation on the whole array up
    to rounding.

    Parameters
    ----------
    data : array or RowSubset, shape (n_trials, n_time, n_neurons)
    block_trials : int, optional
        Trials per block; by default about 64 MiB of float64 values.

    Returns
    -------
    dict
        ``mean``, ``std``, ``min``, ``max`` (each shape (n_neurons,)) and ``count`` (int, the
        number of values per neuron).

    Examples
    --------
    >>> stats = neuron_statistics(np.arange(12.0).reshape(3, 2, 2), block_trials=2)
    >>> stats["mean"].tolist(), stats["max"].tolist(), stats["count"]
    ([5.0, 6.0], [10.0, 11.0], 6)
    """
    n_trials = len(data)
    if block_trials is None:
        per_trial = int(np.prod(data.shape[1:])) * 8
        block_trials = max(1, _BLOCK_BYTES // per_trial)
    block_trials = check_positive_int(block_trials, "block_trials")
    count, mean, m2 = 0, 0.0, 0.0
    low, high = np.inf, -np.inf
    for start in range(0, n_trials, block_trials):
        block = np.asarray(data[start : start + block_trials])
        flat = block.reshape(-1, block.shape[-1]).astype(np.float64)  # (n_block * T, N)
        n_b, mean_b = len(flat), flat.mean(axis=0)
        m2_b = ((flat - mean_b) ** 2).sum(axis=0)
        delta = mean_b - mean
        total = count + n_b
        mean = mean + delta * n_b / total
        m2 = m2 + m2_b + delta**2 * count * n_b / total
        count = total
        low, high = np.minimum(low, flat.min(axis=0)), np.maximum(high, flat.max(axis=0))
        release_pages(data.array if isinstance(data, RowSubset) else data)
    std = np.sqrt(m2 / max(1, count - 1))
    return {"mean": mean, "std": std, "min": low, "max": high, "count": count}


def warn_constant_neurons(stats: dict, *, stacklevel: int = 2) -> np.ndarray:
    """Warn once when some neurons never change (``min == max`` in :func:`neuron_statistics`,
    e.g. channels that never fire), giving their count and first indices; return them.

    Examples
    --------
    >>> import warnings
    >>> data = np.ones((2, 3, 2)); data[..., 1] = [0.0, 1.0, 2.0]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_constant_neurons(neuron_statistics(data)).tolist()
    [0]
    >>> str(caught[0].message)[:44]
    '1 of 2 neurons are constant in the training '
    """
    constant = np.flatnonzero(stats["min"] == stats["max"])
    if len(constant):
        values = sorted({float(v) for v in stats["min"][constant]})[:3]
        warnings.warn(
            f"{len(constant)} of {len(stats['min'])} neurons are constant in the training "
            f"trials (value(s) {values}: a channel that never fires if 0), e.g. neurons "
            f"{constant[:10].tolist()}; they are kept. Drop them first "
            "(trials.activity[..., keep]) if they are dead channels.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return constant
