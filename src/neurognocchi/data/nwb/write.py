"""Write `Trials` to an NWB file, and the NWB file creation and atomic write the writers share.

pynwb is an optional dependency (``pip install "neurognocchi[nwb]"``), imported inside the
functions that need it. A file is written to a temporary name beside its destination and then
renamed over it, so a failed write never leaves a partial file. The metadata of each file
(session, experiment, subject) follow :mod:`neurognocchi.data.nwb.metadata`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_real
from neurognocchi.data.nwb.metadata import (
    SESSION_START,
    SYNTHETIC_SPECIES,
    UNKNOWN_AGE,
    merge_metadata,
)
from neurognocchi.data.nwb.read import import_pynwb
from neurognocchi.data.trials import Trials

__all__ = ["new_nwbfile", "save_nwb", "spike_time_resolution", "write_nwb_atomic"]


# Spike times rebuilt from counts lie on a grid no coarser than this (spike_time_resolution).
_MAX_RESOLUTION_S = 1e-3


def spike_time_resolution(bin_size_s: float) -> float:
    """The grid step of the spike times `save_nwb` writes for bins of ``bin_size_s``: the bin
    split into ``ceil(bin_size_s / 1 ms)`` equal steps (1 ms for bins of whole milliseconds)."""
    return bin_size_s / max(1, math.ceil(bin_size_s / _MAX_RESOLUTION_S - 1e-9))


def _spike_times(counts: np.ndarray, bin_starts: np.ndarray, bin_size_s: float) -> np.ndarray:
    """Spike times that bin back to ``counts`` (flat, any shape of ``bin_starts``): the ``c``
    spikes of a bin are spread evenly inside it, each at the centre of a step of the grid of
    `spike_time_resolution` (spikes share a step when a bin has more spikes than steps)."""
    counts, bin_starts = counts.ravel(), bin_starts.ravel()
    which = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
    resolution = spike_time_resolution(bin_size_s)
    step = np.floor((rank + 0.5) / counts[which] * round(bin_size_s / resolution))
    return bin_starts[which] + (step + 0.5) * resolution


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


def new_nwbfile(description: str, identifier: str, notes: dict, **metadata):
    """An empty ``pynwb.NWBFile`` with a fixed start date and ``notes`` stored as JSON.

    Parameters
    ----------
    description : str
        The session description.
    identifier : str
        The file's identifier.
    notes : dict
        Stored as JSON in the file's ``notes``.
    **metadata
        Other keywords of ``pynwb.NWBFile`` (as returned by
        :func:`~neurognocchi.data.nwb.metadata.merge_metadata`); ``subject``, a dict of
        ``pynwb.file.Subject`` keywords, becomes the file's Subject.
    """
    pynwb = import_pynwb()
    subject = metadata.pop("subject", None)
    if subject:
        metadata["subject"] = pynwb.file.Subject(**subject)
    return pynwb.NWBFile(
        session_description=description,
        identifier=identifier,
        # A fixed placeholder: the sessions written here are not tied to a recording date.
        session_start_time=SESSION_START,
        notes=json.dumps(notes),
        **metadata,
    )


def _trials_metadata(trials: Trials, iti_s: float) -> dict:
    """The default metadata of `save_nwb`, from what ``trials`` hold; synthetic trials are
    those with ground-truth rates (``truth``)."""
    synthetic = trials.truth is not None
    kind = "synthetic trials (with ground-truth rates, not written)" if synthetic else "trials"
    session = (
        f"{trials.n_trials} {kind} of {trials.n_neurons} units, {trials.n_time} bins of "
        f"{trials.bin_size_s * 1e3:g} ms each (aligned: {trials.align or 'not recorded'}), laid "
        f"end to end with {iti_s:g} s between trials; written by neurognocchi.save_nwb"
    )
    made = (
        "Synthetic data, not a recording: trial-aligned spike counts simulated with known rates"
        if synthetic
        else "Trial-aligned spike counts binned from a recording or given as arrays"
    )
    experiment = (
        f"{made}. The spike times are reconstructed from the counts (see the units table), "
        "so timing within a bin carries no information."
    )
    subject_id = "synthetic" if synthetic else "unknown"
    subject = {"subject_id": subject_id, "sex": "U", "age": UNKNOWN_AGE}
    if synthetic:
        subject["species"] = SYNTHETIC_SPECIES
        subject["description"] = (
            "No animal: synthetic trials. Species is NCBI 'synthetic construct'; sex and age "
            "are placeholders (unknown)."
        )
    else:
        subject["description"] = (
            "Subject not given to save_nwb: species, sex and age unknown (pass subject=...)."
        )
    keywords = ["neurognocchi", "spike counts", "trials"] + ["synthetic data"] * synthetic
    return dict(
        session_description=session,
        experiment_description=experiment,
        keywords=keywords,
        subject=subject,
    )


def _add_units(nwbfile, trials: Trials, bin_starts: np.ndarray, intervals: np.ndarray) -> None:
    """The units table: reconstructed spike times and the trial windows as ``obs_intervals``."""
    pynwb = import_pynwb()
    bin_size, resolution = trials.bin_size_s, spike_time_resolution(trials.bin_size_s)
    nwbfile.units = pynwb.misc.Units(
        name="units",
        description=(
            f"units of the trials; spike times reconstructed from spike counts in bins of "
            f"{bin_size:g} s: the spikes of a bin are spread evenly inside it on a grid of "
            f"{resolution:g} s (the resolution). obs_intervals: the trial windows."
        ),
        resolution=resolution,
    )
    for neuron in range(trials.n_neurons):
        times = _spike_times(trials.spikes[:, :, neuron], bin_starts, bin_size)
        nwbfile.add_unit(spike_times=times, obs_intervals=intervals)


def save_nwb(
    trials: Trials,
    path: str | os.PathLike,
    *,
    iti_s: float = 0.5,
    session_description: str | None = None,
    overwrite: bool = False,
    experiment_description: str | None = None,
    experimenter: str | Sequence[str] | None = None,
    institution: str | None = None,
    lab: str | None = None,
    keywords: Sequence[str] | None = None,
    subject: Mapping[str, str] | None = None,
) -> Path:
    """Write trials with spike counts to an NWB file (atomically), laid end to end in time.

    Trial ``k`` occupies ``[s_k, s_k + n_time * bin_size_s)`` with ``iti_s`` seconds between
    trials. Written: units with spike times and ``obs_intervals`` (the trial windows); a
    trials table with ``start_time``, ``stop_time`` and every ``trial_info`` column; one
    TimeSeries per behaviour channel in ``processing/behavior`` (sampled at bin centres).
    ``truth`` is not written, and ``activity`` is recomputed from the spikes when reading.
    Read back with ``load_nwb(path, align="start_time", window_s=(0, n_time * bin_size_s),
    ...)``.

    Spike times are reconstructed from the counts: the spikes of a bin are spread evenly inside
    it on a grid of ``bin_size_s / ceil(bin_size_s / 1 ms)`` seconds, stored as the units
    table's ``resolution`` (1 ms for bins of whole milliseconds).

    Parameters
    ----------
    trials : Trials
        With ``spikes`` and ``bin_size_s``.
    path : path
        The ``.nwb`` file to write; its folder is created when missing.
    iti_s : float
        Seconds between consecutive trials.
    session_description : str, optional
        Default: what the file holds (numbers of trials, units and bins, the alignment).
    overwrite : bool
        Replace an existing file (otherwise FileExistsError).
    experiment_description : str, optional
        Default: how the data were made (synthetic trials are those with ``truth``) and how
        the spike times were reconstructed.
    experimenter : str or sequence of str, optional
        Who made the data, as ``"Last, First"``; not written by default.
    institution, lab : str, optional
        Not written by default.
    keywords : sequence of str, optional
        Default: ``neurognocchi, spike counts, trials`` and, for synthetic trials,
        ``synthetic data``.
    subject : mapping, optional
        Fields of the NWB Subject (``subject_id``, ``species``, ``sex``, ``age``,
        ``description``, ``strain``, ``genotype``, ``weight``) that replace the defaults one
        by one. Defaults: sex ``"U"``, age ``"P0D/"`` (unknown); synthetic trials:
        ``subject_id="synthetic"`` and species NCBI "synthetic construct"; other trials:
        ``subject_id="unknown"`` and no species (give it, e.g. ``"Macaca mulatta"``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        When ``trials`` has no spikes or no ``bin_size_s``, a ``trial_info`` key or
        behaviour name is not a valid NWB name, or a metadata argument is invalid.
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.
    """
    if not isinstance(trials, Trials):
        raise InvalidArgumentError(f"trials must be a Trials; got {type(trials).__name__}")
    if trials.spikes is None or trials.bin_size_s is None:
        raise InvalidArgumentError(
            "save_nwb writes spike times: trials needs spikes and bin_size_s"
        )
    reserved = {"start_time", "stop_time", "id", "tags", "timeseries"}
    names = [*trials.trial_info, *trials.behavior_names]
    bad = [name for name in names if name in reserved or "/" in name]
    if bad:
        raise InvalidArgumentError(f"trial_info keys / behavior names {bad} cannot be NWB names")
    check_real(iti_s, "iti_s", low=0.0)
    metadata = merge_metadata(
        _trials_metadata(trials, iti_s),
        session_description=session_description,
        experiment_description=experiment_description,
        experimenter=experimenter,
        institution=institution,
        lab=lab,
        keywords=keywords,
        subject=subject,
    )
    bin_size, duration = trials.bin_size_s, trials.n_time * trials.bin_size_s
    starts = np.arange(trials.n_trials) * (duration + iti_s)
    bin_starts = starts[:, None] + np.arange(trials.n_time) * bin_size  # (n, T)
    meta = {"bin_size_s": bin_size, "n_time": trials.n_time, "align": trials.align}
    identifier = "neurognocchi-" + hashlib.sha1(trials.spikes.tobytes()).hexdigest()[:16]
    nwbfile = new_nwbfile(
        metadata.pop("session_description"), identifier, {"neurognocchi": meta}, **metadata
    )
    _add_units(nwbfile, trials, bin_starts, np.stack([starts, starts + duration], axis=1))
    _add_trials(nwbfile, trials, starts, duration)
    if trials.behavior is not None:
        _add_behavior(nwbfile, trials, (bin_starts + bin_size / 2).ravel())
    return write_nwb_atomic(nwbfile, path, overwrite=overwrite)


def _add_trials(nwbfile, trials: Trials, starts: np.ndarray, duration: float) -> None:
    """The trials table: each trial's window and its ``trial_info`` values."""
    pynwb = import_pynwb()
    nwbfile.trials = pynwb.epoch.TimeIntervals(
        name="trials",
        description=f"the trials, laid end to end; each lasts {duration:g} s "
        f"({trials.n_time} bins); the other columns are the trials' trial_info",
    )
    for key in trials.trial_info:
        nwbfile.add_trial_column(name=key, description=f"per-trial value trial_info[{key!r}]")
    for k, start in enumerate(starts):
        values = {key: column[k].item() for key, column in trials.trial_info.items()}
        nwbfile.add_trial(start_time=float(start), stop_time=float(start + duration), **values)


def _add_behavior(nwbfile, trials: Trials, centres: np.ndarray) -> None:
    """One TimeSeries per behaviour channel in ``processing/behavior``, at the bin centres."""
    pynwb = import_pynwb()
    module = nwbfile.create_processing_module("behavior", "behaviour at bin centres")
    for channel, name in enumerate(trials.behavior_names):
        data = trials.behavior[:, :, channel].ravel().astype(np.float64)
        description = (
            f"behaviour channel {name!r} of the trials, sampled at the bin centres; in the "
            "unit of the source trials (not recorded in them)"
        )
        module.add(
            pynwb.TimeSeries(
                name=name, data=data, unit="n/a", timestamps=centres, description=description
            )
        )
