"""NWB files: read units, trials and behaviour into `Trials`; trialize MC_RTT; export `Trials`.

pynwb is an optional dependency (``pip install "neurognocchi[nwb]"``), imported inside the
functions that need it. The layout read is the one of the Neural Latents Benchmark files
(DANDI 000126-000129): ``units`` with ``spike_times`` and optional ``obs_intervals`` and
``heldout`` columns, an optional ``trials`` table, and behavioural ``TimeSeries`` in
``acquisition`` or in processing modules (e.g. ``processing/behavior/finger_pos``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from neurognocchi.data.grid import grid_targets
from neurognocchi.data.preprocess import bin_spike_times, gaussian_smooth
from neurognocchi.data.trials import Trials

BEHAVIOR_SERIES = ("cursor_pos", "finger_pos", "finger_vel", "target_pos", "hand_pos", "hand_vel")
UNIT_SELECTIONS = ("all", "heldin", "heldout")
_AXES = ("x", "y", "z")


def _pynwb():
    try:
        import pynwb
    except ImportError:
        raise ImportError(
            'reading and writing NWB files needs pynwb: pip install "neurognocchi[nwb]"'
        ) from None
    return pynwb


@contextlib.contextmanager
def _open_nwb(path):
    """Yield the NWBFile at ``path`` (read-only); ValueError when it is not a readable NWB file."""
    pynwb = _pynwb()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
        nwbfile = io.read()
    except Exception as error:  # h5py/hdmf raise many types for a bad file
        raise ValueError(f"{str(path)!r} is not a readable NWB file: {error}") from None
    try:
        yield nwbfile
    finally:
        io.close()


# ---------------------------------------------------------------------- reading parts of a file
def _find_series(nwbfile) -> dict:
    """Every TimeSeries in acquisition and processing modules (also inside Position-like
    containers), by name; acquisition wins on a name clash."""
    pynwb = _pynwb()
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


def _describe(nwbfile) -> str:
    """What the file holds, for error messages."""
    units = "none" if nwbfile.units is None else ", ".join(nwbfile.units.colnames)
    trials = "none" if nwbfile.trials is None else ", ".join(nwbfile.trials.colnames)
    series = ", ".join(sorted(_find_series(nwbfile))) or "none"
    return f"units columns: {units}; trials columns: {trials}; time series: {series}"


def _read_units(nwbfile, units: str):
    """Spike times (list of sorted 1-D arrays) and observation intervals (list of (k, 2) arrays,
    or None) of the selected units."""
    if units not in UNIT_SELECTIONS:
        raise ValueError(f"units must be one of {UNIT_SELECTIONS}; got {units!r}")
    table = nwbfile.units
    if table is None or "spike_times" not in table.colnames:
        raise ValueError(f"the file has no units with spike_times; it has {_describe(nwbfile)}")
    ends = np.asarray(table["spike_times"].data[:], dtype=np.int64)
    if len(ends) == 0:
        raise ValueError("the file's units table has no units")
    flat = np.asarray(table["spike_times"].target.data[:], dtype=np.float64)
    spike_times = [np.sort(part) for part in np.split(flat, ends[:-1])]
    keep = np.ones(len(spike_times), dtype=bool)
    if units != "all":
        if "heldout" not in table.colnames:
            raise ValueError(f"units={units!r} needs a units 'heldout' column; the file has "
                             f"{_describe(nwbfile)}")  # fmt: skip
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


def _read_series(series, name: str):
    """Timestamps (n,), values (n, d) as float64, and one channel name per column."""
    data = np.asarray(series.data[:], dtype=np.float64)
    data = data.reshape(len(data), -1)
    if len(data) < 2:
        raise ValueError(f"time series {name!r} has {len(data)} samples; at least 2 are needed")
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


def _sample(timestamps: np.ndarray, values: np.ndarray, times: np.ndarray) -> np.ndarray:
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
    keep[keep] &= _observed(intervals, starts[keep], starts[keep] + n_bins * bin_size_s)
    centres = starts[:, None] + (np.arange(n_bins) + 0.5) * bin_size_s  # (n, T)
    behavior, names = [], []
    for timestamps, values, channel_names in series.values():
        sampled = _sample(timestamps, values, np.where(keep[:, None], centres, 0.0))  # (n, T, d)
        keep &= np.isfinite(sampled).all(axis=(1, 2))
        behavior.append(sampled)
        names.extend(channel_names)
    if not keep.any():
        raise ValueError(
            f"no window of {tuple(window_s)} s around the {len(align_times)} alignment times is "
            "fully observed (inside obs_intervals, with finite behaviour)"
        )
    counts = _bin_trials(spike_times, starts[keep], n_bins, bin_size_s)
    activity = counts / bin_size_s
    if smooth_sigma_s:
        activity = gaussian_smooth(counts, sigma_s=smooth_sigma_s, bin_size_s=bin_size_s)
        activity = activity / bin_size_s
    behavior = np.concatenate(behavior, axis=-1)[keep] if behavior else None
    return counts, activity, behavior, names, keep


def _series_for(nwbfile, behavior) -> dict:
    """The requested behavioural series, read: ``None`` -> those of BEHAVIOR_SERIES present."""
    available = _find_series(nwbfile)
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
    return {name: _read_series(available[name], name) for name in behavior}


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
    with _open_nwb(path) as nwbfile:
        spike_times, intervals = _read_units(nwbfile, units)
        series = _series_for(nwbfile, behavior)
        columns = {}
        if align_times is None:
            if nwbfile.trials is None:
                raise ValueError(
                    "the file has no trials table: pass align_times, or use load_mc_rtt for a "
                    f"continuous reaching session; the file has {_describe(nwbfile)}"
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


# ---------------------------------------------------------------------- MC_RTT
def _reach_periods(timestamps, target, *, min_period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """First and last sample index of each complete constant-target period.

    A period is complete when it opens with a change of a finite target and closes with
    another: periods that begin at the start of the recording or after a gap (NaN values or
    missing timestamps), or end at one, are incomplete. Periods shorter than
    ``min_period_s`` (e.g. the intermediate values of an upsampled target switch) are dropped.
    """
    n = len(timestamps)
    finite = np.isfinite(target).all(axis=1)
    period = np.median(np.diff(timestamps))
    gap = np.diff(timestamps) > 1.5 * period  # (n - 1,): between sample i and i + 1
    tolerance = 1e-9 * (1.0 + np.nanmax(np.abs(target)))
    with np.errstate(invalid="ignore"):
        changed = (np.abs(np.diff(target, axis=0)) > tolerance).any(axis=1)
    boundary = gap | changed | (finite[:-1] != finite[1:])
    first = np.flatnonzero(np.r_[True, boundary])
    last = np.r_[first[1:] - 1, n - 1]
    before, after = np.maximum(first - 1, 0), np.minimum(last + 1, n - 1)
    opened = (first > 0) & finite[before] & ~gap[np.minimum(before, n - 2)]
    closed = (last < n - 1) & finite[after] & ~gap[np.minimum(last, n - 2)]
    long_enough = timestamps[last] - timestamps[first] + period >= min_period_s
    keep = finite[first] & opened & closed & long_enough
    return first[keep], last[keep]


def _movement_onsets(timestamps, speed, first, last, *, fraction: float) -> np.ndarray:
    """Per period: the time speed last rises through ``fraction`` of the period's peak speed
    before that peak (NaN when the period's speed has gaps)."""
    onsets = np.full(len(first), np.nan)
    for k, (a, b) in enumerate(zip(first, last, strict=True)):
        segment = speed[a : b + 1]
        if len(segment) < 2 or not np.isfinite(segment).all():
            continue
        peak = int(np.argmax(segment))
        below = np.flatnonzero(segment[:peak] < fraction * segment[peak])
        onsets[k] = timestamps[a + (below[-1] + 1 if below.size else 0)]
    return onsets


def _grid_condition(target: np.ndarray, grid_size: int) -> np.ndarray:
    """Grid cell ``iy * grid_size + ix`` of each target (n, 2), the grid spanning the targets'
    range (as `grid_targets` numbers its conditions)."""
    low, high = target.min(axis=0), target.max(axis=0)
    scale = np.where(high > low, high - low, 1.0)
    cell = np.clip(np.rint((target - low) / scale * (grid_size - 1)), 0, grid_size - 1)
    return (cell[:, 1] * grid_size + cell[:, 0]).astype(np.int64)


def _reach_events(nwbfile, *, position, velocity, target, fraction, min_period_s):
    """Movement onsets, targets (n, 2) and target-onset times of the complete reaches, and the
    position series (timestamps, values) for start positions."""
    series = _series_for(nwbfile, [target, position])
    target_times, target_values, _ = series[target]
    first, last = _reach_periods(target_times, target_values[:, :2], min_period_s=min_period_s)
    position_times, position_values, _ = series[position]
    available = _find_series(nwbfile)
    if velocity in available:
        speed_times, values, _ = _read_series(available[velocity], velocity)
    else:  # differentiate position when the file has no velocity
        speed_times, values = position_times, np.gradient(position_values[:, :2], position_times,
                                                          axis=0)  # fmt: skip
    speed = np.hypot(values[:, 0], values[:, 1])
    # Periods are found on the target's clock; onsets on the speed's (usually the same).
    a = np.searchsorted(speed_times, target_times[first])
    b = np.searchsorted(speed_times, target_times[last], side="right") - 1
    onsets = _movement_onsets(speed_times, speed, a, b, fraction=fraction)
    return onsets, target_values[first, :2], target_times[first], (position_times, position_values)


def load_mc_rtt(
    path: str | os.PathLike,
    *,
    window_s: Sequence[float] = (-0.2, 0.5),
    bin_size_s: float = 0.02,
    smooth_sigma_s: float | None = 0.04,
    onset_fraction: float = 0.3,
    min_period_s: float = 0.1,
    grid_size: int = 8,
    behavior: Sequence[str] | None = None,
    units: str = "all",
    position: str = "finger_pos",
    velocity: str = "finger_vel",
    target: str = "target_pos",
) -> Trials:
    """Trialize a continuous random-target reaching session (NLB MC_RTT, DANDI 000129).

    One reach is one period of constant target. Reaches that begin or end at a gap (NaN
    behaviour or missing samples) or at either end of the recording are incomplete and
    dropped. Each reach is aligned to movement onset: the last time before the period's peak
    finger speed at which the speed rises through ``onset_fraction`` of that peak. Windows
    outside the units' observation intervals or with gaps in behaviour are dropped.

    A file with a trials table holding ``move_onset_time`` (MC_Maze style) is aligned on that
    column instead (see :func:`load_nwb`).

    Parameters
    ----------
    window_s, bin_size_s, smooth_sigma_s, behavior, units : as for :func:`load_nwb`.
    onset_fraction : float
        Fraction of the peak speed that marks movement onset, in (0, 1).
    min_period_s : float
        Shorter constant-target periods are not reaches (e.g. upsampling transients).
    grid_size : int
        Targets lie on a ``grid_size x grid_size`` grid spanning their range (8 for MC_RTT);
        ``condition`` is the grid cell ``iy * grid_size + ix``.
    position, velocity, target : str
        Names of the finger position, finger velocity (differentiated from position when
        absent) and target position series.

    Returns
    -------
    Trials
        ``trial_info``: ``target_x, target_y``, ``start_x, start_y`` (finger at onset),
        ``reach_x, reach_y`` (target - start), ``reach_angle`` (radians), ``condition``,
        ``target_on_time`` (relative to onset, s), ``move_onset_time`` (session time, s),
        ``reach_id`` (index among complete reaches).
    """
    if not 0 < onset_fraction < 1:
        raise ValueError(f"onset_fraction must be in (0, 1); got {onset_fraction!r}")
    with _open_nwb(path) as nwbfile:
        has_onsets = nwbfile.trials is not None and "move_onset_time" in nwbfile.trials.colnames
        if not has_onsets:
            onsets, targets, target_on, (pos_times, pos_values) = _reach_events(
                nwbfile, position=position, velocity=velocity, target=target,
                fraction=onset_fraction, min_period_s=min_period_s,
            )  # fmt: skip
    if has_onsets:
        return load_nwb(
            path, align="move_onset_time", window_s=window_s, bin_size_s=bin_size_s,
            smooth_sigma_s=smooth_sigma_s, behavior=behavior, units=units,
        )  # fmt: skip
    if len(onsets) == 0:
        raise ValueError(f"found no complete constant-{target} periods (reaches) in the file")
    trials = load_nwb(
        path, window_s=window_s, bin_size_s=bin_size_s, smooth_sigma_s=smooth_sigma_s,
        behavior=behavior, units=units, align_times=onsets,
    )  # fmt: skip
    kept = trials.trial_info.pop("trial_id")
    onsets, targets, target_on = onsets[kept], targets[kept], target_on[kept]
    start = _sample(pos_times, pos_values[:, :2], onsets)  # (n, 2)
    reach = targets - start
    info = dict(
        target_x=targets[:, 0], target_y=targets[:, 1], start_x=start[:, 0], start_y=start[:, 1],
        reach_x=reach[:, 0], reach_y=reach[:, 1], reach_angle=np.arctan2(reach[:, 1], reach[:, 0]),
        condition=_grid_condition(targets, grid_size), target_on_time=target_on - onsets,
        move_onset_time=onsets, reach_id=kept,
    )  # fmt: skip
    window = f"[{window_s[0]:g}, {window_s[1]:g}] s"
    align = f"movement onset ({onset_fraction:g} of peak speed) {window}"
    trials = trials._replace(trial_info=trials.trial_info | info, align=align)
    return trials[np.isfinite(start).all(axis=1)]  # a start inside a gap of the position


# ---------------------------------------------------------------------- writing
def _spike_times(counts: np.ndarray, bin_starts: np.ndarray, bin_size_s: float) -> np.ndarray:
    """Spike times that bin back to ``counts`` (flat, any shape of ``bin_starts``): the ``c``
    spikes of a bin are spread evenly inside it."""
    counts, bin_starts = counts.ravel(), bin_starts.ravel()
    which = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
    return bin_starts[which] + (rank + 0.5) / counts[which] * bin_size_s


def _write_atomic(nwbfile, path: Path, overwrite: bool) -> Path:
    """Write ``nwbfile`` to a temporary file beside ``path``, then rename it over ``path``."""
    pynwb = _pynwb()
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name ends in .nwb too, which pynwb expects of HDF5 files.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.nwb", dir=path.parent)
    os.close(fd)
    try:
        with pynwb.NWBHDF5IO(tmp_name, "w") as io:
            io.write(nwbfile)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return path


def _new_nwbfile(description: str, identifier: str, notes: dict):
    pynwb = _pynwb()
    return pynwb.NWBFile(
        session_description=description,
        identifier=identifier,
        # A fixed placeholder: the sessions written here are not tied to a recording date.
        session_start_time=datetime(2000, 1, 1, tzinfo=timezone.utc),
        notes=json.dumps(notes),
    )


def save_nwb(
    trials: Trials,
    path: str | os.PathLike,
    *,
    iti_s: float = 0.5,
    session_description: str = "trials written by neurognocchi",
    overwrite: bool = False,
) -> Path:
    """Write trials with spike counts to an NWB file (atomically), laid end to end in time.

    Trial ``k`` occupies ``[s_k, s_k + n_time * bin_size_s)`` with ``iti_s`` seconds between
    trials. Written: units with spike times (the spikes of a bin spread evenly inside it) and
    ``obs_intervals`` (the trial windows); a trials table with ``start_time``, ``stop_time``
    and every ``trial_info`` column; one TimeSeries per behaviour channel in
    ``processing/behavior`` (sampled at bin centres). ``truth`` is not written, and
    ``activity`` is recomputed from the spikes when reading. Read back with
    ``load_nwb(path, align="start_time", window_s=(0, n_time * bin_size_s), ...)``.

    Raises
    ------
    ValueError
        When ``trials`` has no spikes or no ``bin_size_s``, or a ``trial_info`` key or
        behaviour name is not a valid NWB name.
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.
    """
    if not isinstance(trials, Trials):
        raise TypeError(f"trials must be a Trials; got {type(trials).__name__}")
    if trials.spikes is None or trials.bin_size_s is None:
        raise ValueError("save_nwb writes spike times: trials needs spikes and bin_size_s")
    reserved = {"start_time", "stop_time", "id", "tags", "timeseries"}
    names = [*trials.trial_info, *trials.behavior_names]
    bad = [name for name in names if name in reserved or "/" in name]
    if bad:
        raise ValueError(f"trial_info keys / behavior names {bad} cannot be NWB names")
    if not np.isfinite(iti_s) or iti_s < 0:
        raise ValueError(f"iti_s must be a non-negative number of seconds; got {iti_s!r}")
    pynwb = _pynwb()
    bin_size, duration = trials.bin_size_s, trials.n_time * trials.bin_size_s
    starts = np.arange(trials.n_trials) * (duration + iti_s)
    bin_starts = starts[:, None] + np.arange(trials.n_time) * bin_size  # (n, T)
    meta = {"bin_size_s": bin_size, "n_time": trials.n_time, "align": trials.align}
    identifier = "neurognocchi-" + hashlib.sha1(trials.spikes.tobytes()).hexdigest()[:16]
    nwbfile = _new_nwbfile(session_description, identifier, {"neurognocchi": meta})
    intervals = np.stack([starts, starts + duration], axis=1)
    for neuron in range(trials.n_neurons):
        times = _spike_times(trials.spikes[:, :, neuron], bin_starts, bin_size)
        nwbfile.add_unit(spike_times=times, obs_intervals=intervals)
    for key in trials.trial_info:
        nwbfile.add_trial_column(name=key, description=f"trial_info[{key!r}]")
    for k, start in enumerate(starts):
        values = {key: column[k].item() for key, column in trials.trial_info.items()}
        nwbfile.add_trial(start_time=float(start), stop_time=float(start + duration), **values)
    if trials.behavior is not None:
        module = nwbfile.create_processing_module("behavior", "behaviour at bin centres")
        centres = (bin_starts + bin_size / 2).ravel()
        for channel, name in enumerate(trials.behavior_names):
            data = trials.behavior[:, :, channel].ravel().astype(np.float64)
            module.add(pynwb.TimeSeries(name=name, data=data, unit="n/a", timestamps=centres))
    return _write_atomic(nwbfile, Path(path), overwrite)


def _random_target_reaches(rng, duration_s: float, targets: np.ndarray) -> dict:
    """A sequence of reaches: each target appears, the finger starts after a reaction time,
    moves along a minimum-jerk path, holds, and the next target appears."""
    on, move, length, goal = [], [], [], []
    t, current = 0.0, len(targets) // 2
    while t < duration_s:
        current = (current + rng.integers(1, len(targets))) % len(targets)  # a new target
        reaction, reach, hold = rng.uniform(0.15, 0.3), rng.uniform(0.4, 0.7), rng.uniform(0.1, 0.3)
        on.append(t), move.append(t + reaction), length.append(reach), goal.append(current)
        t += reaction + reach + hold
    return dict(target_on_time=np.array(on), move_start_time=np.array(move),
                move_duration=np.array(length), target=targets[np.array(goal)])  # fmt: skip


def _finger_paths(times, reaches, home):
    """Finger position and velocity (n, 2) and the target (n, 2) at ``times``."""
    index = np.searchsorted(reaches["target_on_time"], times, side="right") - 1  # reach at t
    target = reaches["target"][index]
    start = np.concatenate([home[None], reaches["target"][:-1]])[index]
    duration = reaches["move_duration"][index]
    tau = np.clip((times - reaches["move_start_time"][index]) / duration, 0.0, 1.0)
    fraction = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    rate = (30 * tau**2 - 60 * tau**3 + 30 * tau**4) / duration
    return start + fraction[:, None] * (target - start), rate[:, None] * (target - start), target


def make_random_target_nwb(
    path: str | os.PathLike,
    *,
    n_units: int = 40,
    duration_s: float = 120.0,
    grid_size: int = 8,
    grid_spacing: float = 20.0,
    sample_rate_hz: float = 1000.0,
    gap_s: Sequence[float] | None = None,
    random_state: int = 0,
    overwrite: bool = False,
) -> dict[str, np.ndarray]:
    """Write a synthetic continuous random-target session in the NLB MC_RTT layout.

    Targets on a ``grid_size``-square grid (spacing in mm) appear one after another; the
    finger reaches each along a minimum-jerk path after a reaction time. Units fire as
    inhomogeneous Poisson processes whose log-rate is tuned to finger velocity and position.
    ``processing/behavior`` holds ``finger_pos`` (x, y, z), ``finger_vel``, ``cursor_pos`` and
    ``target_pos`` at ``sample_rate_hz``; during ``gap_s`` (a recording pause) behaviour is
    NaN, there are no spikes, and the units' ``obs_intervals`` exclude it. For tests and
    benchmarks of :func:`load_mc_rtt`.

    Returns
    -------
    dict of arrays describing each reach written: ``target_on_time``, ``move_start_time``,
    ``move_duration``, ``target`` (n, 2), ``start`` (n, 2), and ``gap_s``.
    """
    rng = np.random.default_rng(random_state)
    targets = grid_targets(grid_size, grid_spacing)
    reaches = _random_target_reaches(rng, duration_s, targets)
    home = targets[len(targets) // 2]
    reaches["start"] = np.concatenate([home[None], reaches["target"][:-1]])
    times = np.arange(round(duration_s * sample_rate_hz)) / sample_rate_hz
    position, velocity, target = _finger_paths(times, reaches, home)
    observed = np.ones(len(times), dtype=bool)
    intervals = np.array([[0.0, times[-1] + 1 / sample_rate_hz]])
    if gap_s is not None:
        observed = (times < gap_s[0]) | (times >= gap_s[1])
        intervals = np.array([[0.0, gap_s[0]], [gap_s[1], intervals[0, 1]]])
    nwbfile = _new_nwbfile("synthetic random-target reaching", f"rtt-{random_state}", {})
    module = nwbfile.create_processing_module("behavior", "finger, cursor and target")
    z = np.zeros((len(times), 1))
    series = {"finger_pos": np.hstack([position, z]), "finger_vel": velocity,
              "cursor_pos": position, "target_pos": target}  # fmt: skip
    pynwb = _pynwb()
    for name, values in series.items():
        values = np.where(observed[:, None], values, np.nan)
        module.add(pynwb.TimeSeries(name=name, data=values, unit="mm", rate=sample_rate_hz,
                                    starting_time=0.0))  # fmt: skip
    speed_scale = np.abs(velocity).max()
    for _ in range(n_units):
        direction = rng.normal(0.0, 1.0, 2)
        log_rate = np.log(rng.uniform(5.0, 25.0)) + velocity @ direction / speed_scale
        log_rate += position @ rng.normal(0.0, 0.3, 2) / (grid_size * grid_spacing / 2)
        counts = rng.poisson(np.exp(log_rate) / sample_rate_hz) * observed
        spike_times = np.repeat(times, counts) + rng.uniform(0, 1 / sample_rate_hz, counts.sum())
        nwbfile.add_unit(spike_times=np.sort(spike_times), obs_intervals=intervals)
    _write_atomic(nwbfile, Path(path), overwrite)
    reaches["gap_s"] = np.asarray(gap_s if gap_s is not None else [], dtype=float)
    return reaches
