"""Arrays larger than memory read a block of trials at a time (``np.memmap`` included).

The argument checks of trial arrays (:mod:`neurognocchi._checks`), the lazy row selections of
:mod:`neurognocchi.data._lazy` and the per-neuron statistics read through these helpers, so that
a memory-mapped dataset is checked and summarised a block at a time instead of being copied into
memory. This module imports nothing from the package, so any module of it may use this one.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator

import numpy as np

__all__ = ["CHUNK_BYTES", "release_pages", "trial_chunks"]

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
