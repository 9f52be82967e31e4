"""`load_trials`: plain ``.npy``/``.npz`` arrays and files written by `Trials.save`."""

from __future__ import annotations

import numpy as np
import pytest

from neurognocchi.data import Trials, load_trials


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


@pytest.mark.parametrize("suffix", [".csv", ".npy.gz", ".mat"])
def test_load_wrong_suffix(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(b"1,2,3")
    with pytest.raises(ValueError, match=r"must be a \.npz or \.npy file"):
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
