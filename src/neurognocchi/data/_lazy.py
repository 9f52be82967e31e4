"""Lazy row selections of arrays that may be larger than memory (``np.memmap``).

The training loop and the estimators split and batch trials through these helpers, so that a
memory-mapped dataset is read a batch at a time instead of being copied into memory (reading
a block of trials at a time, :func:`~neurognocchi._chunks.trial_chunks`, lives in
:mod:`neurognocchi._chunks`). This module imports nothing from the package but that module, so
any module of it may use this one without a cycle.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence

import numpy as np

from neurognocchi._chunks import release_pages

__all__ = ["ARRAY_FIELDS", "RowSubset", "is_memory_mapped", "split_rows"]

ARRAY_FIELDS = ("activity", "spikes", "truth", "behavior")
"""The per-trial array fields of `Trials`, each ``[n_trials, n_time, n]``, in file order."""


class RowSubset:
    """The trials ``rows`` of ``array``, read only when indexed (no copy up front).

    Supports what the training loop needs: ``len``, ``shape``, ``dtype`` and indexing by an
    integer array or a slice, which reads those trials from ``array`` (sorted reads are
    sequential on disk) and then unmaps the pages read from a ``np.memmap``, so resident
    memory stays at about one batch however large the file.

    Parameters
    ----------
    array : array, shape (n_trials, n_time, n)
        Usually a ``np.memmap``.
    rows : sequence of int, shape (n_rows,)
        The trials of ``array`` this subset stands for, in order.

    Examples
    --------
    >>> subset = RowSubset(np.arange(12).reshape(4, 3, 1), [1, 3])
    >>> subset.shape
    (2, 3, 1)
    >>> subset[np.array([1])][0, :, 0]
    array([ 9, 10, 11])
    """

    def __init__(self, array, rows):
        self.array = array
        self.rows = np.asarray(rows, dtype=np.intp)
        self.shape = (len(self.rows), *array.shape[1:])
        self.dtype = array.dtype

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index) -> np.ndarray:
        batch = np.array(self.array[self.rows[index]])  # a copy, then unmap what was read
        release_pages(self.array)
        return batch

    def __repr__(self) -> str:
        return f"RowSubset({len(self.rows)} of {len(self.array)} trials, shape={self.shape})"


def is_memory_mapped(array) -> bool:
    """True for a ``np.memmap``, an array viewing one, or a :class:`RowSubset`.

    Examples
    --------
    >>> is_memory_mapped(np.zeros((2, 3, 4)))
    False
    """
    if isinstance(array, (np.memmap, RowSubset)):
        return True
    base = getattr(array, "base", None)
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def split_rows(data, row_groups: Sequence[Sequence[int]]) -> tuple:
    """The trials of each group of ``row_groups``: lazy views of memory-mapped data, else copies.

    The one call that splits model input into parts (e.g. train and validation) whatever the
    storage: a memory-mapped array (or a :class:`RowSubset` of one) gives a :class:`RowSubset`
    per group, read a batch at a time; any other array gives ``data[rows]`` per group.

    Parameters
    ----------
    data : array or RowSubset, shape (n_trials, n_time, n)
    row_groups : sequence of sequences of int
        Trial indices of each part, e.g. ``trials.split_indices(fractions, random_state=seed)``.

    Returns
    -------
    tuple
        One array or :class:`RowSubset` of shape ``(len(rows), n_time, n)`` per group.

    Examples
    --------
    >>> train, valid = split_rows(np.arange(8).reshape(4, 2, 1), [[0, 2, 3], [1]])
    >>> train.shape, valid[:, :, 0].tolist()
    ((3, 2, 1), [[2, 3]])
    """
    groups = [np.asarray(rows, dtype=np.intp) for rows in row_groups]
    if isinstance(data, RowSubset):  # a subset of a subset reads straight from the file
        return tuple(RowSubset(data.array, data.rows[rows]) for rows in groups)
    if is_memory_mapped(data):  # select trials lazily rather than copy them
        return tuple(RowSubset(data, rows) for rows in groups)
    return tuple(data[rows] for rows in groups)
