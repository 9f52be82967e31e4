"""Read NWB files in the Neural Latents Benchmark layout into `Trials`.

pynwb is an optional dependency (``pip install "neurognocchi[nwb]"``), imported inside the
functions that need it. The layout read is the one of the Neural Latents Benchmark files
(DANDI 000126-000129): ``units`` with ``spike_times`` and optional ``obs_intervals`` and
``heldout`` columns, an optional ``trials`` table, and behavioural ``TimeSeries`` in
``acquisition`` or in processing modules (e.g. ``processing/behavior/finger_pos``).

Besides :func:`load_nwb`, the helpers here (opening a file, finding and reading its time
series) are public for the other NWB modules: MC_RTT trialisation and the writers. Cutting
the windows out of what was read is :mod:`~neurognocchi.data.nwb.windows`.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_choice
from neurognocchi.data.nwb.windows import observed_window_ms, trialize
from neurognocchi.data.trials import Trials, behavior_channel_names

BEHAVIOR_SERIES = ("cursor_pos", "finger_pos", "finger_vel", "target_pos", "hand_pos", "hand_vel")
UNIT_SELECTIONS = ("all", "heldin", "heldout")

__all__ = [
    "BEHAVIOR_SERIES",
    "UNIT_SELECTIONS",
    "describe_nwb",
    "find_series",
    "import_pynwb",
    "load_nwb",
    "nwb_overview",
    "open_nwb",
    "read_named_series",
    "read_series",
]


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
        raise _unreadable(path, error) from None
    try:
        try:
            nwbfile = io.read()
        except Exception as error:
            raise _unreadable(path, error) from None
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
        raise _unreadable(path, error) from None


def _unreadable(path, error: Exception) -> ValueError:
    return ValueError(f"{str(path)!r} is not a readable NWB file: {_reason(error)}")


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
            raise ValueError(
                f"units={units!r} needs a units 'heldout' column; the file has "
                f"{describe_nwb(nwbfile)}"
            )
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
    return timestamps, data, behavior_channel_names(name, data.shape[1])


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


def nwb_overview(path: str | os.PathLike) -> str:
    """What an NWB file offers :func:`load_nwb`, as text: its units (and whether they have
    ``obs_intervals``), trials and time series, and for every time column of the trials table
    the widest window around it that every unit observes, with the number of trials it holds
    (``neurognocchi info`` prints it)."""
    with open_nwb(path) as nwbfile, _broken_parts(path):
        spike_times, intervals = _read_units(nwbfile, "all")
        columns = {} if nwbfile.trials is None else _read_trials_table(nwbfile)
        series = ", ".join(sorted(find_series(nwbfile))) or "none"
    n_trials = len(next(iter(columns.values()))) if columns else 0
    observed = "with obs_intervals" if intervals else "no obs_intervals: observed throughout"
    lines = [
        f"NWB file {Path(path).name}: {len(spike_times)} units ({observed}); "
        f"{n_trials} trials; time series: {series}"
    ]
    times = [name for name, values in columns.items() if values.dtype.kind == "f"]
    times = [name for name in times if name.endswith("time")]
    if not times:
        lines.append("no time columns in a trials table: load_nwb needs align_times")
    for name in times:
        if not np.isfinite(columns[name]).any():
            lines.append(f"  around {name}: no trial has one (all NaN)")
            continue
        if not intervals:
            lines.append(f"  around {name}: any window")
            continue
        (start, stop), count = observed_window_ms(intervals, columns[name])
        if count == 0:
            lines.append(f"  around {name}: no window is observed by every unit")
            continue
        lines.append(
            f"  around {name}: ({start:g}, {stop:g}) s observed by every unit in {count} of "
            f"{n_trials} trials (convert --align {name} --window {start:g} {stop:g})"
        )
    return "\n".join(lines)


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
    counts, activity, behavior_array, names, keep = trialize(
        spike_times,
        intervals,
        series,
        align_times,
        window_s=window_s,
        bin_size_s=bin_size_s,
        smooth_sigma_s=smooth_sigma_s,
    )
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
