"""The `Trials` container: trial-aligned neural activity and everything known about each trial."""

from __future__ import annotations

import json
import mmap
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from neurognocchi._io import atomic_write

NPZ_FORMAT_VERSION = 1
_ARRAY_FIELDS = ("activity", "spikes", "truth", "behavior")


_CHUNK_BYTES = 64 * 2**20  # checks of large (e.g. memory-mapped) arrays read this much at a time


def _trial_chunks(array: np.ndarray):
    """Consecutive blocks of trials of ``array`` of about ``_CHUNK_BYTES`` each, so checks of a
    memory-mapped array never hold more than one block (or its temporaries) in memory; the
    pages of a block are unmapped when the next one is asked for."""
    per_trial = max(1, array[:1].nbytes)
    step = max(1, _CHUNK_BYTES // per_trial)
    for start in range(0, len(array), step):
        yield array[start : start + step]
        _release_pages(array)  # once the caller is done with the block


def _release_pages(array) -> None:
    """Unmap the pages of a ``np.memmap`` that this process has read (``MADV_DONTNEED``).

    The data stay in the operating system's page cache, so reading them again is cheap, but
    they no longer count in the process's resident memory. No-op for other arrays.
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


def _as_finite_3d(name: str, value, *, dtype=None) -> np.ndarray:
    """Validate a ``[n_trials, n_time, n]`` array: numeric, rank 3, finite.

    A ``np.memmap`` stays memory-mapped (when already of ``dtype``) and is checked in blocks.
    """
    array = value if isinstance(value, np.memmap) else np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array; got dtype {array.dtype}")
    if array.ndim != 3:
        raise ValueError(f"{name} must have rank 3 [n_trials, n_time, n]; got shape {array.shape}")
    finite = all(np.all(np.isfinite(chunk)) for chunk in _trial_chunks(array))
    _release_pages(array)
    if not finite:
        chunks = _trial_chunks(array)
        n_bad = sum(int(c.size - np.count_nonzero(np.isfinite(c))) for c in chunks)
        raise ValueError(f"{name} contains {n_bad} NaN or infinite values")
    if dtype is None or array.dtype == dtype:
        return array
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(dtype)
    if np.issubdtype(dtype, np.floating) and not all(
        np.all(np.isfinite(chunk)) for chunk in _trial_chunks(cast)
    ):
        raise ValueError(
            f"{name} has values beyond the range of {np.dtype(dtype).name} "
            f"(|x| > {np.finfo(dtype).max:.3g})"
        )
    return cast


def _as_counts(value) -> np.ndarray:
    """Validate binned spike counts: whole, non-negative numbers, stored as integers."""
    counts = _as_finite_3d("spikes", value)
    negative = any(np.any(chunk < 0) for chunk in _trial_chunks(counts))
    _release_pages(counts)
    if negative:
        raise ValueError("spikes must be non-negative counts; found negative values")
    if np.issubdtype(counts.dtype, np.integer):
        return counts
    if any(np.any(chunk != np.round(chunk)) for chunk in _trial_chunks(counts)):
        raise ValueError("spikes must be whole-number counts; found non-integer values")
    fits_int32 = all(np.all(chunk <= np.iinfo(np.int32).max) for chunk in _trial_chunks(counts))
    return counts.astype(np.int32 if fits_int32 else np.int64)


def _as_info_column(key: str, value, n_trials: int) -> np.ndarray:
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


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(len(np.lib.format.MAGIC_PREFIX))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive at ``path`` (no pickles).

    Raises ValueError when the file is not a readable ``.npz`` archive: corrupt or truncated
    zip data raises ``zipfile.BadZipFile``/``zlib.error``/``EOFError`` inside NumPy, and a
    ``.npy`` array under an ``.npz`` name loads as a bare array.
    """
    if not zipfile.is_zipfile(path) and np.lib.format.MAGIC_PREFIX != _head(path):
        raise ValueError(f"{str(path)!r} is not a readable .npz file: it is not a zip archive")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, Mapping):
            raise ValueError("it holds a single array, not an .npz archive")
        with data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{str(path)!r} is not a readable .npz file: {error}") from None


class Trials:
    """Trial-aligned neural population activity and what is known about each trial.

    Parameters
    ----------
    activity : array, shape (n_trials, n_time, n_neurons)
        What the models see: smoothed rates or continuous unit activity. Stored as float32.
    spikes : array of whole numbers, shape (n_trials, n_time, n_neurons), optional
        Binned spike counts, when the source has spikes.
    truth : array, shape (n_trials, n_time, n_neurons), optional
        Ground-truth rates (synthetic data only), in the units of ``activity``.
    behavior : array, shape (n_trials, n_time, n_behavior), optional
        Behavioural time series, e.g. hand x, y, vx, vy.
    behavior_names : sequence of str, optional
        One name per behavioural channel; defaults to ``b0, b1, ...``.
    trial_info : mapping of str to 1-D arrays of length n_trials, optional
        Per-trial labels, e.g. ``target_x, target_y, start_x, start_y, condition, heldout``.
    bin_size_s : float, optional
        Width of one time bin in seconds (None when unknown).
    align : str
        What t=0 is aligned to and the window, e.g. ``"go_cue [-0.2, 0.8] s"``.

    Raises
    ------
    ValueError, TypeError
        On NaN/inf values, negative or fractional counts, wrong ranks, empty dimensions or
        fields whose lengths do not match ``activity``; the message names the field.
    """

    def __init__(
        self,
        activity,
        *,
        spikes=None,
        truth=None,
        behavior=None,
        behavior_names: Sequence[str] | None = None,
        trial_info: Mapping[str, object] | None = None,
        bin_size_s: float | None = None,
        align: str = "",
    ):
        self.activity = _as_finite_3d("activity", activity, dtype=np.float32)
        n_trials, n_time, n_neurons = self.activity.shape
        for name, size in (("trials", n_trials), ("time bins", n_time), ("neurons", n_neurons)):
            if size == 0:
                raise ValueError(f"activity has 0 {name}; shape {self.activity.shape}")
        self.spikes = None if spikes is None else _as_counts(spikes)
        self.truth = None if truth is None else _as_finite_3d("truth", truth, dtype=np.float32)
        for name in ("spikes", "truth"):
            array = getattr(self, name)
            if array is not None and array.shape != self.activity.shape:
                raise ValueError(
                    f"{name} must have the shape of activity {self.activity.shape}; "
                    f"got {array.shape}"
                )
        self.behavior, self.behavior_names = self._check_behavior(behavior, behavior_names)
        self.trial_info = {
            str(key): _as_info_column(str(key), value, n_trials)
            for key, value in (trial_info or {}).items()
        }
        self.bin_size_s = self._check_bin_size(bin_size_s)
        if not isinstance(align, str):
            raise TypeError(f"align must be a str; got {type(align).__name__}")
        self.align = align

    def _check_behavior(self, behavior, names):
        if behavior is None:
            if names is not None:
                raise ValueError("behavior_names was given without behavior")
            return None, ()
        behavior = _as_finite_3d("behavior", behavior, dtype=np.float32)
        if behavior.shape[:2] != self.activity.shape[:2]:
            raise ValueError(
                "behavior must have the same n_trials and n_time as activity "
                f"{self.activity.shape[:2]}; got {behavior.shape[:2]}"
            )
        names = tuple(f"b{i}" for i in range(behavior.shape[2])) if names is None else names
        names = tuple(str(name) for name in names)
        if len(names) != behavior.shape[2]:
            raise ValueError(
                f"behavior_names has {len(names)} names for {behavior.shape[2]} behaviour channels"
            )
        return behavior, names

    @staticmethod
    def _check_bin_size(bin_size_s):
        if bin_size_s is None:
            return None
        if isinstance(bin_size_s, bool) or not isinstance(bin_size_s, (int, float, np.number)):
            raise TypeError(f"bin_size_s must be a number; got {type(bin_size_s).__name__}")
        if not np.isfinite(bin_size_s) or bin_size_s <= 0:
            raise ValueError(f"bin_size_s must be a positive number of seconds; got {bin_size_s}")
        return float(bin_size_s)

    # ------------------------------------------------------------------ shape and access
    @property
    def n_trials(self) -> int:
        return self.activity.shape[0]

    @property
    def n_time(self) -> int:
        return self.activity.shape[1]

    @property
    def n_neurons(self) -> int:
        return self.activity.shape[2]

    def __len__(self) -> int:
        return self.n_trials

    def __repr__(self) -> str:
        fields = [name for name in ("spikes", "truth") if getattr(self, name) is not None]
        if self.behavior is not None:
            fields.append(f"behavior[{', '.join(self.behavior_names)}]")
        bin_size = "unknown" if self.bin_size_s is None else f"{self.bin_size_s * 1e3:g} ms"
        lines = [
            f"Trials(n_trials={self.n_trials}, n_time={self.n_time}, "
            f"n_neurons={self.n_neurons}, bin_size={bin_size})",
            f"  fields: activity{', ' if fields else ''}{', '.join(fields)}",
            f"  trial_info: {', '.join(self.trial_info) or '(none)'}",
        ]
        if self.align:
            lines.append(f"  align: {self.align}")
        return "\n".join(lines)

    def _replace(self, **changes) -> Trials:
        fields = dict(
            activity=self.activity,
            spikes=self.spikes,
            truth=self.truth,
            behavior=self.behavior,
            behavior_names=self.behavior_names if self.behavior is not None else None,
            trial_info=self.trial_info,
            bin_size_s=self.bin_size_s,
            align=self.align,
        )
        fields.update(changes)
        return Trials(**fields)

    def __getitem__(self, index) -> Trials:
        """Subset trials by an int, a slice, an integer array or a boolean mask."""
        index = self._normalise_index(index)
        return self._replace(
            activity=self.activity[index],
            spikes=None if self.spikes is None else self.spikes[index],
            truth=None if self.truth is None else self.truth[index],
            behavior=None if self.behavior is None else self.behavior[index],
            trial_info={key: column[index] for key, column in self.trial_info.items()},
        )

    def _normalise_index(self, index):
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            if not -self.n_trials <= index < self.n_trials:
                raise IndexError(f"trial index {index} out of range for {self.n_trials} trials")
            index = index % self.n_trials
            return slice(index, index + 1)
        if isinstance(index, slice):
            return index
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (self.n_trials,):
                raise IndexError(
                    f"boolean mask must have shape ({self.n_trials},); got {index.shape}"
                )
            return index
        if index.ndim == 1 and (index.size == 0 or np.issubdtype(index.dtype, np.integer)):
            return index.astype(np.intp)
        raise IndexError(f"cannot index trials with {type(index).__name__} of dtype {index.dtype}")

    def info(self, key: str) -> np.ndarray:
        """Return the ``trial_info`` column ``key``; the error lists the available keys."""
        if key not in self.trial_info:
            raise KeyError(
                f"trial_info has no {key!r}; available: {', '.join(self.trial_info) or '(none)'}"
            )
        return self.trial_info[key]

    def select(self, **criteria) -> Trials:
        """Trials whose ``trial_info`` matches every criterion.

        Each keyword names a ``trial_info`` column; its value is one allowed value or a list
        of them, e.g. ``trials.select(heldout=False)`` or ``trials.select(condition=[0, 3])``.
        """
        mask = np.ones(self.n_trials, dtype=bool)
        for key, allowed in criteria.items():
            mask &= self._mask_of(key, allowed, f"{key} has no trials with value(s)")
        return self[mask]

    # ------------------------------------------------------------------ splits
    def split(
        self,
        fractions: Sequence[float] = (0.8, 0.2),
        *,
        stratify_by: str | None = "condition",
        random_state: int = 0,
    ) -> tuple[Trials, ...]:
        """Split trials at random into parts of the given fractions (e.g. train, valid).

        Parameters
        ----------
        fractions : sequence of float
            Positive fractions summing to 1, one per returned part.
        stratify_by : str or None
            ``trial_info`` column whose values are spread evenly across parts (ignored when
            the column is absent); None for a plain random split.
        random_state : int
            Seed of the permutation.

        Returns
        -------
        tuple of Trials, one per fraction. Every part holds at least one trial.
        """
        parts = self.split_indices(fractions, stratify_by=stratify_by, random_state=random_state)
        return tuple(self[part] for part in parts)

    def split_indices(
        self,
        fractions: Sequence[float] = (0.8, 0.2),
        *,
        stratify_by: str | None = "condition",
        random_state: int = 0,
    ) -> list[np.ndarray]:
        """The sorted trial indices of each part of :meth:`split` (same arguments), without
        copying any data: useful for memory-mapped trials."""
        from neurognocchi.data.splits import split_indices

        labels = None
        if stratify_by is not None and stratify_by in self.trial_info:
            labels = self.trial_info[stratify_by]
        return split_indices(self.n_trials, fractions, labels=labels, random_state=random_state)

    def split_by_condition(self, heldout=None, *, key: str = "condition") -> tuple[Trials, Trials]:
        """Split into (held-in, held-out) trials by condition.

        Parameters
        ----------
        heldout : sequence or None
            Values of ``trial_info[key]`` to hold out. None uses the boolean ``heldout``
            column of ``trial_info``.
        key : str
            The condition column.
        """
        if heldout is None:
            mask = self.info("heldout").astype(bool)
        else:
            mask = self._mask_of(key, heldout, f"heldout names unknown {key} value(s)")
        if mask.all() or not mask.any():
            raise ValueError(
                f"split_by_condition needs trials on both sides; {int(mask.sum())} of "
                f"{self.n_trials} trials are held out"
            )
        return self[~mask], self[mask]

    def _mask_of(self, key: str, values, problem: str) -> np.ndarray:
        """Mask of the trials whose ``trial_info[key]`` is one of ``values``; a value with no
        trial is an error saying ``problem``, the missing values and the present ones."""
        column = self.info(key)
        values = np.atleast_1d(np.asarray(values))
        unknown = [value.item() for value in values if not np.any(column == value)]
        if unknown:
            present = np.unique(column).tolist()
            more = f" (and {len(present) - 20} more)" if len(present) > 20 else ""
            raise ValueError(f"{problem} {unknown}; present values: {present[:20]}{more}")
        return np.isin(column, values)

    def mark_heldout(self, heldout, *, key: str = "condition") -> Trials:
        """A copy whose boolean ``trial_info["heldout"]`` marks the trials with a ``key`` value
        in ``heldout`` (the column the evaluation protocol reads); unknown values are an error.
        """
        mask = self._mask_of(key, heldout, f"heldout names unknown {key} value(s)")
        if mask.all():
            raise ValueError(f"heldout would hold out all {self.n_trials} trials")
        return self._replace(trial_info={**self.trial_info, "heldout": mask})

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the trials to a ``.npz`` file atomically (lossless; no pickled objects)."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"path must end in .npz; got {str(path)!r}")
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        arrays = {name: value for name, value in arrays.items() if value is not None}
        arrays.update({f"info/{key}": column for key, column in self.trial_info.items()})
        meta = {
            "format": "neurognocchi.Trials",
            "version": NPZ_FORMAT_VERSION,
            "bin_size_s": self.bin_size_s,
            "align": self.align,
            "behavior_names": list(self.behavior_names),
            "trial_info_keys": list(self.trial_info),
        }
        arrays["meta"] = np.array(json.dumps(meta))
        with atomic_write(path) as handle:
            np.savez_compressed(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, mmap: bool = False) -> Trials:
        """Read trials written by :meth:`save` (an ``.npz`` file) or by
        :func:`neurognocchi.data.save_memmap` (a directory of ``.npy`` files).

        Parameters
        ----------
        path : path
        mmap : bool
            Memory-map the arrays of a directory instead of reading them into memory, so a
            dataset larger than RAM can be used (``.npz`` archives cannot be memory-mapped).
        """
        path = Path(path)
        if path.is_dir():
            from neurognocchi.data.memmap import open_memmap

            return open_memmap(path, mmap=mmap)
        if mmap:
            raise ValueError(
                f"mmap=True needs a directory written by save_memmap; {str(path)!r} is not one "
                "(.npz archives cannot be memory-mapped: convert with "
                "neurognocchi.data.save_memmap(Trials.load(path), directory))"
            )
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {str(path)!r}")
        contents = _read_npz(path)
        if "meta" not in contents:
            raise ValueError(
                f"{str(path)!r} was not written by Trials.save (no 'meta' entry); "
                "wrap plain arrays with neurognocchi.data.load_trials"
            )
        try:
            meta = json.loads(str(contents.pop("meta")))
        except ValueError:
            meta = None
        if not isinstance(meta, dict):
            raise ValueError(f"{str(path)!r} has a 'meta' entry that is not Trials metadata")
        if meta.get("format") != "neurognocchi.Trials" or meta.get("version") != NPZ_FORMAT_VERSION:
            raise ValueError(
                f"{str(path)!r} has an unsupported format: {meta.get('format')} "
                f"version {meta.get('version')}"
            )
        trial_info = {key: contents[f"info/{key}"] for key in meta["trial_info_keys"]}
        return cls(
            contents["activity"],
            **{name: contents.get(name) for name in _ARRAY_FIELDS[1:]},
            behavior_names=meta["behavior_names"] if "behavior" in contents else None,
            trial_info=trial_info,
            bin_size_s=meta["bin_size_s"],
            align=meta["align"],
        )
