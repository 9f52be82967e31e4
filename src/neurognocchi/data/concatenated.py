"""Trials of different lengths stored one after the other along rows (the concatenated layout).

:func:`split_concatenated` cuts such rows into one array per trial; :func:`read_concatenated`
turns the arrays of a file in that layout (``spikes``, ``trial_offsets`` and per-bin and
per-trial arrays, e.g. ``../shared/data/m1_centerout``) into trials aligned by
:func:`~neurognocchi.data.align_trials`. :func:`~neurognocchi.data.load_trials` and
``neurognocchi convert`` read such ``.npz`` files through it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from neurognocchi._checks import InvalidArgumentError, as_bin_size, check_real
from neurognocchi.data.ragged import AlignedTrials, align_trials

__all__ = ["read_concatenated", "split_concatenated"]


def split_concatenated(rows, trial_offsets) -> list[np.ndarray]:
    """Cut rows of all trials stacked one after the other into one array per trial.

    Parameters
    ----------
    rows : array, shape (total_bins, ...)
        The bins of every trial, concatenated along the first axis.
    trial_offsets : int array, shape (n_trials + 1,)
        Trial ``k`` is ``rows[trial_offsets[k]:trial_offsets[k + 1]]``: starts at 0, never
        decreases, ends at ``total_bins``.

    Returns
    -------
    list of arrays, one per trial, shape (n_time_k, ...) (views of ``rows``)

    Examples
    --------
    >>> [trial.tolist() for trial in split_concatenated(np.arange(5), [0, 2, 5])]
    [[0, 1], [2, 3, 4]]
    """
    rows = np.asarray(rows)
    offsets = np.asarray(trial_offsets)
    if rows.ndim == 0:
        raise InvalidArgumentError(f"rows must have a first axis of bins; got shape {rows.shape}")
    if offsets.ndim != 1 or len(offsets) < 2 or offsets.dtype.kind not in "iu":
        raise InvalidArgumentError(
            "trial_offsets must be a 1-D integer array of n_trials + 1 >= 2 row indices; "
            f"got shape {offsets.shape}, dtype {offsets.dtype}"
        )
    if offsets[0] != 0 or offsets[-1] != len(rows):
        raise InvalidArgumentError(
            f"trial_offsets must start at 0 and end at the number of rows ({len(rows)}); "
            f"got {offsets[0]} ... {offsets[-1]}"
        )
    decreasing = np.flatnonzero(np.diff(offsets) < 0)
    if decreasing.size:
        k = decreasing[0]
        raise InvalidArgumentError(
            f"trial_offsets must never decrease; trial_offsets[{k}] = {offsets[k]} > "
            f"trial_offsets[{k + 1}] = {offsets[k + 1]}"
        )
    return [rows[start:stop] for start, stop in itertools.pairwise(offsets)]


def read_concatenated(
    contents: Mapping[str, np.ndarray],
    *,
    align: str = "start",
    window_s: tuple[float, float] | None = None,
    too_short: str = "raise",
    smooth_sigma_s: float | None = None,
    bin_size_s: float | None = None,
) -> AlignedTrials:
    """Aligned trials from the arrays of a file in the concatenated layout.

    The layout (e.g. ``../shared/data/m1_centerout``): ``spikes`` [total_bins, n_neurons]
    with all trials one after the other, ``trial_offsets`` [n_trials + 1] (see
    :func:`split_concatenated`); every other floating-point array with ``total_bins`` rows
    (1-D or 2-D) becomes behaviour (integer ones, such as a bin counter, are ignored), every
    other 1-D array of length ``n_trials`` a ``trial_info`` column, a scalar ``bin_size_s``
    the bin width; other arrays are ignored.
    ``trial_info["trial_index"]`` records each kept trial's index in the file.

    Parameters
    ----------
    contents : mapping of str to arrays
        The file's arrays, e.g. :func:`~neurognocchi.data.npz.read_npz` of an ``.npz``.
    align : str
        ``"start"``, ``"end"``, or the name of a per-trial integer column holding each
        trial's event bin (see :func:`align_trials`).
    window_s : (float, float), optional
        ``(start, stop)`` seconds from the event, whole numbers of bins; None: the widest
        window every trial covers.
    too_short, smooth_sigma_s
        As :func:`align_trials`.
    bin_size_s : float, optional
        Bin width in seconds when the file does not store one (the file's wins).

    Returns
    -------
    AlignedTrials
    """
    missing = [key for key in ("spikes", "trial_offsets") if key not in contents]
    if missing:
        raise InvalidArgumentError(
            f"trials of different lengths need 'spikes' and 'trial_offsets'; missing "
            f"{missing}, present: {', '.join(contents) or '(nothing)'}"
        )
    arrays = {key: np.asarray(value) for key, value in contents.items()}
    spikes, offsets = arrays.pop("spikes"), arrays.pop("trial_offsets")
    if spikes.ndim != 2:
        raise InvalidArgumentError(
            "spikes must be [total_bins, n_neurons] (trials concatenated); got shape "
            f"{spikes.shape}"
        )
    counts = split_concatenated(spikes, offsets)
    stored = arrays.pop("bin_size_s", None)
    bin_size_s = as_bin_size(bin_size_s if stored is None else _scalar(stored, "bin_size_s"))
    behavior, info = _per_bin_and_per_trial(arrays, offsets)
    if not isinstance(align, str) or align not in ("start", "end", *info):
        raise InvalidArgumentError(
            f"align must be 'start', 'end' or a per-trial column holding each trial's event "
            f"bin; got {align!r}; per-trial columns: {', '.join(info)}"
        )
    return align_trials(
        counts,
        align=align if align in ("start", "end") else info[align],
        window=None if window_s is None else _window_in_bins(window_s, bin_size_s),
        behavior=behavior,
        trial_info=info,
        bin_size_s=bin_size_s,
        smooth_sigma_s=smooth_sigma_s,
        too_short=too_short,
        event_name=align,
    )


def _per_bin_and_per_trial(arrays: dict, offsets: np.ndarray) -> tuple[dict, dict]:
    """(behaviour, trial_info) of a concatenated file: its float arrays with one row per bin,
    split per trial, and its 1-D arrays with one value per trial (plus ``trial_index``)."""
    n_rows, n_trials = offsets[-1], len(offsets) - 1
    behavior = {
        key: split_concatenated(value, offsets)
        for key, value in arrays.items()
        if value.ndim in (1, 2) and len(value) == n_rows and value.dtype.kind == "f"
    }
    info = {
        key: value
        for key, value in arrays.items()
        if key not in behavior and value.ndim == 1 and len(value) == n_trials
    }
    info.setdefault("trial_index", np.arange(n_trials))
    return behavior, info


def _window_in_bins(window_s, bin_size_s) -> tuple[int, int]:
    """``window_s`` (seconds) as whole bins from the event."""
    if bin_size_s is None:
        raise InvalidArgumentError("window_s needs the bin width: the file has no bin_size_s")
    if (
        isinstance(window_s, str)
        or not isinstance(window_s, (Sequence, np.ndarray))
        or len(window_s) != 2
    ):
        raise InvalidArgumentError(f"window_s must be (start, stop) in seconds; got {window_s!r}")
    bins = [check_real(value, f"window_s[{i}]") / bin_size_s for i, value in enumerate(window_s)]
    if any(abs(value - round(value)) > 1e-6 for value in bins):
        raise InvalidArgumentError(
            f"window_s {tuple(window_s)} is not a whole number of bins of bin_size_s={bin_size_s}"
        )
    return round(bins[0]), round(bins[1])


def _scalar(value: np.ndarray, name: str) -> float:
    if value.size != 1 or value.dtype.kind not in "iuf":
        raise InvalidArgumentError(
            f"{name} in the file must be one number; got shape {value.shape}, dtype {value.dtype}"
        )
    return float(value.reshape(()))
