"""Trials of different lengths in, aligned trials out: :func:`align_trials`.

Real recordings rarely give every trial the same number of bins. :func:`align_trials` crops
every trial to the same window of bins around an event (the trial's start, its end, or a bin
given per trial) and builds a `Trials`, refusing (or dropping, and reporting) the trials too
short for the window. Files that store such trials concatenated along rows are read by
:mod:`neurognocchi.data.concatenated`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from neurognocchi._checks import (
    InvalidArgumentError,
    as_bin_size,
    as_counts,
    as_info_column,
    check_choice,
    check_finite_array,
    check_int,
    check_real,
)
from neurognocchi.data.preprocess import gaussian_smooth
from neurognocchi.data.trials import Trials, behavior_channel_names

__all__ = ["AlignedTrials", "align_trials"]

_LISTED = 5  # too-short trials an error lists by index


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class AlignedTrials:
    """What :func:`align_trials` returns: the aligned trials and which input trials they are.

    Attributes
    ----------
    trials : Trials
        The kept trials, each cropped to ``window``.
    kept : int array, shape (n_kept,)
        Index (in the input) of each trial of ``trials``, in order.
    dropped : int array, shape (n_dropped,)
        Indices of the input trials too short for the window (empty unless
        ``too_short="drop"``).
    window : (int, int)
        The window, ``(start, stop)`` bins from the event (``stop`` excluded).
    """

    trials: Trials
    kept: np.ndarray
    dropped: np.ndarray
    window: tuple[int, int]

    def describe(self) -> str:
        """One line: the window and how many trials were kept and dropped (which ones)."""
        n_total = len(self.kept) + len(self.dropped)
        line = f"aligned on {self.trials.align}: kept {len(self.kept)} of {n_total} trials"
        if len(self.dropped):
            line += f", dropped {len(self.dropped)} too short ({_list_indices(self.dropped)})"
        return line


def align_trials(
    counts: Sequence,
    *,
    align: str | int | Sequence[int] = "start",
    window: tuple[int, int] | None = None,
    behavior: Mapping[str, Sequence] | None = None,
    trial_info: Mapping[str, object] | None = None,
    bin_size_s: float | None = None,
    smooth_sigma_s: float | None = None,
    too_short: str = "raise",
    event_name: str | None = None,
) -> AlignedTrials:
    """Build `Trials` from trials of different lengths, cropped to one window around an event.

    Parameters
    ----------
    counts : sequence of int arrays, each shape (n_time_k, n_neurons)
        Binned spike counts of each trial; lengths may differ, neurons may not.
    align : {"start", "end"}, int or sequence of int
        The event of each trial, as a bin index within it: ``"start"`` (bin 0), ``"end"``
        (``n_time_k``, just after the last bin), one bin for every trial, or one per trial
        (between 0 and ``n_time_k``).
    window : (int, int), optional
        ``(start, stop)``: the bins from ``event + start`` up to ``event + stop`` (excluded)
        are kept, e.g. ``(0, 10)`` with ``"start"``, ``(-10, 0)`` with ``"end"``, ``(-5, 15)``
        around a go cue. None: the widest window every trial covers.
    behavior : mapping of str to sequences of arrays, optional
        Per-bin behaviour: for each name one array per trial, shape (n_time_k,) or
        (n_time_k, D), cropped like the counts. Channels are named ``<name>`` (D = 1),
        ``<name>_x``, ``_y``, ``_z`` (D <= 3) or ``<name>_0, ...``.
    trial_info : mapping of str to 1-D arrays of length n_trials, optional
        Per-trial labels, kept for the kept trials.
    bin_size_s : float, optional
        Bin width in seconds; ``activity`` is then in Hz (counts / ``bin_size_s``), else in
        counts per bin.
    smooth_sigma_s : float, optional
        S.d. (seconds) of the acausal Gaussian turning counts into ``activity``, applied to
        each whole trial before cropping (so the window's edges see their neighbours); needs
        ``bin_size_s``. None or 0: no smoothing.
    too_short : {"raise", "drop"}
        What to do with trials the window does not fit in: refuse them (the error lists
        them) or drop them (``dropped`` of the result lists them).
    event_name : str, optional
        What the event is called in ``trials.align`` (default: ``align`` when it is a str,
        else ``"event"``), e.g. ``"go_cue"``.

    Returns
    -------
    AlignedTrials
        ``trials`` (``spikes``, ``activity``, ``behavior``, ``trial_info`` of the kept
        trials; ``align`` says the event and the window), ``kept``, ``dropped``, ``window``.

    Raises
    ------
    ValueError, TypeError
        For counts that are not whole non-negative numbers, trials with different neurons,
        behaviour whose length differs from its trial's, an event outside its trial, a bad
        window, or (``too_short="raise"``) trials shorter than the window; the message names
        the argument and, for short trials, which ones.

    Examples
    --------
    >>> counts = [np.ones((n_time, 3), dtype=int) for n_time in (4, 6, 2)]
    >>> aligned = align_trials(counts, align="end", window=(-3, 0), too_short="drop")
    >>> aligned.trials.spikes.shape, aligned.kept.tolist(), aligned.dropped.tolist()
    ((2, 3, 3), [0, 1], [2])
    """
    counts = _as_ragged_counts(counts)
    lengths = np.array([len(trial) for trial in counts])
    behavior = {
        str(name): _as_ragged_behavior(values, str(name), lengths)
        for name, values in (behavior or {}).items()
    }
    info = {
        str(key): as_info_column(value, str(key), len(counts))
        for key, value in (trial_info or {}).items()
    }
    check_choice(too_short, "too_short", ("raise", "drop"))
    bin_size_s = as_bin_size(bin_size_s)
    if smooth_sigma_s:
        check_real(smooth_sigma_s, "smooth_sigma_s", low=0.0, low_open=True)
        if bin_size_s is None:
            raise InvalidArgumentError("smooth_sigma_s needs bin_size_s (the bin width)")
    events = _event_bins(align, lengths)
    label = event_name or (align if isinstance(align, str) else "event")
    window = _check_window(window, events, lengths)
    kept, dropped = _fitting_trials(events, lengths, window, label, too_short)
    starts = events[kept] + window[0]
    n_time = window[1] - window[0]

    def crop(arrays) -> np.ndarray:  # (n_kept, n_time, ...) from the kept trials of arrays
        pairs = zip(kept, starts, strict=True)
        return np.stack([arrays[k][start : start + n_time] for k, start in pairs])

    activity = {k: _activity(counts[k], bin_size_s, smooth_sigma_s) for k in kept}
    channels, names = None, None
    if behavior:
        channels = np.concatenate([crop(arrays) for arrays in behavior.values()], axis=2)
        names = [
            name
            for key, arrays in behavior.items()
            for name in behavior_channel_names(key, arrays[0].shape[1])
        ]
    trials = Trials(
        crop(activity),
        spikes=crop(counts),
        behavior=channels,
        behavior_names=names,
        trial_info={key: column[kept] for key, column in info.items()},
        bin_size_s=bin_size_s,
        align=_describe_window(label, window, bin_size_s),
    )
    return AlignedTrials(trials, kept, dropped, window)


# ---------------------------------------------------------------------- checks
def _as_ragged_counts(counts) -> list[np.ndarray]:
    """``counts`` as a list of checked ``(n_time_k, n_neurons)`` count arrays."""
    if isinstance(counts, (str, bytes, Mapping)) or not isinstance(counts, (Sequence, np.ndarray)):
        raise InvalidArgumentError(
            "counts must be a sequence of per-trial arrays (n_time_k, n_neurons); "
            f"got {type(counts).__name__}"
        )
    if len(counts) == 0:
        raise InvalidArgumentError("counts holds no trial")
    checked = []
    for k, trial in enumerate(counts):
        trial = np.asarray(trial)
        if trial.ndim != 2:
            raise InvalidArgumentError(
                f"counts[{k}] must have rank 2 (n_time, n_neurons); got shape {trial.shape}"
            )
        checked.append(as_counts(trial[None], f"counts[{k}]")[0])
        if trial.shape[1] != checked[0].shape[1]:
            raise InvalidArgumentError(
                f"every trial must have the same neurons: counts[{k}] has {trial.shape[1]}, "
                f"counts[0] has {checked[0].shape[1]}"
            )
    return checked


def _as_ragged_behavior(values, name: str, lengths: np.ndarray) -> list[np.ndarray]:
    """The per-trial arrays of behaviour ``name`` as float ``(n_time_k, D)``, checked against
    the trials' lengths."""
    where = f"behavior[{name!r}]"
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise InvalidArgumentError(f"{where} must be a sequence of per-trial arrays")
    if len(values) != len(lengths):
        raise InvalidArgumentError(
            f"{where} must hold one array per trial ({len(lengths)}); got {len(values)}"
        )
    checked = []
    for k, value in enumerate(values):
        array = check_finite_array(value, f"{where}[{k}]").astype(np.float64)
        array = array[:, None] if array.ndim == 1 else array
        if array.ndim != 2:
            raise InvalidArgumentError(
                f"{where}[{k}] must be (n_time,) or (n_time, D); got shape {array.shape}"
            )
        if len(array) != lengths[k]:
            raise InvalidArgumentError(
                f"{where}[{k}] has {len(array)} bins but counts[{k}] has {lengths[k]}"
            )
        if checked and array.shape[1] != checked[0].shape[1]:
            raise InvalidArgumentError(
                f"{where}[{k}] has {array.shape[1]} channels, {where}[0] {checked[0].shape[1]}"
            )
        checked.append(array)
    return checked


def _event_bins(align, lengths: np.ndarray) -> np.ndarray:
    """The event bin of each trial (0 to ``n_time_k``), from ``align``."""
    if isinstance(align, str):
        check_choice(align, "align", ("start", "end"))
        return np.zeros_like(lengths) if align == "start" else lengths.copy()
    if isinstance(align, (int, np.integer)) and not isinstance(align, (bool, np.bool_)):
        events = np.full(len(lengths), int(align))
    else:
        events = np.asarray(align)
        if events.dtype.kind not in "iu" or events.shape != lengths.shape:
            raise InvalidArgumentError(
                f"align must be 'start', 'end', an int or one integer bin per trial "
                f"({len(lengths)}); got shape {events.shape}, dtype {events.dtype}"
            )
    outside = np.flatnonzero((events < 0) | (events > lengths))
    if outside.size:
        k = outside[0]
        raise InvalidArgumentError(
            f"align puts the event of trial {k} at bin {events[k]}, outside the trial (0 to "
            f"{lengths[k]}); {outside.size} of {len(lengths)} trials have their event outside"
        )
    return events.astype(np.int64)


def _check_window(window, events: np.ndarray, lengths: np.ndarray) -> tuple[int, int]:
    """``window`` as ``(start, stop)`` bins, start < stop; None: the widest every trial covers."""
    if window is None:
        start, stop = -int(events.min()), int((lengths - events).min())
        if stop <= start:
            i, j = int(np.argmin(events)), int(np.argmin(lengths - events))
            raise InvalidArgumentError(
                f"window=None: no bin around the event is in every trial (trial {i} has "
                f"{events[i]} bins before its event, trial {j} {lengths[j] - events[j]} from "
                "it); give a window and too_short='drop'"
            )
        return start, stop
    if (
        isinstance(window, str)
        or not isinstance(window, (Sequence, np.ndarray))
        or len(window) != 2
    ):
        raise InvalidArgumentError(f"window must be (start, stop) in bins; got {window!r}")
    start, stop = (check_int(value, f"window[{i}]") for i, value in enumerate(window))
    if stop <= start:
        raise InvalidArgumentError(f"window must be (start, stop) with start < stop; got {window}")
    return start, stop


def _fitting_trials(events, lengths, window, label: str, too_short: str):
    """(kept, dropped): the trials the window fits in and the others; refused per ``too_short``."""
    fits = (events + window[0] >= 0) & (events + window[1] <= lengths)
    kept, short = np.flatnonzero(fits), np.flatnonzero(~fits)
    if short.size and (too_short == "raise" or not kept.size):
        at_event = label not in ("start", "end")  # the event bin tells why a trial is short
        shown = [
            f"{k} ({lengths[k]} bins{f', event at {events[k]}' if at_event else ''})"
            for k in short[:_LISTED]
        ]
        more = f" and {short.size - _LISTED} more" if short.size > _LISTED else ""
        advice = (
            "no trial is long enough"
            if not kept.size
            else f"too_short='drop' would drop these {short.size} of {len(lengths)} trials"
        )
        raise InvalidArgumentError(
            f"window {window} (bins from the {label}) does not fit in {short.size} of "
            f"{len(lengths)} trials: trials {', '.join(shown)}{more}; {advice}"
        )
    return kept, short


# ---------------------------------------------------------------------- small helpers
def _activity(counts: np.ndarray, bin_size_s, smooth_sigma_s) -> np.ndarray:
    """One whole trial's activity: counts in Hz (per bin without a bin width), smoothed."""
    rates = counts / bin_size_s if bin_size_s else counts.astype(np.float64)
    if smooth_sigma_s:
        rates = gaussian_smooth(rates, sigma_s=smooth_sigma_s, bin_size_s=bin_size_s, axis=0)
    return rates


def _describe_window(label: str, window: tuple[int, int], bin_size_s) -> str:
    """What ``Trials.align`` records, e.g. ``"end [-0.4, 0] s"``."""
    if bin_size_s is None:
        return f"{label} bins [{window[0]}, {window[1]})"
    return f"{label} [{window[0] * bin_size_s:g}, {window[1] * bin_size_s:g}] s"


def _list_indices(indices: np.ndarray) -> str:
    more = f" and {len(indices) - _LISTED} more" if len(indices) > _LISTED else ""
    return f"trials {', '.join(map(str, indices[:_LISTED].tolist()))}{more}"
