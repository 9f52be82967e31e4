"""Checks of what a `Trials` is built from: arrays, spike counts, label columns, ``.npz`` files.

Arrays are checked a block of trials at a time (:func:`~neurognocchi.data._lazy.trial_chunks`),
so a memory-mapped array stays mapped and is never read into memory whole. Every error names
the field and what is wrong with it.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from neurognocchi.data._lazy import release_pages, trial_chunks

__all__ = [
    "as_behavior",
    "as_bin_size",
    "as_counts",
    "as_info_column",
    "as_trial_array",
    "read_npz",
]


def as_trial_array(name: str, value, *, dtype=None) -> np.ndarray:
    """Validate a ``[n_trials, n_time, n]`` array: numeric, rank 3, finite.

    A ``np.memmap`` stays memory-mapped (when already of ``dtype``) and is checked in blocks.
    """
    array = value if isinstance(value, np.memmap) else np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array; got dtype {array.dtype}")
    if array.ndim != 3:
        raise ValueError(f"{name} must have rank 3 [n_trials, n_time, n]; got shape {array.shape}")
    finite = all(np.all(np.isfinite(chunk)) for chunk in trial_chunks(array))
    release_pages(array)
    if not finite:
        chunks = trial_chunks(array)
        n_bad = sum(int(c.size - np.count_nonzero(np.isfinite(c))) for c in chunks)
        raise ValueError(f"{name} contains {n_bad} NaN or infinite values")
    if dtype is None or array.dtype == dtype:
        return array
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(dtype)
    if np.issubdtype(dtype, np.floating) and not all(
        np.all(np.isfinite(chunk)) for chunk in trial_chunks(cast)
    ):
        raise ValueError(
            f"{name} has values beyond the range of {np.dtype(dtype).name} "
            f"(|x| > {np.finfo(dtype).max:.3g})"
        )
    return cast


#: The largest spike count in one bin that is accepted: every count up to it is exact in float32
#: (the models compute in float32). Real recordings stay far below (hundreds per bin at most).
MAX_COUNT = 2**24


def as_counts(value) -> np.ndarray:
    """Validate binned spike counts: whole, non-negative numbers up to :data:`MAX_COUNT`,
    stored as integers."""
    counts = as_trial_array("spikes", value)
    negative = any(np.any(chunk < 0) for chunk in trial_chunks(counts))
    release_pages(counts)
    if negative:
        raise ValueError("spikes must be non-negative counts; found negative values")
    if not np.issubdtype(counts.dtype, np.integer) and any(
        np.any(chunk != np.round(chunk)) for chunk in trial_chunks(counts)
    ):
        raise ValueError("spikes must be whole-number counts; found non-integer values")
    largest = max((chunk.max() for chunk in trial_chunks(counts) if chunk.size), default=0)
    release_pages(counts)
    if largest > MAX_COUNT:
        raise ValueError(
            f"spikes holds a count of {largest:.6g} in one bin, more than {MAX_COUNT:,} (the "
            "largest float32 holds exactly): not a spike count; an integer overflow or another "
            "field stored as spikes?"
        )
    return counts if np.issubdtype(counts.dtype, np.integer) else counts.astype(np.int32)


def as_info_column(key: str, value, n_trials: int) -> np.ndarray:
    """Validate a ``trial_info`` column: numbers, booleans or strings, shape (n_trials,)."""
    if "\x00" in key:  # a zip member name (Trials.save) ends at a NUL
        raise ValueError(f"trial_info keys must not contain NUL characters; got {key!r}")
    column = np.asarray(value)
    if column.dtype.kind not in "biufU":
        raise TypeError(
            f"trial_info[{key!r}] must hold numbers, booleans or strings; got dtype {column.dtype}"
        )
    if column.ndim != 1 or len(column) != n_trials:
        raise ValueError(
            f"trial_info[{key!r}] must be 1-D with one value per trial ({n_trials}); "
            f"got shape {column.shape}"
        )
    return column


def _npy_magic(path: Path) -> bytes:
    """The first bytes of ``path``, as long as the ``.npy`` magic string."""
    with open(path, "rb") as handle:
        return handle.read(len(np.lib.format.MAGIC_PREFIX))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive at ``path`` (no pickles).

    Raises ValueError when the file is not a readable ``.npz`` archive: corrupt or truncated
    zip data raises ``zipfile.BadZipFile``/``zlib.error``/``EOFError`` inside NumPy, and a
    ``.npy`` array under an ``.npz`` name loads as a bare array.
    """
    if not zipfile.is_zipfile(path) and np.lib.format.MAGIC_PREFIX != _npy_magic(path):
        raise ValueError(f"{str(path)!r} is not a readable .npz file: it is not a zip archive")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, Mapping):
            raise ValueError("it holds a single array, not an .npz archive")
        with data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{str(path)!r} is not a readable .npz file: {error}") from None


def as_behavior(behavior, names, activity_shape: tuple[int, int, int]):
    """Validate ``behavior`` (n_trials, n_time, n_behavior) against ``activity_shape`` and
    name its channels (``b0, b1, ...`` by default); returns (array or None, tuple of names)."""
    if behavior is None:
        if names is not None:
            raise ValueError("behavior_names was given without behavior")
        return None, ()
    behavior = as_trial_array("behavior", behavior, dtype=np.float32)
    if behavior.shape[:2] != activity_shape[:2]:
        raise ValueError(
            "behavior must have the same n_trials and n_time as activity "
            f"{activity_shape[:2]}; got {behavior.shape[:2]}"
        )
    names = tuple(f"b{i}" for i in range(behavior.shape[2])) if names is None else names
    names = tuple(str(name) for name in names)
    if len(names) != behavior.shape[2]:
        raise ValueError(
            f"behavior_names has {len(names)} names for {behavior.shape[2]} behaviour channels"
        )
    return behavior, names


def as_bin_size(bin_size_s) -> float | None:
    """``bin_size_s`` as a float of positive seconds, or None (unknown)."""
    if bin_size_s is None:
        return None
    if isinstance(bin_size_s, bool) or not isinstance(bin_size_s, (int, float, np.number)):
        raise TypeError(f"bin_size_s must be a number; got {type(bin_size_s).__name__}")
    if not np.isfinite(bin_size_s) or bin_size_s <= 0:
        raise ValueError(f"bin_size_s must be a positive number of seconds; got {bin_size_s}")
    return float(bin_size_s)
