"""Write `Trials` to an NWB file, and the atomic NWB write shared with the fixture generator.

pynwb is an optional dependency (``pip install "neurognocchi[nwb]"``), imported inside the
functions that need it. A file is written to a temporary name beside its destination and then
renamed over it, so a failed write never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from neurognocchi._checks import check_real
from neurognocchi.data.nwb.read import import_pynwb
from neurognocchi.data.trials import Trials

__all__ = ["new_nwbfile", "save_nwb", "write_nwb_atomic"]


def _spike_times(counts: np.ndarray, bin_starts: np.ndarray, bin_size_s: float) -> np.ndarray:
    """Spike times that bin back to ``counts`` (flat, any shape of ``bin_starts``): the ``c``
    spikes of a bin are spread evenly inside it."""
    counts, bin_starts = counts.ravel(), bin_starts.ravel()
    which = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
    return bin_starts[which] + (rank + 0.5) / counts[which] * bin_size_s


def write_nwb_atomic(nwbfile, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``nwbfile`` to a temporary file beside ``path``, then rename it over ``path``.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
    path : path
        Destination; its folder is created when missing.
    overwrite : bool
        Replace an existing file (otherwise FileExistsError).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    pynwb = import_pynwb()
    path = Path(path)
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


def new_nwbfile(description: str, identifier: str, notes: dict):
    """An empty ``pynwb.NWBFile`` with a fixed start date and ``notes`` stored as JSON."""
    pynwb = import_pynwb()
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
    check_real(iti_s, "iti_s", low=0.0)
    pynwb = import_pynwb()
    bin_size, duration = trials.bin_size_s, trials.n_time * trials.bin_size_s
    starts = np.arange(trials.n_trials) * (duration + iti_s)
    bin_starts = starts[:, None] + np.arange(trials.n_time) * bin_size  # (n, T)
    meta = {"bin_size_s": bin_size, "n_time": trials.n_time, "align": trials.align}
    identifier = "neurognocchi-" + hashlib.sha1(trials.spikes.tobytes()).hexdigest()[:16]
    nwbfile = new_nwbfile(session_description, identifier, {"neurognocchi": meta})
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
    return write_nwb_atomic(nwbfile, path, overwrite=overwrite)
