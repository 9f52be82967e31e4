"""Helpers for arrays that may be larger than memory (``np.memmap`` and lazy row selections).

The `Trials` container, the memory-mapped directory format, the per-neuron statistics and the
estimators all read trials through these helpers, so that a memory-mapped dataset is checked,
summarised and batched a block at a time instead of being copied into memory. This module
imports nothing from the package, so any module of it may use this one without a cycle.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "ARRAY_FIELDS",
    "CHUNK_BYTES",
    "RowSubset",
    "is_memory_mapped",
    "release_pages",
    "split_rows",
    "trial_chunks",
]

ARRAY_FIELDS = ("activity", "spikes", "truth", "behavior")
"""The per-trial array fields of `Trials`, each ``[n_trials, n_time, n]``, in file order."""

CHUNK_BYTES = 64 * 2**20
"""Checks of large (e.g. memory-mapped) arrays read about this many bytes at a time."""


def release_pages(array) -> None:
    """Unmap the pages of a ``np.memmap`` that this process has read (``MADV_DONTNEED``).

    The data stay in the operating system's page cache, so reading them again is cheap, but
    they no longer count in the process's resident memory. No-op for other arrays.

    Examples
    --------
    >>> release_pages(np.zeros(3))  # an in-memory array: nothing to release
    """
    if getattr(array, "mode", None) == "c":  # private copy-on-write pages: would lose edits
        return
    handle = getattr(array, "_mmap", None)  # numpy keeps the mmap of a memmap (and its views)
    advise = getattr(handle, "madvise", None)
    if advise is not None and hasattr(mmap, "MADV_DONTNEED"):
        try:
            advise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # closed or unsupported mapping: nothing to release
            pass


def trial_chunks(array: np.ndarray) -> Iterator[np.ndarray]:
    """Consecutive blocks of trials of ``array`` of about :data:`CHUNK_BYTES` each.

    Checks of a memory-mapped array therefore never hold more than one block (or its
    temporaries) in memory; the pages of a block are unmapped when the next one is asked for.

    Parameters
    ----------
    array : array, shape (n_trials, ...)

    Yields
    ------
    numpy.ndarray, shape (n_block, ...)

    Examples
    --------
    >>> [len(block) for block in trial_chunks(np.zeros((5, 2, 3)))]
    [5]
    """
    per_trial = max(1, array[:1].nbytes)
    step = max(1, CHUNK_BYTES // per_trial)
    for start in range(0, len(array), step):
        yield array[start : start + step]
        release_pages(array)  # once the caller is done with the block


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
