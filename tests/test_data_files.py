"""`load_trials`, the one dispatcher: plain ``.npy``/``.npz`` arrays, files written by
`Trials.save`, memory-mapped directories, and ``.mat``/``.nwb`` recordings."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest

from neurognocchi.data import Trials, load_mat, load_trials, make_toy_dataset, save_memmap


def _activity(n_trials: int = 4) -> np.ndarray:
    return np.arange(n_trials * 3 * 2, dtype=np.float64).reshape(n_trials, 3, 2)


def test_load_npy(tmp_path):
    path = tmp_path / "activity.npy"
    np.save(path, _activity())
    trials = load_trials(path, bin_size_s=0.05)
    assert trials.activity.dtype == np.float32
    assert np.array_equal(trials.activity, _activity())
    assert trials.bin_size_s == 0.05
    assert trials.spikes is None and trials.trial_info == {}


def test_load_npy_of_wrong_rank(tmp_path):
    path = tmp_path / "activity.npy"
    np.save(path, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="activity must have rank 3"):
        load_trials(path)


def test_load_corrupt_npy(tmp_path):
    path = tmp_path / "activity.npy"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"not a readable \.npy array"):
        load_trials(path)


def test_load_plain_npz_with_labels(tmp_path):
    path = tmp_path / "plain.npz"
    spikes = np.ones((4, 3, 2), dtype=np.int64)
    np.savez(
        path,
        activity=_activity(),
        spikes=spikes,
        condition=np.array([0, 1, 0, 1]),
        heldout=np.array([True, False, False, False]),
        name=np.array(["a", "b", "c", "d"]),
        unit_ids=np.zeros((2, 2)),  # not 1-D: not a label
    )
    trials = load_trials(path)
    assert np.array_equal(trials.activity, _activity())
    assert np.array_equal(trials.spikes, spikes)
    assert trials.truth is None and trials.behavior is None
    assert set(trials.trial_info) == {"condition", "heldout", "name"}
    assert trials.trial_info["condition"].tolist() == [0, 1, 0, 1]
    assert trials.trial_info["name"].tolist() == ["a", "b", "c", "d"]
    assert trials.bin_size_s is None
    assert trials.select(condition=1).n_trials == 2


def test_load_plain_npz_with_label_of_wrong_length(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, activity=_activity(), condition=np.arange(5))
    with pytest.raises(ValueError, match=r"trial_info\['condition'\]"):
        load_trials(path)


def test_load_file_written_by_trials_save(tmp_path):
    original = Trials(
        _activity(),
        spikes=np.ones((4, 3, 2), dtype=np.int32),
        behavior=np.zeros((4, 3, 1)),
        behavior_names=["x"],
        trial_info={"condition": np.array([3, 2, 1, 0])},
        bin_size_s=0.01,
        align="move onset",
    )
    path = original.save(tmp_path / "saved.npz")
    trials = load_trials(path, bin_size_s=0.5)  # bin_size_s ignored for saved files
    assert trials.bin_size_s == 0.01
    assert trials.align == "move onset"
    assert trials.behavior_names == ("x",)
    assert np.array_equal(trials.spikes, original.spikes)
    assert list(trials.trial_info) == ["condition"]  # 'meta' is not a label
    assert trials.trial_info["condition"].tolist() == [3, 2, 1, 0]


@pytest.mark.parametrize("suffix", [".csv", ".npy.gz"])
def test_load_wrong_suffix(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(b"1,2,3")
    # the message the CLI prints for every command reading data
    with pytest.raises(ValueError, match=r"must be a \.nwb, \.mat, \.npy or \.npz file"):
        load_trials(path)


def test_load_unreadable_mat(tmp_path):
    # .mat files are read by load_trials now (through load_mat), so a bad one is unreadable
    # rather than of the wrong kind
    path = tmp_path / "data.mat"
    path.write_bytes(b"1,2,3")
    with pytest.raises(ValueError, match=r"not a readable \.mat file.*neurognocchi convert"):
        load_trials(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_trials(tmp_path / "missing.npz")


def test_load_npz_without_activity_lists_contents(tmp_path):
    path = tmp_path / "rates.npz"
    np.savez(path, rates=_activity(), condition=np.arange(4))
    with pytest.raises(ValueError, match="no 'activity' array; it holds: rates, condition"):
        load_trials(path)


def test_load_corrupt_npz(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, activity=_activity())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"not a readable \.npz file"):
        load_trials(path)


def test_load_npy_memory_mapped(tmp_path):
    path = tmp_path / "activity.npy"
    np.save(path, _activity().astype(np.float32))
    trials = load_trials(path, mmap=True, bin_size_s=0.05)
    assert isinstance(trials.activity, np.memmap)
    np.testing.assert_array_equal(trials.activity, _activity())


def test_npz_and_recordings_cannot_be_memory_mapped(tmp_path):
    np.savez(tmp_path / "plain.npz", activity=_activity())
    with pytest.raises(ValueError, match="cannot be memory-mapped"):
        load_trials(tmp_path / "plain.npz", mmap=True)
    (tmp_path / "r.mat").write_bytes(b"")
    with pytest.raises(ValueError, match="mmap=True needs a directory"):
        load_trials(tmp_path / "r.mat", mmap=True)


def test_directory_written_by_save_memmap(tmp_path):
    toy = make_toy_dataset(12, n_neurons=3, n_time=6, random_state=0)
    save_memmap(toy, tmp_path / "toy")
    loaded = load_trials(tmp_path / "toy", bin_size_s=0.5)  # bin_size_s ignored: stored
    assert loaded.bin_size_s == toy.bin_size_s
    np.testing.assert_array_equal(loaded.spikes, toy.spikes)


def test_reader_options_are_refused_for_arrays(tmp_path):
    np.save(tmp_path / "a.npy", _activity())
    with pytest.raises(TypeError, match=r"\['align'\] do not apply to \.npy files"):
        load_trials(tmp_path / "a.npy", align="go_cue_time")
    np.savez(tmp_path / "b.npz", activity=_activity())
    with pytest.raises(ValueError, match=r"\['variable'\] do not apply to \.npz files"):
        load_trials(tmp_path / "b.npz", variable="X")


def test_mat_recording_is_read_with_its_options(tmp_path):
    savemat = pytest.importorskip("scipy.io").savemat
    counts = np.random.default_rng(0).poisson(0.05, size=(4, 3, 40)).astype(np.uint8)
    savemat(tmp_path / "rec.mat", {"X": counts, "Y": counts})
    options = dict(variable="X", bin_size_s=0.01, smooth_sigma_s=None, labels=None)
    loaded = load_trials(tmp_path / "rec.mat", **options)
    direct = load_mat(tmp_path / "rec.mat", **options)
    np.testing.assert_array_equal(loaded.spikes, direct.spikes)
    assert loaded.bin_size_s == 0.01


@pytest.mark.skipif(importlib.util.find_spec("pynwb") is None, reason="pynwb not installed")
def test_nwb_recording_is_read_with_its_options(tmp_path):
    from neurognocchi.data import load_nwb, save_nwb

    toy = make_toy_dataset(6, n_neurons=3, n_time=10, random_state=0)
    path = save_nwb(toy, tmp_path / "toy.nwb")
    options = dict(align="start_time", window_s=(0.0, 0.2), smooth_sigma_s=None)
    loaded = load_trials(path, bin_size_s=0.02, **options)
    np.testing.assert_array_equal(loaded.spikes, load_nwb(path, bin_size_s=0.02, **options).spikes)
    np.testing.assert_array_equal(loaded.spikes, toy.spikes)
    with pytest.raises(ValueError, match=r"window_s .* whole number.*neurognocchi convert"):
        load_trials(path, bin_size_s=0.02, window_s=(0.0, 0.05))


def test_trials_load_refuses_a_directory_and_points_to_load_trials(tmp_path):
    toy = make_toy_dataset(12, n_neurons=3, n_time=6, random_state=0)
    save_memmap(toy, tmp_path / "toy")
    with pytest.raises(ValueError, match=r"is a directory.*load_trials.*open_memmap"):
        Trials.load(tmp_path / "toy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new path raises no warning
        assert load_trials(tmp_path / "toy").n_trials == 12
