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
The helpers that let the training loop and the estimators work on such arrays without copying
them live in :mod:`neurognocchi.data._lazy` (:class:`RowSubset`, :func:`is_memory_mapped`,
:func:`split_rows`) and :mod:`neurognocchi.data.stats` (:func:`neuron_statistics`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from neurognocchi._checks import check_bool, check_positive_int
from neurognocchi._io import atomic_write, atomic_write_text
from neurognocchi.data._lazy import ARRAY_FIELDS
from neurognocchi.data.npz import read_npz
from neurognocchi.data.trials import Trials

__all__ = [
    "MEMMAP_FORMAT",
    "MEMMAP_VERSION",
    "create_memmap",
    "open_memmap",
    "save_memmap",
]

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

    Parameters
    ----------
    trials : Trials
    directory : path
        Created when missing.

    Returns
    -------
    pathlib.Path
        ``directory``.

    Examples
    --------
    >>> import tempfile
    >>> trials = Trials(np.ones((8, 4, 2)), bin_size_s=0.01)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_memmap(trials, f"{folder}/trials")
    ...     open_memmap(f"{folder}/trials").activity.shape
    (8, 4, 2)
    """
    if not isinstance(trials, Trials):
        raise TypeError(f"trials must be a Trials; got {type(trials).__name__}")
    directory = Path(directory)
    _check_new_directory(directory)
    fields = [name for name in ARRAY_FIELDS if getattr(trials, name) is not None]
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
    meta["trial_info"] = list(trials.trial_info)  # so that a lost trial_info.npz is noticed
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

    Parameters
    ----------
    directory : path
        A new directory (or one without ``meta.json``).
    n_trials, n_time, n_neurons : int
        Shape of ``activity`` (and of ``spikes``/``truth`` when listed in ``fields``).
    fields : tuple of str
        The arrays to create, among ``activity, spikes, truth, behavior``.
    n_behavior : int
        Behavioural channels (needed with ``behavior``).
    behavior_names : sequence of str, optional
        Their names; default ``b0, b1, ...``.
    bin_size_s : float, optional
        Bin width in seconds, stored in ``meta.json``.
    align : str
        What t=0 is aligned to, stored in ``meta.json``.

    Returns
    -------
    dict of str to np.memmap
        The writable array of each field (``activity`` is always among them).
    """
    directory = Path(directory)
    for name, value in (("n_trials", n_trials), ("n_time", n_time), ("n_neurons", n_neurons)):
        check_positive_int(value, name)
    unknown = set(fields) - set(ARRAY_FIELDS)
    if unknown or "activity" not in fields:
        raise ValueError(f"fields must include 'activity' and name {ARRAY_FIELDS}; got {fields}")
    if "behavior" in fields:
        check_positive_int(n_behavior, "n_behavior")
    _check_new_directory(directory)
    arrays = {}
    for name in fields:
        last = n_behavior if name == "behavior" else n_neurons
        arrays[name] = np.lib.format.open_memmap(
            directory / f"{name}.npy",
            mode="w+",
            dtype=_DTYPES[name],
            shape=(n_trials, n_time, last),
        )
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

    Returns
    -------
    Trials
    """
    mmap = check_bool(mmap, "mmap")
    directory = Path(directory)
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{str(directory)!r} holds no meta.json; not memory-mapped trials")
    meta = _read_meta(meta_path)
    arrays = {name: _load_npy(directory / f"{name}.npy", mmap) for name in meta["fields"]}
    if arrays["activity"].shape != tuple(meta["shape"]):
        raise ValueError(
            f"{str(directory)!r}: activity.npy has shape {arrays['activity'].shape}; "
            f"meta.json says {tuple(meta['shape'])}"
        )
    trial_info = _read_trial_info(directory / "trial_info.npz", meta.get("trial_info"))
    return Trials(
        arrays.pop("activity"),
        **arrays,
        behavior_names=meta["behavior_names"] if "behavior" in arrays else None,
        trial_info=trial_info,
        bin_size_s=meta["bin_size_s"],
        align=meta["align"],
    )


_META_KEYS = ("shape", "fields", "bin_size_s", "align", "behavior_names")


def _read_meta(path: Path) -> dict:
    """``meta.json``, checked: JSON of this format and version with every key."""
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(path)!r} is not valid JSON (truncated?): {error}") from None
    if not isinstance(meta, dict) or (meta.get("format"), meta.get("version")) != (
        MEMMAP_FORMAT,
        MEMMAP_VERSION,
    ):
        found = (meta.get("format"), meta.get("version")) if isinstance(meta, dict) else meta
        raise ValueError(
            f"{str(path)!r} describes {found}; expected {MEMMAP_FORMAT} version {MEMMAP_VERSION}"
        )
    missing = [key for key in _META_KEYS if key not in meta]
    if missing or "activity" not in meta["fields"]:
        raise ValueError(f"{str(path)!r} lacks {missing or ['activity in fields']}")
    return meta


def _read_trial_info(path: Path, listed: list | None) -> dict:
    """The columns of ``trial_info.npz``; ``listed``: the keys ``meta.json`` records (None in
    folders written before it recorded them, or by ``create_memmap``: whatever is there)."""
    if not path.exists():
        if listed:
            raise FileNotFoundError(
                f"{str(path)!r} is missing; meta.json lists the trial_info columns {listed}"
            )
        return {}
    trial_info = read_npz(path)
    if listed is not None and sorted(trial_info) != sorted(listed):
        raise ValueError(
            f"{str(path)!r} holds the columns {sorted(trial_info)}; meta.json lists "
            f"{sorted(listed)}"
        )
    return trial_info


def _load_npy(path: Path, use_mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if use_mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{str(path)!r} is missing; the directory is incomplete") from None
    except (ValueError, OSError, EOFError) as error:  # EOFError: an empty file
        raise ValueError(f"{str(path)!r} is not a readable .npy file: {error}") from None
