"""NWB reading (`load_nwb`, `load_mc_rtt`) and writing (`save_nwb`, `make_random_target_nwb`)
on small files written by pynwb, checked against what was written."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")

from neurognocchi.data import grid_targets, make_toy_dataset, rebin  # noqa: E402
from neurognocchi.data.nwb import load_mc_rtt, load_nwb, save_nwb  # noqa: E402
from neurognocchi.data.nwb.synthetic import make_random_target_nwb  # noqa: E402

# Onset rule of load_mc_rtt on a minimum-jerk reach: speed 30 tau^2 (1 - tau)^2 crosses
# 0.3 of its peak 1.875 where tau (1 - tau) = sqrt(0.3 * 1.875 / 30).
TAU_AT_30_PERCENT = (1 - np.sqrt(1 - 4 * np.sqrt(0.3 * 1.875 / 30))) / 2


@pytest.fixture(scope="module")
def toy():
    return make_toy_dataset(40, n_neurons=8, n_time=30, random_state=3)


@pytest.fixture(scope="module")
def toy_file(toy, tmp_path_factory):
    return save_nwb(toy, tmp_path_factory.mktemp("nwb") / "toy.nwb")


def _read_toy(path, toy, **kwargs):
    options = dict(
        align="start_time",
        window_s=(0.0, toy.n_time * toy.bin_size_s),
        bin_size_s=toy.bin_size_s,
        smooth_sigma_s=0.04,
        behavior=list(toy.behavior_names),
    )
    return load_nwb(path, **(options | kwargs))


# ---------------------------------------------------------------------- round trips
def test_round_trip_restores_every_written_field(toy, toy_file):
    back = _read_toy(toy_file, toy)
    assert back.n_trials == toy.n_trials and back.bin_size_s == toy.bin_size_s
    assert np.array_equal(back.spikes, toy.spikes)
    np.testing.assert_allclose(back.activity, toy.activity, rtol=1e-6)  # same smoothing
    assert back.behavior_names == toy.behavior_names
    np.testing.assert_allclose(back.behavior, toy.behavior, rtol=1e-6)
    for key, column in toy.trial_info.items():
        assert back.trial_info[key].dtype.kind == column.dtype.kind, key
        assert np.array_equal(back.trial_info[key], column), key
    assert back.trial_info["trial_id"].tolist() == list(range(toy.n_trials))
    assert back.align == "start_time [0, 0.6] s"


def test_round_trip_of_string_labels_and_unsmoothed_rates(tmp_path, toy):
    named = toy.replace(trial_info={"label": np.array([f"t{i}" for i in range(toy.n_trials)])})
    path = save_nwb(named, tmp_path / "named.nwb")
    back = _read_toy(path, toy, smooth_sigma_s=None, behavior=())
    assert back.trial_info["label"].tolist() == named.trial_info["label"].tolist()
    np.testing.assert_allclose(back.activity, toy.spikes / toy.bin_size_s, rtol=1e-6)
    assert back.behavior is None


def test_coarser_bins_and_a_shifted_window(toy, toy_file):
    coarse = _read_toy(toy_file, toy, bin_size_s=0.04)
    assert np.array_equal(coarse.spikes, rebin(toy.spikes, 2))
    shifted = _read_toy(toy_file, toy, window_s=(0.2, 0.5))
    assert np.array_equal(shifted.spikes, toy.spikes[:, 10:25])
    np.testing.assert_allclose(shifted.behavior, toy.behavior[:, 10:25], rtol=1e-6)


def test_windows_outside_the_observation_intervals_are_dropped(toy, toy_file):
    # save_nwb observes only the trial windows; one reaching past a trial's end is unobserved.
    with pytest.raises(ValueError, match="no window"):
        _read_toy(toy_file, toy, window_s=(0.1, 0.7))


def test_mc_maze_style_trials_align_on_move_onset(tmp_path, toy):
    duration, iti = toy.n_time * toy.bin_size_s, 0.5
    onset = np.arange(toy.n_trials) * (duration + iti) + 0.3  # session times of bin 15
    maze = toy.replace(trial_info=toy.trial_info | {"move_onset_time": onset})
    path = save_nwb(maze, tmp_path / "maze.nwb", iti_s=iti)
    for trials in (load_nwb(path, window_s=(-0.2, 0.2)), load_mc_rtt(path, window_s=(-0.2, 0.2))):
        assert trials.align.startswith("move_onset_time [-0.2, 0.2]")
        assert np.array_equal(trials.spikes, toy.spikes[:, 5:25])
        assert trials.behavior is None  # hand_x, ... are not standard behaviour names
        assert np.array_equal(trials.trial_info["condition"], toy.trial_info["condition"])


def test_save_refuses_to_overwrite_and_leaves_no_temporary_file(tmp_path, toy):
    path = save_nwb(toy, tmp_path / "trials.nwb")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_nwb(toy, path)
    assert path.read_bytes() == before
    save_nwb(toy[:3], path, overwrite=True)
    assert _read_toy(path, toy).n_trials == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trials.nwb"]


def test_save_needs_spikes(tmp_path, toy):
    with pytest.raises(ValueError, match="needs spikes"):
        save_nwb(toy.replace(spikes=None), tmp_path / "x.nwb")
    with pytest.raises(ValueError, match="cannot be NWB names"):
        clash = toy.replace(trial_info={"start_time": np.zeros(toy.n_trials)})
        save_nwb(clash, tmp_path / "x.nwb")
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------- MC_RTT
@pytest.fixture(scope="module")
def rtt(tmp_path_factory):
    path = tmp_path_factory.mktemp("rtt") / "rtt.nwb"
    truth = make_random_target_nwb(path, n_units=20, duration_s=60.0, gap_s=(25.0, 30.0))
    return path, truth


def _expected_reaches(truth, duration_s, window_s=(-0.2, 0.5)):
    """Reach indices that load_mc_rtt should return, from what was written."""
    on, (g0, g1) = truth["target_on_time"], truth["gap_s"]
    onset = truth["move_start_time"] + TAU_AT_30_PERCENT * truth["move_duration"]
    keep = []
    for k in range(1, len(on) - 1):  # the first and last reach are cut by the recording
        period_clear = on[k + 1] <= g0 or on[k] >= g1
        window = (onset[k] + window_s[0], onset[k] + window_s[1])
        window_clear = (window[1] <= g0 or window[0] >= g1) and window[1] <= duration_s
        if period_clear and window_clear and on[k + 1] <= duration_s:
            keep.append(k)
    return np.array(keep), onset


def test_mc_rtt_trialization_matches_the_written_session(rtt):
    path, truth = rtt
    trials = load_mc_rtt(path)
    expected, onset = _expected_reaches(truth, 60.0)
    assert trials.n_trials == len(expected) > 30
    info = trials.trial_info
    # Match reaches by target-on time; detected onsets agree with the analytic ones to 2 ms.
    matched = np.searchsorted(truth["target_on_time"], info["move_onset_time"]) - 1
    assert np.array_equal(matched, expected)
    np.testing.assert_allclose(info["move_onset_time"], onset[expected], atol=2e-3)
    # The target appears at the first 1 ms sample after its written time.
    np.testing.assert_allclose(
        info["target_on_time"],
        truth["target_on_time"][expected] - info["move_onset_time"],
        atol=1.001e-3,
    )
    targets = truth["target"][expected]
    np.testing.assert_array_equal(np.c_[info["target_x"], info["target_y"]], targets)
    # Start = the written minimum-jerk path at the detected onset.
    tau = (info["move_onset_time"] - truth["move_start_time"][expected]) / truth["move_duration"][
        expected
    ]
    covered = (10 * tau**3 - 15 * tau**4 + 6 * tau**5)[:, None]
    start = truth["start"][expected] + covered * (targets - truth["start"][expected])
    np.testing.assert_allclose(np.c_[info["start_x"], info["start_y"]], start, atol=1e-6)
    np.testing.assert_allclose(info["reach_x"], targets[:, 0] - info["start_x"])
    np.testing.assert_allclose(info["reach_angle"], np.arctan2(info["reach_y"], info["reach_x"]))
    grid = grid_targets(8, 20.0)
    assert np.array_equal(grid[info["condition"]], targets)


def test_mc_rtt_binning_counts_the_written_spikes(rtt):
    path, _ = rtt
    trials = load_mc_rtt(path, bin_size_s=0.01, smooth_sigma_s=None)
    assert trials.spikes.shape == (trials.n_trials, 70, 20)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        units = io.read().units
        spike_times = [units.get_unit_spike_times(i) for i in range(len(units))]
    for k in (0, trials.n_trials // 2, trials.n_trials - 1):
        start = trials.trial_info["move_onset_time"][k] - 0.2
        for unit in (0, 7, 19):
            times = spike_times[unit]
            edges = start + np.arange(71) * 0.01
            expected = np.histogram(times, bins=edges)[0]
            assert np.array_equal(trials.spikes[k, :, unit], expected)


def test_mc_rtt_behaviour_is_aligned_to_onset(rtt):
    path, _ = rtt
    trials = load_mc_rtt(path, bin_size_s=0.01)
    names = list(trials.behavior_names)
    assert names[:2] == ["cursor_pos_x", "cursor_pos_y"] and "finger_pos_z" in names
    # Bins 19 and 20 are centred 5 ms before and after onset: their mean is the start.
    finger = trials.behavior[:, :, [names.index("finger_pos_x"), names.index("finger_pos_y")]]
    start = np.c_[trials.trial_info["start_x"], trials.trial_info["start_y"]]
    np.testing.assert_allclose(finger[:, 19:21].mean(axis=1), start, atol=0.05)  # mm
    target = trials.behavior[:, :, [names.index("target_pos_x"), names.index("target_pos_y")]]
    assert np.array_equal(target[:, -1, 0], trials.trial_info["target_x"])


def test_mc_rtt_units_selection_and_errors(rtt, tmp_path):
    path, _ = rtt
    with pytest.raises(ValueError, match="heldout"):
        load_mc_rtt(path, units="heldout")
    with pytest.raises(KeyError, match="finger_vel"):
        load_mc_rtt(path, position="hand_pos")
    with pytest.raises(ValueError, match="onset_fraction"):
        load_mc_rtt(path, onset_fraction=1.5)
    with pytest.raises(ValueError, match=r"no trials table.*load_mc_rtt.*finger_pos"):
        load_nwb(path)


# ---------------------------------------------------------------------- NLB-style units
def _nlb_units_file(path):
    nwbfile = pynwb.NWBFile(
        session_description="units", identifier="u", session_start_time=datetime.now(timezone.utc)
    )
    nwbfile.add_unit_column("heldout", "held out in NLB")
    nwbfile.add_unit(spike_times=[0.05, 0.15, 0.16], obs_intervals=[[0.0, 1.0]], heldout=False)
    nwbfile.add_unit(spike_times=[0.01, 0.55], obs_intervals=[[0.0, 1.0]], heldout=True)
    nwbfile.add_unit(spike_times=[0.12], obs_intervals=[[0.0, 0.4]], heldout=False)
    nwbfile.add_trial(start_time=0.0, stop_time=0.2)
    nwbfile.add_trial(start_time=0.4, stop_time=0.6)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def test_heldout_units_and_per_unit_observation_intervals(tmp_path):
    path = _nlb_units_file(tmp_path / "units.nwb")
    options = dict(window_s=(0.0, 0.2), bin_size_s=0.1, smooth_sigma_s=None)
    heldin = load_nwb(path, units="heldin", **options)
    # Unit 2 is not observed after 0.4 s: the second trial is dropped.
    assert heldin.trial_info["trial_id"].tolist() == [0]
    assert heldin.spikes[0].tolist() == [[1, 0], [2, 1]]
    heldout = load_nwb(path, units="heldout", **options)
    assert heldout.spikes[:, :, 0].tolist() == [[1, 0], [0, 1]]
    assert load_nwb(path, **options).n_neurons == 3
    with pytest.raises(ValueError, match="units must be one of"):
        load_nwb(path, units="some", **options)


def test_errors_name_the_argument_and_list_the_file(tmp_path, toy, toy_file):
    with pytest.raises(KeyError, match=r"align='go_cue_time'.*start_time, stop_time, target_x"):
        load_nwb(toy_file, align="go_cue_time")
    with pytest.raises(KeyError, match=r"\['finger_pos'\].*hand_vx"):
        load_nwb(toy_file, behavior=["finger_pos"])
    with pytest.raises(ValueError, match=r"window_s .* whole number of bins"):
        load_nwb(toy_file, window_s=(0.0, 0.05), bin_size_s=0.02)
    with pytest.raises(ValueError, match="window_s must be"):
        load_nwb(toy_file, window_s=(0.5, 0.0))
    with pytest.raises(FileNotFoundError):
        load_nwb(tmp_path / "absent.nwb")
    bad = tmp_path / "bad.nwb"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable NWB file"):
        load_nwb(bad)


def test_importing_the_package_does_not_import_pynwb():
    code = "import sys, neurognocchi, neurognocchi.data; print('pynwb' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_missing_pynwb_gives_an_install_hint(monkeypatch, toy_file):
    monkeypatch.setitem(sys.modules, "pynwb", None)  # makes `import pynwb` fail
    with pytest.raises(ImportError, match=r'pip install "neurognocchi\[nwb\]"'):
        load_nwb(toy_file)


def test_fixture_generator_takes_grid_spacing_in_mm(tmp_path):
    import neurognocchi.data as data
    import neurognocchi.data.nwb as nwb

    assert nwb.make_random_target_nwb is make_random_target_nwb
    assert not hasattr(data, "make_random_target_nwb")  # the data-level import went in 0.3
    options = dict(n_units=2, duration_s=4.0, grid_size=3, random_state=1)
    new = make_random_target_nwb(tmp_path / "new.nwb", grid_spacing_mm=15.0, **options)
    assert np.abs(new["target"]).max() == 15.0
    with pytest.raises(TypeError, match="'grid_spacing'"):  # renamed grid_spacing_mm in 0.2
        make_random_target_nwb(tmp_path / "old.nwb", grid_spacing=15.0, **options)
