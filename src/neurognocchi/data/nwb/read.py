"""Read NWB files in the Neural Latents Benchmark layout into `Trials`.

pynwb is an optional dependency (``pip install "neurognocchi[nwb]"``), imported inside the
functions that need it. The layout read is the one of the Neural Latents Benchmark files
(DANDI 000126-000129): ``units`` with ``spike_times`` and optional ``obs_intervals`` and
``heldout`` columns, an optional ``trials`` table, and behavioural ``TimeSeries`` in
``acquisition`` or in processing modules (e.g. ``processing/behavior/finger_pos``).

Besides :func:`load_nwb`, the helpers here (opening a file, finding and sampling its time
series) are public for the other NWB modules: MC_RTT trialisation and the writers.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_choice
from neurognocchi.data.preprocess import bin_spike_times, gaussian_smooth
from neurognocchi.data.trials import Trials

BEHAVIOR_SERIES = ("cursor_pos", "finger_pos", "finger_vel", "target_pos", "hand_pos", "hand_vel")
UNIT_SELECTIONS = ("all", "heldin", "heldout")

__all__ = [
    "BEHAVIOR_SERIES",
    "UNIT_SELECTIONS",
    "describe_nwb",
    "find_series",
    "import_pynwb",
    "interpolate_series",
    "load_nwb",
    "open_nwb",
    "read_named_series",
    "read_series",
]
_AXES = ("x", "y", "z")


def import_pynwb():
    """The ``pynwb`` module; ImportError with the install command when it is missing."""
    try:
        import pynwb
    except ImportError:
        raise ImportError(
            'reading and writing NWB files needs pynwb: pip install "neurognocchi[nwb]"'
        ) from None
    return pynwb


@contextlib.contextmanager
def open_nwb(path: str | os.PathLike):
    """Yield the NWBFile at ``path`` (read-only); ValueError when it is not a readable NWB file."""
    pynwb = import_pynwb()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
    except Exception as error:  # h5py/hdmf raise many types for a bad file
        raise ValueError(f"{str(path)!r} is not a readable NWB file: {_reason(error)}") from None
    try:
        try:
            nwbfile = io.read()
        except Exception as error:
            raise ValueError(
                f"{str(path)!r} is not a readable NWB file: {_reason(error)}"
            ) from None
        yield nwbfile
    finally:
        io.close()


@contextlib.contextmanager
def _broken_parts(path):
    """A file that opens but whose parts are broken (a dataset deleted, an index pointing
    nowhere) fails inside pynwb/hdmf/h5py with errors of many types: one ValueError instead."""
    try:
        yield
    except InvalidArgumentError:
        raise
    except (AttributeError, IndexError, TypeError, OSError, RuntimeError) as error:
        raise ValueError(f"{str(path)!r} is not a readable NWB file: {_reason(error)}") from None


def _reason(error: Exception, limit: int = 300) -> str:
    """What went wrong, in one line of at most ``limit`` characters. hdmf's ConstructError
    carries (builder, reason), whose text would print the whole builder: keep its location
    and reason."""
    args = error.args
    if type(error).__name__ == "ConstructError" and len(args) == 2:
        text = f"{getattr(args[0], 'path', '?')}: {args[1]}"
    else:
        text = f"{type(error).__name__}: {error}" if not isinstance(error, OSError) else str(error)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------- reading parts of a file
def find_series(nwbfile) -> dict:
    """Every TimeSeries in acquisition and processing modules (also inside Position-like
    containers), by name; acquisition wins on a name clash."""
    pynwb = import_pynwb()
    found = {}
    containers = [module.data_interfaces for module in nwbfile.processing.values()]
    containers.append(nwbfile.acquisition)
    for container in containers:
        for name, item in container.items():
            if isinstance(item, pynwb.TimeSeries):
                found[name] = item
            for inner in ("spatial_series", "time_series"):
                found.update(getattr(item, inner, None) or {})
    return found


def describe_nwb(nwbfile) -> str:
    """What the file holds, for error messages."""
    units = "none" if nwbfile.units is None else ", ".join(nwbfile.units.colnames)
    trials = "none" if nwbfile.trials is None else ", ".join(nwbfile.trials.colnames)
    series = ", ".join(sorted(find_series(nwbfile))) or "none"
    return f"units columns: {units}; trials columns: {trials}; time series: {series}"


def _read_units(nwbfile, units: str):
    """Spike times (list of sorted 1-D arrays) and observation intervals (list of (k, 2) arrays,
    or None) of the selected units."""
    check_choice(units, "units", UNIT_SELECTIONS)
    table = nwbfile.units
    if table is None or "spike_times" not in table.colnames:
        raise ValueError(f"the file has no units with spike_times; it has {describe_nwb(nwbfile)}")
    ends = np.asarray(table["spike_times"].data[:], dtype=np.int64)
    if len(ends) == 0:
        raise ValueError("the file's units table has no units")
    flat = np.asarray(table["spike_times"].target.data[:], dtype=np.float64)
    spike_times = np.split(flat, ends[:-1])
    unsorted = [k for k, times in enumerate(spike_times) if np.any(np.diff(times) < 0)]
    if unsorted:
        warnings.warn(
            f"the spike times of {len(unsorted)} of {len(spike_times)} units are out of order "
            f"(units {unsorted[:10]}{' ...' if len(unsorted) > 10 else ''}); they were sorted",
            UserWarning,
            stacklevel=3,
        )
        spike_times = [np.sort(times) for times in spike_times]
    keep = np.ones(len(spike_times), dtype=bool)
    if units != "all":
        if "heldout" not in table.colnames:
            raise ValueError(f"units={units!r} needs a units 'heldout' column; the file has "
                             f"{describe_nwb(nwbfile)}")  # fmt: skip
        heldout = np.asarray(table["heldout"].data[:], dtype=bool)
        keep = heldout if units == "heldout" else ~heldout
    if not keep.any():
        raise ValueError(f"units={units!r} selects no units")
    intervals = None
    if "obs_intervals" in table.colnames:
        ends = np.asarray(table["obs_intervals"].data[:], dtype=np.int64)
        flat = np.asarray(table["obs_intervals"].target.data[:], dtype=np.float64).reshape(-1, 2)
        intervals = [part for part, k in zip(np.split(flat, ends[:-1]), keep, strict=True) if k]
    return [times for times, k in zip(spike_times, keep, strict=True) if k], intervals


def _read_trials_table(nwbfile) -> dict[str, np.ndarray]:
    """The trials table's 1-D columns of numbers, booleans or strings (others are skipped)."""
    columns = {}
    for name in nwbfile.trials.colnames:
        column = nwbfile.trials[name]
        if not hasattr(column, "data") or type(column).__name__ == "VectorIndex":
            continue  # ragged columns (e.g. a list of targets per trial) have no 1-D form
        values = np.asarray(column.data[:])
        if values.dtype == object:
            if not all(isinstance(value, (str, bytes)) for value in values):
                continue
            values = np.array([v.decode() if isinstance(v, bytes) else v for v in values])
        if values.ndim == 1 and values.dtype.kind in "biufU":
            columns[name] = values
    return columns


def read_series(series, name: str):
    """Timestamps (n,), values (n, d) as float64, and one channel name per column."""
    data = np.asarray(series.data[:], dtype=np.float64)
    if len(data) < 2:
        raise ValueError(f"time series {name!r} has {len(data)} samples; at least 2 are needed")
    data = data.reshape(len(data), -1)
    if series.timestamps is not None:
        timestamps = np.asarray(series.timestamps[:], dtype=np.float64)
    else:
        start = series.starting_time or 0.0
        timestamps = start + np.arange(len(data)) / series.rate
    if data.shape[1] == 1:
        names = [name]
    elif data.shape[1] <= len(_AXES):
        names = [f"{name}_{axis}" for axis in _AXES[: data.shape[1]]]
    else:
        names = [f"{name}_{i}" for i in range(data.shape[1])]
    return timestamps, data, names


def interpolate_series(timestamps: np.ndarray, values: np.ndarray, times: np.ndarray):
    """Linear interpolation of ``values`` (n, d) at ``times`` (any shape) -> (*times.shape, d).

    Times farther than one sample period from any sample (before the start, after the end,
    inside a gap of the timestamps) are NaN; NaN samples propagate, so gaps marked by NaN
    values stay gaps.
    """
    period = np.median(np.diff(timestamps)) if len(timestamps) > 1 else np.inf
    flat = times.ravel()
    hi = np.clip(np.searchsorted(timestamps, flat), 1, len(timestamps) - 1)
    lo = hi - 1
    span = timestamps[hi] - timestamps[lo]
    weight = np.clip((flat - timestamps[lo]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
    near_lo, near_hi = weight <= 1e-6, weight >= 1 - 1e-6
    out = (1 - weight)[:, None] * values[lo] + weight[:, None] * values[hi]
    out[near_lo] = values[lo[near_lo]]  # exactly at a sample: take it, even beside a gap
    out[near_hi] = values[hi[near_hi]]
    distance = np.minimum(np.abs(flat - timestamps[lo]), np.abs(timestamps[hi] - flat))
    bridged = (span > 1.5 * period) & ~near_lo & ~near_hi
    out[(distance > period) | bridged] = np.nan
    return out.reshape(*times.shape, values.shape[1])


# ---------------------------------------------------------------------- trialization
def _check_window(window_s, bin_size_s: float) -> int:
    """Number of bins of ``window_s``; errors name the arguments."""
    if not np.isfinite(bin_size_s) or bin_size_s <= 0:
        raise ValueError(f"bin_size_s must be a positive number of seconds; got {bin_size_s!r}")
    if len(window_s) != 2 or not window_s[1] > window_s[0]:
        raise ValueError(f"window_s must be (start, stop) with stop > start; got {window_s!r}")
    n_exact = (window_s[1] - window_s[0]) / bin_size_s
    if abs(n_exact - round(n_exact)) > 1e-6:
        raise ValueError(
            f"window_s {tuple(window_s)} is not a whole number of bins of bin_size_s={bin_size_s}"
        )
    return round(n_exact)


def _bin_trials(spike_times, starts: np.ndarray, n_bins: int, bin_size_s: float) -> np.ndarray:
    """Counts (n_trials, n_bins, n_units) in the windows ``[start, start + n_bins * bin)``."""
    stops = starts + n_bins * bin_size_s
    # Index ranges of each unit's spikes in each window, found once per unit: binning then
    # only touches the spikes of a trial instead of a whole session per trial.
    lo = np.stack([np.searchsorted(times, starts - bin_size_s) for times in spike_times], 1)
    hi = np.stack([np.searchsorted(times, stops + bin_size_s) for times in spike_times], 1)
    counts = np.empty((len(starts), n_bins, len(spike_times)), dtype=np.int32)
    for trial, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        window = [times[a:b] for times, a, b in zip(spike_times, lo[trial], hi[trial], strict=True)]
        counts[trial] = bin_spike_times(window, t_start=start, t_stop=stop, bin_size_s=bin_size_s)
    return counts


def _observed(intervals, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Which windows lie inside an observation interval of every unit: bool (n_trials,)."""
    ok = np.ones(len(starts), dtype=bool)
    for unit_intervals in {part.tobytes(): part for part in intervals or []}.values():
        inside = (starts[:, None] >= unit_intervals[None, :, 0] - 1e-9) & (
            stops[:, None] <= unit_intervals[None, :, 1] + 1e-9
        )
        ok &= inside.any(axis=1)
    return ok


def _trialize(spike_times, intervals, series, align_times, *, window_s, bin_size_s,
              smooth_sigma_s):  # fmt: skip
    """Cut windows around ``align_times`` (n,): counts, activity (Hz), behaviour and which
    alignment times were kept (windows observed for every unit and with finite behaviour)."""
    n_bins = _check_window(window_s, bin_size_s)
    align_times = np.asarray(align_times, dtype=np.float64)
    starts = align_times + window_s[0]
    keep = np.isfinite(align_times)
    dropped = {"with no alignment time (NaN)": int(np.sum(~keep))}
    keep[keep] &= _observed(intervals, starts[keep], starts[keep] + n_bins * bin_size_s)
    dropped["outside the units' obs_intervals"] = int(np.sum(~keep)) - sum(dropped.values())
    centres = starts[:, None] + (np.arange(n_bins) + 0.5) * bin_size_s  # (n, T)
    behavior, names = [], []
    for name, (timestamps, values, channel_names) in series.items():
        at = np.where(keep[:, None], centres, 0.0)  # (n, T)
        sampled = interpolate_series(timestamps, values, at)  # (n, T, d)
        gaps = keep & ~np.isfinite(sampled).all(axis=(1, 2))
        dropped[f"with gaps in {name!r}"] = int(np.sum(gaps))
        keep &= ~gaps
        behavior.append(sampled)
        names.extend(channel_names)
    _report_dropped(dropped, len(align_times), int(keep.sum()), window_s, intervals)
    counts = _bin_trials(spike_times, starts[keep], n_bins, bin_size_s)
    activity = counts / bin_size_s
    if smooth_sigma_s:
        activity = gaussian_smooth(counts, sigma_s=smooth_sigma_s, bin_size_s=bin_size_s)
        activity = activity / bin_size_s
    behavior = np.concatenate(behavior, axis=-1)[keep] if behavior else None
    return counts, activity, behavior, names, keep


def _report_dropped(dropped: dict, n: int, n_kept: int, window_s, intervals) -> None:
    """Warn once with the counts of trials dropped for each reason, or raise when none is
    left (then also say when the units are observed)."""
    reasons = "; ".join(f"{count} {reason}" for reason, count in dropped.items() if count)
    if n_kept == 0:
        observed = ""
        if intervals:
            flat = np.concatenate([part.reshape(-1, 2) for part in intervals])
            observed = f"; the units are observed from {flat.min():g} s to {flat.max():g} s"
        raise ValueError(
            f"no window of {tuple(window_s)} s around the {n} alignment times can be read: "
            f"{reasons or 'there are none'}{observed}"
        )
    if n_kept < n:
        warnings.warn(
            f"{n - n_kept} of {n} trials dropped: {reasons} (trial_info['trial_id'] says "
            "which remain)",
            UserWarning,
            stacklevel=4,
        )


def read_named_series(nwbfile, behavior) -> dict:
    """The requested behavioural series, read: ``None`` -> those of BEHAVIOR_SERIES present."""
    available = find_series(nwbfile)
    if behavior is None:
        behavior = [name for name in BEHAVIOR_SERIES if name in available]
    elif isinstance(behavior, str):
        behavior = [behavior]
    missing = [name for name in behavior if name not in available]
    if missing:
        raise KeyError(
            f"behavior names {missing} are not in the file; its time series: "
            f"{', '.join(sorted(available)) or 'none'}"
        )
    return {name: read_series(available[name], name) for name in behavior}


def load_nwb(
    path: str | os.PathLike,
    *,
    align: str = "auto",
    window_s: Sequence[float] = (-0.2, 0.5),
    bin_size_s: float = 0.02,
    smooth_sigma_s: float | None = 0.04,
    behavior: Sequence[str] | None = None,
    units: str = "all",
    align_times: np.ndarray | None = None,
) -> Trials:
    """Read trials from an NWB file: bin spike times around an alignment time and smooth.

    Parameters
    ----------
    path : path to an ``.nwb`` file.
    align : str
        Trials-table column holding each trial's alignment time (seconds), e.g.
        ``"move_onset_time"``, ``"go_cue_time"`` or ``"start_time"``. ``"auto"``:
        ``move_onset_time`` when the table has it, else ``start_time``.
    window_s : (start, stop)
        Window around the alignment time, in seconds; a whole number of bins.
    bin_size_s : float
        Bin width in seconds.
    smooth_sigma_s : float or None
        S.d. of the acausal Gaussian that turns counts into ``activity`` (Hz), applied within
        each trial's window; None or 0: ``activity`` is counts / ``bin_size_s``.
    behavior : sequence of str, optional
        Names of behavioural TimeSeries to sample at the bin centres (linear interpolation);
        default: those of ``cursor_pos, finger_pos, finger_vel, target_pos, hand_pos,
        hand_vel`` in the file. Channels are named ``<series>_x``, ``_y``, ``_z``.
    units : {"all", "heldin", "heldout"}
        Which units to read, by the units table's ``heldout`` column.
    align_times : array, optional
        Alignment times (seconds) to use instead of a trials table (e.g. detected events).

    Returns
    -------
    Trials
        ``spikes`` (counts), ``activity`` (Hz), ``behavior`` and ``trial_info`` with the
        trials table's 1-D columns and ``trial_id`` (row of the table, or index into
        ``align_times``). Trials whose window is not inside every unit's ``obs_intervals``,
        or whose behaviour has gaps, are dropped (``trial_id`` tells which remain).

    Raises
    ------
    FileNotFoundError, ValueError, KeyError
        For a missing or unreadable file, or missing fields; messages list what the file has.
    """
    with open_nwb(path) as nwbfile, _broken_parts(path):
        spike_times, intervals = _read_units(nwbfile, units)
        series = read_named_series(nwbfile, behavior)
        columns = {}
        if align_times is None:
            if nwbfile.trials is None:
                raise ValueError(
                    "the file has no trials table: pass align_times, or use load_mc_rtt for a "
                    f"continuous reaching session; the file has {describe_nwb(nwbfile)}"
                )
            columns = _read_trials_table(nwbfile)
            if align == "auto":
                align = "move_onset_time" if "move_onset_time" in columns else "start_time"
            if align not in columns or columns[align].dtype.kind not in "iuf":
                raise KeyError(
                    f"align={align!r} is not a time column of the trials table; its columns: "
                    f"{', '.join(columns)}"
                )
            align_times = columns[align]
        elif align == "auto":
            align = "align_times"
    counts, activity, behavior_array, names, keep = _trialize(
        spike_times, intervals, series, align_times,
        window_s=window_s, bin_size_s=bin_size_s, smooth_sigma_s=smooth_sigma_s,
    )  # fmt: skip
    info = {key: value[keep] for key, value in columns.items()}
    info["trial_id"] = np.flatnonzero(keep)
    return Trials(
        activity,
        spikes=counts,
        behavior=behavior_array,
        behavior_names=names if behavior_array is not None else None,
        trial_info=info,
        bin_size_s=bin_size_s,
        align=f"{align} [{window_s[0]:g}, {window_s[1]:g}] s",
    )
