"""The `Trials` container: trial-aligned neural activity and everything known about each trial.

`Trials` validates its fields on construction (through :mod:`neurognocchi._checks`),
supports indexing, selection and splits, and saves to and loads from its own lossless ``.npz``
format. Other files (plain arrays, memory-mapped directories, recordings) are read by
:func:`neurognocchi.data.load_trials`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from neurognocchi._checks import (
    InvalidArgumentError,
    as_behavior,
    as_bin_size,
    as_counts,
    as_info_column,
    as_trial_array,
)
from neurognocchi._io import atomic_write
from neurognocchi.data._lazy import ARRAY_FIELDS
from neurognocchi.data.npz import read_npz
from neurognocchi.data.splits import split_indices

NPZ_FORMAT_VERSION = 1
_AXES = ("x", "y", "z")  # suffixes of a quantity's behaviour channels (behavior_channel_names)


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

    Examples
    --------
    >>> trials = Trials(np.ones((4, 10, 3)), trial_info={"condition": [0, 1, 0, 1]})
    >>> trials.n_trials, trials.n_time, trials.n_neurons, len(trials.select(condition=1))
    (4, 10, 3, 2)
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
        self.activity = as_trial_array(activity, "activity", dtype=np.float32)
        n_trials, n_time, n_neurons = self.activity.shape
        for name, size in (("trials", n_trials), ("time bins", n_time), ("neurons", n_neurons)):
            if size == 0:
                raise InvalidArgumentError(f"activity has 0 {name}; shape {self.activity.shape}")
        self.spikes = None if spikes is None else as_counts(spikes)
        self.truth = None if truth is None else as_trial_array(truth, "truth", dtype=np.float32)
        for name in ("spikes", "truth"):
            array = getattr(self, name)
            if array is not None and array.shape != self.activity.shape:
                raise InvalidArgumentError(
                    f"{name} must have the shape of activity {self.activity.shape}; "
                    f"got {array.shape}"
                )
        self.behavior, self.behavior_names = as_behavior(
            behavior, names=behavior_names, activity_shape=self.activity.shape
        )
        self.trial_info = {
            str(key): as_info_column(value, str(key), n_trials)
            for key, value in (trial_info or {}).items()
        }
        self.bin_size_s = as_bin_size(bin_size_s)
        if not isinstance(align, str):
            raise InvalidArgumentError(f"align must be a str; got {type(align).__name__}")
        self.align = align

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

    def replace(self, **changes) -> Trials:
        """A new ``Trials`` with the fields in ``changes`` replaced (``activity``, ``spikes``,
        ``truth``, ``behavior``, ``behavior_names``, ``trial_info``, ``bin_size_s``, ``align``),
        checked like any new one; the arrays not replaced are shared, not copied.

        Examples
        --------
        >>> from neurognocchi.data import make_toy_dataset
        >>> toy = make_toy_dataset(20, n_neurons=4, n_time=6, random_state=0)
        >>> toy.replace(truth=None).truth is None
        True
        """
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
        return self.replace(
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
            raise InvalidArgumentError(
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
            raise InvalidArgumentError(f"{problem} {unknown}; present values: {present[:20]}{more}")
        return np.isin(column, values)

    def mark_heldout(self, heldout, *, key: str = "condition") -> Trials:
        """A copy whose boolean ``trial_info["heldout"]`` marks the trials with a ``key`` value
        in ``heldout`` (the column the evaluation protocol reads); unknown values are an error.
        """
        mask = self._mask_of(key, heldout, f"heldout names unknown {key} value(s)")
        if mask.all():
            raise InvalidArgumentError(f"heldout would hold out all {self.n_trials} trials")
        return self.replace(trial_info={**self.trial_info, "heldout": mask})

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the trials to a ``.npz`` file atomically (lossless; no pickled objects)."""
        path = Path(path)
        if path.suffix != ".npz":
            raise InvalidArgumentError(f"path must end in .npz; got {str(path)!r}")
        arrays = {name: getattr(self, name) for name in ARRAY_FIELDS}
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
        """Read trials written by :meth:`save` (an ``.npz`` file).

        This is the container's own format only; :func:`neurognocchi.data.load_trials` reads
        every supported file (plain arrays, memory-mapped directories, ``.mat``, NWB) and
        :func:`neurognocchi.data.open_memmap` a directory written by
        :func:`~neurognocchi.data.save_memmap`.

        Parameters
        ----------
        path : path
            An ``.npz`` file written by :meth:`save`.
        mmap : bool
            Must be False: ``.npz`` archives are compressed and cannot be memory-mapped.

        Returns
        -------
        Trials

        Raises
        ------
        ValueError
            For a directory, ``mmap=True``, or a file that is not a ``Trials`` archive.
        FileNotFoundError
            When ``path`` does not exist.
        """
        path = Path(path)
        if path.is_dir():
            raise InvalidArgumentError(
                f"{str(path)!r} is a directory; Trials.load reads .npz files written by "
                "Trials.save. Open a directory written by save_memmap with "
                "neurognocchi.data.load_trials(path, mmap=...) or neurognocchi.data.open_memmap"
            )
        if mmap:
            raise InvalidArgumentError(
                f"mmap=True needs a directory written by save_memmap; {str(path)!r} is not one "
                "(.npz archives cannot be memory-mapped: convert with "
                "neurognocchi.data.save_memmap(Trials.load(path), directory))"
            )
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {str(path)!r}")
        return trials_from_saved_arrays(read_npz(path), path)


def behavior_channel_names(name: str, n_channels: int) -> list[str]:
    """Names of the ``n_channels`` behaviour channels of one quantity ``name``, as every reader
    names them: ``name`` alone for one channel, ``name_x``, ``_y``, ``_z`` for up to three,
    ``name_0, name_1, ...`` beyond.

    Examples
    --------
    >>> behavior_channel_names("vel", 2), behavior_channel_names("emg", 4)
    (['vel_x', 'vel_y'], ['emg_0', 'emg_1', 'emg_2', 'emg_3'])
    """
    if n_channels == 1:
        return [name]
    if n_channels <= len(_AXES):
        return [f"{name}_{axis}" for axis in _AXES[:n_channels]]
    return [f"{name}_{i}" for i in range(n_channels)]


def trials_from_saved_arrays(contents: dict, path: Path) -> Trials:
    """Trials from the arrays of an ``.npz`` archive written by :meth:`Trials.save`.

    ``contents`` is the archive as :func:`~neurognocchi.data.npz.read_npz` returns it (its
    ``meta`` entry is consumed); ``path`` names the file in error messages. Shared by
    :meth:`Trials.load` and :func:`~neurognocchi.data.load_trials`, which has already read the
    archive to tell a saved ``Trials`` from plain arrays.
    """
    meta = _npz_meta(contents, path)
    trial_info = {key: contents[f"info/{key}"] for key in meta["trial_info_keys"]}
    return Trials(
        contents["activity"],
        **{name: contents.get(name) for name in ARRAY_FIELDS[1:]},
        behavior_names=meta["behavior_names"] if "behavior" in contents else None,
        trial_info=trial_info,
        bin_size_s=meta["bin_size_s"],
        align=meta["align"],
    )


def _npz_meta(contents: dict, path: Path) -> dict:
    """The metadata :meth:`Trials.save` wrote into ``contents`` (removed from it), checked."""
    if "meta" not in contents:
        raise InvalidArgumentError(
            f"{str(path)!r} was not written by Trials.save (no 'meta' entry); "
            "wrap plain arrays with neurognocchi.data.load_trials"
        )
    try:
        meta = json.loads(str(contents.pop("meta")))
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise InvalidArgumentError(f"{str(path)!r} has a 'meta' entry that is not Trials metadata")
    if meta.get("format") != "neurognocchi.Trials" or meta.get("version") != NPZ_FORMAT_VERSION:
        raise InvalidArgumentError(
            f"{str(path)!r} has an unsupported format: {meta.get('format')} "
            f"version {meta.get('version')}"
        )
    return meta
