"""`load_trials`: the one function that reads trials from any supported file or directory.

Every reader of the package is reached through it, chosen by the path:

* ``.npz`` written by :meth:`Trials.save` (everything restored), or plain arrays: an
  ``activity`` array ``[n_trials, n_time, n_neurons]`` and optionally ``spikes``, ``truth``,
  ``behavior`` and 1-D label arrays of length ``n_trials`` (each other 1-D array becomes a
  ``trial_info`` column), or trials of different lengths concatenated along rows (``spikes``
  ``[total_bins, n_neurons]`` and ``trial_offsets``; read by
  :func:`~neurognocchi.data.concatenated.read_concatenated`, aligned and cropped to one window);
* ``.npy`` holding one ``[n_trials, n_time, n_neurons]`` activity array;
* a directory written by :func:`~neurognocchi.data.save_memmap` (read into memory, or
  memory-mapped with ``mmap=True``);
* a ``.mat`` recording (:func:`~neurognocchi.data.load_mat`) or an ``.nwb`` recording
  (:func:`~neurognocchi.data.load_nwb`), binned and smoothed with the reader's options.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_bool
from neurognocchi.data._lazy import ARRAY_FIELDS
from neurognocchi.data.concatenated import read_concatenated
from neurognocchi.data.mat import load_mat
from neurognocchi.data.memmap import open_memmap
from neurognocchi.data.npz import read_npz
from neurognocchi.data.nwb.read import load_nwb, nwb_overview
from neurognocchi.data.trials import Trials, trials_from_saved_arrays

__all__ = ["describe_file", "load_trials"]

_RECORDING_READERS = {".mat": load_mat, ".nwb": load_nwb}
_CONCATENATED_OPTIONS = ("align", "window_s", "too_short", "smooth_sigma_s")
_CONVERT_HINT = (
    "read by {reader} with its defaults and the options given; pass the reader's options "
    "(on the command line: `neurognocchi convert` with --align, --window, --variable, ...)"
)


def load_trials(
    path: str | os.PathLike,
    *,
    mmap: bool = False,
    bin_size_s: float | None = None,
    **reader_kw,
) -> Trials:
    """Load trials from a file or a memory-mapped directory, whatever its kind.

    Parameters
    ----------
    path : path
        An ``.npz`` or ``.npy`` file, a directory written by
        :func:`~neurognocchi.data.save_memmap`, or a ``.mat`` or ``.nwb`` recording (see the
        module docstring for what each may hold).
    mmap : bool
        Memory-map the arrays instead of reading them into memory, so that a dataset larger
        than RAM can be used: for a directory or an ``.npy`` file only (``.npz`` archives are
        compressed and recordings are binned on reading, so neither can be mapped).
    bin_size_s : float, optional
        Bin width in seconds. Plain arrays: recorded as the trials' bin width (None:
        unknown). Recordings: the bin width to count spikes in (None: the reader's default).
        Ignored for files written by :meth:`Trials.save` or ``save_memmap``, which store it.
    **reader_kw
        Options of the recording's reader: :func:`~neurognocchi.data.load_mat` for ``.mat``
        (e.g. ``variable``, ``smooth_sigma_s``), :func:`~neurognocchi.data.load_nwb` for
        ``.nwb`` (e.g. ``align``, ``window_s``, ``smooth_sigma_s``), ``read_concatenated``
        for an ``.npz`` of trials of different lengths (``align``, ``window_s``,
        ``too_short``, ``smooth_sigma_s``). Refused for other kinds.

    Returns
    -------
    Trials

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError, TypeError
        For a kind of file not read here, an unreadable file, invalid contents or options
        that do not apply to the file's kind; the message names the problem.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     np.save(f"{folder}/rates.npy", np.ones((4, 10, 3)))
    ...     load_trials(f"{folder}/rates.npy", bin_size_s=0.02).activity.shape
    (4, 10, 3)
    """
    path = Path(path)
    mmap = check_bool(mmap, "mmap")
    with _naming_the_file(path):
        return _load(path, mmap=mmap, bin_size_s=bin_size_s, reader_kw=reader_kw)


def describe_file(path: str | os.PathLike) -> str:
    """What ``neurognocchi info`` prints: the trials :func:`load_trials` reads from ``path``;
    for an NWB file first what it offers (:func:`~neurognocchi.data.nwb.read.nwb_overview`:
    units, trials, series, the window observed around each time column), then what the
    reader's defaults read, or why they read nothing. Errors name the file."""
    path = Path(path)
    if path.suffix != ".nwb":
        return repr(load_trials(path))
    try:
        overview = nwb_overview(path)
    except (ValueError, TypeError, KeyError, OSError):
        return repr(load_trials(path))  # fails as every command reading the file does
    try:
        read = repr(load_trials(path))
    except InvalidArgumentError as error:  # a readable file the defaults do not fit
        read = str(error)
    return f"{overview}\nwith load_nwb's defaults: {read}"


@contextlib.contextmanager
def _naming_the_file(path: Path):
    """Errors raised inside name ``path``: a message that does not mention it gets it in
    front, so that whichever check fails, the user learns which file is wrong."""
    try:
        yield
    except (ValueError, TypeError, KeyError, OSError) as error:
        args = error.args
        if len(args) == 1 and isinstance(args[0], str) and str(path) not in args[0]:
            error.args = (f"{str(path)!r}: {args[0]}",)
        raise


def _load(path: Path, *, mmap: bool, bin_size_s, reader_kw: dict) -> Trials:
    if path.is_dir():
        _refuse_reader_options(reader_kw, "a directory written by save_memmap")
        return open_memmap(path, mmap=mmap)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if path.suffix in _RECORDING_READERS:
        return _read_recording(path, mmap=mmap, bin_size_s=bin_size_s, reader_kw=reader_kw)
    if path.suffix == ".npy":
        _refuse_reader_options(reader_kw, ".npy files")
        return Trials(_read_npy(path, mmap), bin_size_s=bin_size_s)
    if path.suffix == ".npz":
        return _read_npz_trials(path, mmap=mmap, bin_size_s=bin_size_s, reader_kw=reader_kw)
    raise ValueError(
        "path must be a .nwb, .mat, .npy or .npz file, or a directory written by save_memmap; "
        f"got {str(path)!r}"
    )


def _refuse_reader_options(reader_kw: dict, kind: str) -> None:
    if reader_kw:
        raise InvalidArgumentError(
            f"options {sorted(reader_kw)} do not apply to {kind}; reader options are for .mat "
            "(load_mat) and .nwb (load_nwb) recordings and .npz files of trials of different "
            "lengths (with trial_offsets; read_concatenated)"
        )


def _read_npy(path: Path, mmap: bool) -> np.ndarray:
    """The one array of an ``.npy`` file (memory-mapped read-only with ``mmap``)."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{str(path)!r} is not a readable .npy array: {error}") from None


def _read_npz_trials(path: Path, *, mmap: bool, bin_size_s: float | None, reader_kw) -> Trials:
    """Trials from an ``.npz`` archive: one written by ``Trials.save``, plain arrays, or trials
    of different lengths concatenated along rows."""
    if mmap:
        return Trials.load(path, mmap=True)  # raises: .npz archives cannot be memory-mapped
    contents = read_npz(path)
    if "trial_offsets" in contents:
        return _read_concatenated(contents, bin_size_s=bin_size_s, reader_kw=reader_kw)
    _refuse_reader_options(reader_kw, ".npz files")
    if "meta" in contents:  # written by Trials.save
        return trials_from_saved_arrays(contents, path)
    if "activity" not in contents:
        raise ValueError(
            f"{str(path)!r} has no 'activity' array; it holds: {', '.join(contents) or '(nothing)'}"
            " (trials of different lengths need 'spikes' and 'trial_offsets')"
        )
    fields = {name: contents.pop(name, None) for name in ARRAY_FIELDS}
    trial_info = {key: value for key, value in contents.items() if value.ndim == 1}
    return Trials(fields.pop("activity"), **fields, trial_info=trial_info, bin_size_s=bin_size_s)


def _read_concatenated(contents: dict, *, bin_size_s, reader_kw: dict) -> Trials:
    """Trials of different lengths, aligned; one warning names the trials dropped."""
    unknown = sorted(set(reader_kw) - set(_CONCATENATED_OPTIONS))
    if unknown:
        raise InvalidArgumentError(
            f"options {unknown} do not apply to trials of different lengths (.npz with "
            f"trial_offsets); theirs: {', '.join(_CONCATENATED_OPTIONS)}"
        )
    aligned = read_concatenated(contents, bin_size_s=bin_size_s, **reader_kw)
    if len(aligned.dropped):
        warnings.warn(aligned.describe(), UserWarning, stacklevel=5)
    return aligned.trials


def _read_recording(path: Path, *, mmap: bool, bin_size_s, reader_kw: dict) -> Trials:
    """A ``.mat`` or ``.nwb`` recording through its reader; read errors say how else to read."""
    reader = _RECORDING_READERS[path.suffix]
    if mmap:
        raise ValueError(
            f"mmap=True needs a directory written by save_memmap or an .npy file; {str(path)!r} "
            "is a recording, binned on reading (convert it, then save_memmap the trials)"
        )
    if bin_size_s is not None:
        reader_kw = {**reader_kw, "bin_size_s": bin_size_s}
    try:
        return reader(path, **reader_kw)
    except ValueError as error:
        hint = _CONVERT_HINT.format(reader=reader.__name__)
        raise type(error)(f"{error} ({hint})") from None
