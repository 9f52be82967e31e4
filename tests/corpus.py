"""Broken and strange input files, made from valid ones (never committed binaries).

Each maker writes one file (or folder) into ``folder`` and returns its path. The valid sources
are built here too: a small recording in the Neural Latents Benchmark NWB layout, a DataHigh
style ``.mat`` struct array, an ``.npz`` of arrays and a ``save_memmap`` folder. The tests in
``test_corrupt_files.py`` say what each must do (refuse with one line naming the file, or read
with a defined behaviour).
"""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

N_TRIALS, N_UNITS, TRIAL_S, GAP_S = 12, 5, 1.0, 0.5
MOVE_S = 0.4  # move_onset_time - start_time of every trial


# ---------------------------------------------------------------------- valid sources
def nwb_recording(
    path: Path,
    *,
    spike_times: bool = True,
    observed: tuple[float, float] | None = None,
    observed_around_onsets: tuple[float, float] | None = None,
    nan_onsets: int = 0,
    shuffle_spikes: bool = False,
    behavior_rate_hz: float = 1000.0,
    behavior_gap_s: tuple[float, float] | None = None,
) -> Path:
    """A small NLB-layout recording: units (spike_times, obs_intervals), a trials table
    (start_time, stop_time, move_onset_time, condition) and ``hand_pos`` in
    processing/behavior. The options plant one defect each:

    ``spike_times=False``: a units table without spike times; ``observed``: every unit's
    obs_interval; ``observed_around_onsets``: obs_intervals only (start, stop) s around each
    trial's movement onset (as in NLB's MC_Maze files); ``nan_onsets``: that many trials
    with a NaN move_onset_time; ``shuffle_spikes``: spike times stored out of order;
    ``behavior_rate_hz``: the sampling rate of hand_pos; ``behavior_gap_s``: a stretch of time
    where hand_pos was not sampled.
    """
    import pynwb

    rng = np.random.default_rng(0)
    starts = np.arange(N_TRIALS) * (TRIAL_S + GAP_S)
    end = starts[-1] + TRIAL_S + 1.0
    nwbfile = pynwb.NWBFile(
        session_description="corpus recording",
        identifier="corpus",
        session_start_time=datetime(2020, 1, 1, tzinfo=timezone.utc),
    )
    nwbfile.add_trial_column("move_onset_time", "movement onset (s)")
    nwbfile.add_trial_column("condition", "reach direction")
    onsets = starts + MOVE_S
    onsets[:nan_onsets] = np.nan
    for k, start in enumerate(starts):
        nwbfile.add_trial(
            start_time=start, stop_time=start + TRIAL_S, move_onset_time=onsets[k], condition=k % 3
        )
    interval = np.array([observed if observed is not None else (0.0, end)])
    if observed_around_onsets is not None:
        interval = (starts + MOVE_S)[:, None] + np.array(observed_around_onsets)[None, :]
    for _ in range(N_UNITS):
        times = np.sort(rng.uniform(0, end, size=int(rng.integers(40, 200))))
        if shuffle_spikes:  # its own generator: the other draws stay those of a valid file
            times = np.random.default_rng(99).permutation(times)
        fields = {"obs_intervals": interval}
        if spike_times:
            fields["spike_times"] = times
        nwbfile.add_unit(**fields)
    sample_times = np.arange(0.0, end, 1.0 / behavior_rate_hz)
    if behavior_gap_s is not None:
        lo, hi = behavior_gap_s
        sample_times = sample_times[(sample_times < lo) | (sample_times >= hi)]
    position = np.stack([np.sin(sample_times), np.cos(sample_times)], axis=1)
    module = nwbfile.create_processing_module("behavior", "hand kinematics")
    module.add(pynwb.TimeSeries(name="hand_pos", data=position, unit="m", timestamps=sample_times))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def mat_struct(path: Path, *, fields: tuple[str, str] = ("data", "condition")) -> Path:
    """A DataHigh-style struct array ``D`` (1 ms spike trains, neurons x time, per trial);
    ``fields`` renames its two fields (the reader expects ``data`` and ``condition``)."""
    from scipy.io import savemat

    counts = np.random.default_rng(1).poisson(0.03, size=(N_TRIALS, N_UNITS, 200)).astype(np.uint8)
    records = np.empty(N_TRIALS, dtype=[(fields[0], object), (fields[1], object)])
    for k in range(N_TRIALS):
        records[k] = (counts[k], f"reach{k % 3}")
    savemat(path, {"D": records})
    return path


def counts(shape=(N_TRIALS, 10, N_UNITS)) -> np.ndarray:
    return np.random.default_rng(2).poisson(2.0, shape).astype(np.int64)


def npz_arrays(path: Path, **arrays) -> Path:
    """An ``.npz`` of plain arrays: ``activity``, ``spikes`` and a ``condition`` column, with
    ``arrays`` replacing or adding members (None removes one)."""
    spikes = counts()
    members = {"activity": spikes / 0.02, "spikes": spikes, "condition": np.arange(N_TRIALS) % 3}
    members |= arrays
    np.savez(path, **{key: value for key, value in members.items() if value is not None})
    return path


def npy_array(path: Path) -> Path:
    """An ``.npy`` of activity ``[n_trials, n_time, n_neurons]``."""
    np.save(path, counts() / 0.02)
    return path


class PlantedPickle:
    """Unpickling this object creates the file ``marker``: proof that a pickle was run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def npz_with_pickle(path: Path, marker: Path) -> Path:
    """An ``.npz`` whose ``activity`` is an object array holding a :class:`PlantedPickle`."""
    activity = np.empty((N_TRIALS, 10, N_UNITS), dtype=object)
    activity[...] = 0.0
    activity[0, 0, 0] = PlantedPickle(marker)
    np.savez(path, activity=activity)
    return path


def memmap_folder(path: Path) -> Path:
    """A folder written by ``save_memmap`` (activity, spikes, behaviour and labels)."""
    from neurognocchi.data import Trials, save_memmap

    spikes = counts()
    behavior = np.random.default_rng(3).normal(size=(N_TRIALS, 10, 2))
    trials = Trials(
        spikes / 0.02,
        spikes=spikes,
        behavior=behavior,
        trial_info={"condition": np.arange(N_TRIALS) % 3},
        bin_size_s=0.02,
    )
    return save_memmap(trials, path)


# ---------------------------------------------------------------------- damage
def truncated(source: Path, dest: Path, size: int) -> Path:
    """``dest``: the first ``size`` bytes of ``source``."""
    dest.write_bytes(source.read_bytes()[:size])
    return dest


def delete_hdf5_member(path: Path, member: str) -> Path:
    """Delete the group or dataset ``member`` of the HDF5 file ``path`` in place (its link,
    as h5py removes it; the file is not repacked). Nothing happens when it is already gone."""
    import h5py

    with h5py.File(path, "r+") as handle:
        if member in handle:
            del handle[member]
    return path


def without_hdf5_member(source: Path, dest: Path, member: str) -> Path:
    """``dest``: a copy of the HDF5 file ``source`` without ``member``."""
    dest.write_bytes(source.read_bytes())
    return delete_hdf5_member(dest, member)


def without_zip_members(source: Path, dest: Path, members) -> Path:
    """``dest``: a copy of the zip archive ``source`` (an ``.npz``) without ``members``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(dest, "w") as new:
        for item in old.infolist():
            if item.filename not in members:
                new.writestr(item, old.read(item.filename))
    return dest


# The members of a file written by Trials.save (of `npz_arrays`' trials).
SAVED_NPZ_MEMBERS = ("activity.npy", "spikes.npy", "info/condition.npy", "meta.npy")

# The HDF5 members of `nwb_recording`'s file that a reader may need.
NWB_MEMBERS = (
    "units",
    "units/spike_times",
    "units/spike_times_index",
    "units/obs_intervals",
    "units/obs_intervals_index",
    "units/id",
    "intervals/trials",
    "intervals/trials/start_time",
    "intervals/trials/move_onset_time",
    "intervals/trials/condition",
    "intervals/trials/id",
    "processing/behavior/hand_pos",
    "processing/behavior/hand_pos/data",
    "processing/behavior/hand_pos/timestamps",
    "specifications",
)
