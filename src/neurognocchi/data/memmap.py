"""Trials larger than memory: a directory of ``.npy`` files read through memory maps.

Layout of a directory written by :func:`save_memmap` or :func:`create_memmap`::

    meta.json        format, version, shape, bin size, alignment, behaviour names
    activity.npy     float32 [n_trials, n_time, n_neurons]
    spikes.npy       optional, integer counts
    truth.npy        optional, float32
    behavior.npy     optional, float32 [n_trials, n_time, n_behavior]
    trial_info.npz   optional, small per-trial columns (read into memory)

:func:`open_memmap` returns a `Trials` whose arrays are read-only ``np.memmap`` objects: only
the pages that are touched are read, and the operating system can drop them again, so training
reads one batch at a time from disk. (``.npz`` archives are compressed and cannot be mapped.)
Helpers here let the training loop and the estimators work on such arrays without copying them:
:class:`RowSubset` (a lazy selection of trials) and :func:`neuron_statistics` (per-neuron
moments computed a block at a time).
"""

from __future__ import annotations

import json
import mmap
import os
from pathlib import Path

import numpy as np

from neurognocchi._io import atomic_write, atomic_write_text
from neurognocchi.data.trials import _ARRAY_FIELDS, Trials, _release_pages

MEMMAP_FORMAT = "neurognocchi.Trials.memmap"
MEMMAP_VERSION = 1
_DTYPES = {"activity": np.float32, "spikes": np.int32, "truth": np.float32, "behavior": np.float32}


def _meta(n_trials, n_time, n_neurons, fields, bin_size_s, align, behavior_names) -> dict:
    return {
        "format": MEMMAP_FORMAT,
        "version": MEMMAP_VERSION,
        "shape": [int(n_trials), int(n_time), int(n_neurons)],
        "fields": list(fields),
        "bin_size_s": bin_size_s,
        "align": align,
        "behavior_names": list(behavior_names),
    }


def _check_new_directory(directory: Path) -> None:
    if (directory / "meta.json").exists():
        raise FileExistsError(
            f"{str(directory)!r} already holds memory-mapped trials; choose a new directory"
        )
    directory.mkdir(parents=True, exist_ok=True)


def save_memmap(trials: Trials, directory: str | os.PathLike) -> Path:
    """Write ``trials`` as a directory of ``.npy`` files that :func:`open_memmap` maps.

    Each file is written atomically, ``meta.json`` last, so a directory without it is
    incomplete. Raises FileExistsError when ``directory`` already holds trials.
    """
    directory = Path(directory)
    _check_new_directory(directory)
    fields = [name for name in _ARRAY_FIELDS if getattr(trials, name) is not None]
    for name in fields:
        with atomic_write(directory / f"{name}.npy") as handle:
            np.save(handle, np.asarray(getattr(trials, name)), allow_pickle=False)
    if trials.trial_info:
        with atomic_write(directory / "trial_info.npz") as handle:
            np.savez(handle, **trials.trial_info)
    meta = _meta(
        *trials.activity.shape,
        fields,
        trials.bin_size_s,
        trials.align,
        trials.behavior_names if trials.behavior is not None else (),
    )
    atomic_write_text(directory / "meta.json", json.dumps(meta, indent=1))
    return directory


def create_memmap(
    directory: str | os.PathLike,
    n_trials: int,
    n_time: int,
    n_neurons: int,
    *,
    fields: tuple[str, ...] = ("activity",),
    n_behavior: int = 0,
    behavior_names=None,
    bin_size_s: float | None = None,
    align: str = "",
) -> dict[str, np.memmap]:
    """Create zero-filled, writable ``.npy`` files for a dataset to be filled block by block.

    Use this to build a dataset larger than memory: write ``arrays["activity"][i:j] = ...``
    for consecutive blocks, ``flush()`` each array, then read it with :func:`open_memmap`.
    Returns the writable ``np.memmap`` of each field (``activity`` is always among them).
    """
    directory = Path(directory)
    unknown = set(fields) - set(_ARRAY_FIELDS)
    if unknown or "activity" not in fields:
        raise ValueError(f"fields must include 'activity' and name {_ARRAY_FIELDS}; got {fields}")
    if "behavior" in fields and n_behavior < 1:
        raise ValueError(f"n_behavior must be positive with behavior; got {n_behavior!r}")
    _check_new_directory(directory)
    arrays = {}
    for name in fields:
        last = n_behavior if name == "behavior" else n_neurons
        arrays[name] = np.lib.format.open_memmap(
            directory / f"{name}.npy", mode="w+", dtype=_DTYPES[name],
            shape=(n_trials, n_time, last),
        )  # fmt: skip
    names = ()
    if "behavior" in fields:
        names = behavior_names or [f"b{i}" for i in range(n_behavior)]
    meta = _meta(n_trials, n_time, n_neurons, fields, bin_size_s, align, names)
    atomic_write_text(directory / "meta.json", json.dumps(meta, indent=1))
    return arrays


def open_memmap(directory: str | os.PathLike, *, mmap: bool = True) -> Trials:
    """Open trials written by :func:`save_memmap` or :func:`create_memmap`.

    Parameters
    ----------
    directory : path
    mmap : bool
        True: the arrays are read-only ``np.memmap`` views of the files (nothing is read until
        used; validation reads the files once, a block at a time). False: read into memory.
    """
    directory = Path(directory)
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{str(directory)!r} holds no meta.json; not memory-mapped trials")
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or (meta.get("format"), meta.get("version")) != (
        MEMMAP_FORMAT,
        MEMMAP_VERSION,
    ):
        found = (meta.get("format"), meta.get("version")) if isinstance(meta, dict) else meta
        raise ValueError(
            f"{str(meta_path)!r} describes {found}; expected {MEMMAP_FORMAT} "
            f"version {MEMMAP_VERSION}"
        )
    arrays = {name: _load_npy(directory / f"{name}.npy", mmap) for name in meta["fields"]}
    if arrays["activity"].shape != tuple(meta["shape"]):
        raise ValueError(
            f"{str(directory)!r}: activity.npy has shape {arrays['activity'].shape}; "
            f"meta.json says {tuple(meta['shape'])}"
        )
    info_path = directory / "trial_info.npz"
    trial_info = {}
    if info_path.exists():
        with np.load(info_path, allow_pickle=False) as info:
            trial_info = {key: info[key] for key in info.files}
    return Trials(
        arrays.pop("activity"),
        **arrays,
        behavior_names=meta["behavior_names"] if "behavior" in arrays else None,
        trial_info=trial_info,
        bin_size_s=meta["bin_size_s"],
        align=meta["align"],
    )


def _load_npy(path: Path, use_mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if use_mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{str(path)!r} is missing; the directory is incomplete") from None
    except (ValueError, OSError) as error:
        raise ValueError(f"{str(path)!r} is not a readable .npy file: {error}") from None


def is_memory_mapped(array) -> bool:
    """True for a ``np.memmap``, an array viewing one, or a :class:`RowSubset`."""
    if isinstance(array, (np.memmap, RowSubset)):
        return True
    base = getattr(array, "base", None)
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


class RowSubset:
    """The trials ``rows`` of ``array``, read only when indexed (no copy up front).

    Supports what the training loop needs: ``len``, ``shape``, ``dtype`` and indexing by an
    integer array or a slice, which reads those trials from ``array`` (sorted reads are
    sequential on disk) and then unmaps the pages read from a ``np.memmap``, so resident
    memory stays at about one batch however large the file.
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
        _release_pages(self.array)
        return batch

    def __repr__(self) -> str:
        return f"RowSubset({len(self.rows)} of {len(self.array)} trials, shape={self.shape})"


def neuron_statistics(data, *, block_trials: int | None = None) -> dict[str, np.ndarray]:
    """Per-neuron mean, s.d. (n-1 denominator), minimum and maximum over trials and time,
    reading ``data`` (n_trials, n_time, n_neurons) a block of trials at a time (float64).

    Blocks are merged with Chan et al.'s pairwise update, so the result matches a one-pass
    computation on the whole array up to rounding.
    """
    n_trials = len(data)
    if block_trials is None:
        per_trial = int(np.prod(data.shape[1:])) * 8
        block_trials = max(1, (64 * 2**20) // per_trial)
    count, mean, m2 = 0, 0.0, 0.0
    low, high = np.inf, -np.inf
    for start in range(0, n_trials, block_trials):
        block = np.asarray(data[start : start + block_trials])
        flat = block.reshape(-1, block.shape[-1]).astype(np.float64)
        n_b, mean_b = len(flat), flat.mean(axis=0)
        m2_b = ((flat - mean_b) ** 2).sum(axis=0)
        delta = mean_b - mean
        total = count + n_b
        mean = mean + delta * n_b / total
        m2 = m2 + m2_b + delta**2 * count * n_b / total
        count = total
        low, high = np.minimum(low, flat.min(axis=0)), np.maximum(high, flat.max(axis=0))
        _release_pages(data.array if isinstance(data, RowSubset) else data)
    std = np.sqrt(m2 / max(1, count - 1))
    return {"mean": mean, "std": std, "min": low, "max": high, "count": count}
