"""`load_mat`: DataHigh-style struct arrays and plain 3-D arrays in MATLAB files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from neurognocchi.data import gaussian_smooth, load_mat, rebin

DATAHIGH = Path(__file__).resolve().parents[2] / "shared" / "data" / "datahigh_ex1_spikecounts.mat"


def _struct_file(path, data, conditions):
    records = np.empty(len(data), dtype=[("data", object), ("condition", object)])
    for k, (trial, condition) in enumerate(zip(data, conditions, strict=True)):
        records[k] = (trial, condition)
    savemat(path, {"D": records})
    return path


@pytest.fixture
def counts():
    rng = np.random.default_rng(0)
    return rng.poisson(0.02, size=(6, 5, 100)).astype(np.uint8)  # trials, neurons, 1 ms bins


def test_struct_array_is_binned_smoothed_and_labelled(tmp_path, counts):
    names = ["reach2", "reach1", "reach2", "reach1", "reach3", "reach3"]
    path = _struct_file(tmp_path / "d.mat", list(counts), names)
    trials = load_mat(path, bin_size_s=0.02, smooth_sigma_s=0.04)
    expected = rebin(np.swapaxes(counts, 1, 2).astype(np.int64), 20, axis=1)
    assert np.array_equal(trials.spikes, expected)  # (6, 5 bins, 5 neurons)
    smoothed = gaussian_smooth(expected, sigma_s=0.04, bin_size_s=0.02) / 0.02
    np.testing.assert_allclose(trials.activity, smoothed, rtol=1e-6)
    assert trials.trial_info["condition_name"].tolist() == names
    assert trials.trial_info["condition"].tolist() == [1, 0, 1, 0, 2, 2]
    assert trials.bin_size_s == 0.02 and trials.align == "trial start [0, 0.1] s"


def test_plain_array_with_labels_and_time_first_axes(tmp_path, counts):
    data = np.swapaxes(counts, 1, 2)  # (trials, time, neurons)
    savemat(tmp_path / "a.mat", {"X": data, "cond": np.arange(6) % 2, "other": np.zeros(3)})
    trials = load_mat(
        tmp_path / "a.mat", labels="cond", axes="time_neurons", bin_size_s=0.01, smooth_sigma_s=None
    )
    assert np.array_equal(trials.spikes, rebin(data.astype(np.int64), 10, axis=1))
    np.testing.assert_allclose(trials.activity, trials.spikes / 0.01)
    assert trials.trial_info["condition"].tolist() == [0, 1, 0, 1, 0, 1]
    unlabelled = load_mat(tmp_path / "a.mat", labels=None, axes="time_neurons")
    assert unlabelled.trial_info == {}


def test_continuous_values_are_averaged_not_counted(tmp_path):
    rates = np.full((3, 2, 40), 7.5)
    savemat(tmp_path / "r.mat", {"rates": rates})
    trials = load_mat(tmp_path / "r.mat", bin_size_s=0.02, smooth_sigma_s=0.02)
    assert trials.spikes is None
    np.testing.assert_allclose(trials.activity, 7.5)


def test_errors_name_the_argument_and_list_the_file(tmp_path, counts):
    path = tmp_path / "two.mat"
    savemat(path, {"A": np.zeros((2, 3, 4)), "B": np.zeros((2, 3, 4))})
    with pytest.raises(ValueError, match=r"pass variable=.*A \(shape \(2, 3, 4\)\)"):
        load_mat(path)
    with pytest.raises(KeyError, match=r"variable='C'.*B \(shape"):
        load_mat(path, variable="C")
    with pytest.raises(ValueError, match="whole multiple of sample_period_s"):
        load_mat(path, variable="A", bin_size_s=0.0025)
    with pytest.raises(ValueError, match="axes must be one of"):
        load_mat(path, variable="A", axes="time")
    with pytest.raises(ValueError, match="multiple of factor"):
        load_mat(path, variable="A", bin_size_s=0.003)
    uneven = _struct_file(tmp_path / "u.mat", [counts[0], counts[1][:, :50]], ["a", "b"])
    with pytest.raises(ValueError, match="different data shapes"):
        load_mat(uneven)
    with pytest.raises(KeyError, match=r"data_field='spikes'.*data, condition"):
        load_mat(uneven, data_field="spikes")
    with pytest.raises(FileNotFoundError):
        load_mat(tmp_path / "absent.mat")
    (tmp_path / "bad.mat").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"not a readable \.mat file"):
        load_mat(tmp_path / "bad.mat")


@pytest.mark.skipif(not DATAHIGH.is_file(), reason="../shared/data/ DataHigh file is absent")
def test_datahigh_recording():
    trials = load_mat(DATAHIGH, bin_size_s=0.02, smooth_sigma_s=0.05)
    assert trials.activity.shape == (210, 20, 61)
    assert np.bincount(trials.trial_info["condition"]).tolist() == [30] * 7
    assert sorted(set(trials.trial_info["condition_name"])) == [f"reach{i}" for i in range(1, 8)]
    # About 10 Hz on average, as the data's README says.
    assert 8 < trials.spikes.sum() / (210 * 61 * 0.4) < 12
