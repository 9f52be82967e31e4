"""The toy reaching dataset: determinism, layout, targets, rates, spikes and behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from neurognocchi.data import Trials, gaussian_smooth, make_toy_dataset
from neurognocchi.data.grid import default_heldout_conditions, grid_targets

ARRAY_FIELDS = ("activity", "spikes", "truth", "behavior")
INFO_KEYS = {"target_x", "target_y", "start_x", "start_y", "condition", "heldout", "go_time"}


@pytest.fixture(scope="module")
def toy() -> Trials:
    return make_toy_dataset()


def _all_equal(a: Trials, b: Trials) -> bool:
    same = all(np.array_equal(getattr(a, name), getattr(b, name)) for name in ARRAY_FIELDS)
    return same and all(np.array_equal(a.trial_info[k], b.trial_info[k]) for k in INFO_KEYS)


def test_same_seed_gives_identical_trials(toy):
    assert _all_equal(toy, make_toy_dataset(random_state=0))


def test_different_seed_gives_different_trials(toy):
    other = make_toy_dataset(random_state=1)
    for name in ARRAY_FIELDS:
        assert not np.array_equal(getattr(toy, name), getattr(other, name))
    assert not np.array_equal(toy.trial_info["start_x"], other.trial_info["start_x"])


def test_default_shapes_and_metadata(toy):
    assert toy.activity.shape == (500, 50, 50)
    assert toy.spikes.shape == toy.truth.shape == (500, 50, 50)
    assert toy.behavior.shape == (500, 50, 4)
    assert toy.behavior_names == ("hand_x", "hand_y", "hand_vx", "hand_vy")
    assert toy.bin_size_s == 0.02
    assert np.issubdtype(toy.spikes.dtype, np.integer)
    assert toy.activity.dtype == np.float32
    assert "go cue" in toy.align


def test_custom_shapes():
    trials = make_toy_dataset(40, n_neurons=7, n_time=30, bin_size_s=0.01, random_state=3)
    assert trials.activity.shape == (40, 30, 7)
    assert trials.behavior.shape == (40, 30, 4)
    assert trials.bin_size_s == 0.01
    assert all(len(column) == 40 for column in trials.trial_info.values())


def test_trial_info_keys(toy):
    assert set(toy.trial_info) == INFO_KEYS
    assert toy.trial_info["heldout"].dtype == bool
    assert np.allclose(toy.trial_info["go_time"], 0.3 * 50 * 0.02)


@pytest.mark.parametrize("n_trials", [500, 510])
def test_conditions_are_balanced(n_trials):
    trials = make_toy_dataset(n_trials, n_neurons=2, n_time=10)
    counts = np.bincount(trials.trial_info["condition"], minlength=25)
    assert len(counts) == 25
    assert counts.min() >= n_trials // 25
    assert counts.max() - counts.min() <= 1


def test_targets_on_the_grid(toy):
    target = np.stack([toy.trial_info["target_x"], toy.trial_info["target_y"]], axis=1)
    assert len(np.unique(target, axis=0)) == 25
    assert set(np.unique(target).tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}  # spacing 2, centred
    condition = toy.trial_info["condition"]
    # condition c = iy * 5 + ix, one target per condition
    assert np.array_equal(target, grid_targets(5, 2.0)[condition])
    ix, iy = condition % 5, condition // 5
    assert np.array_equal(toy.trial_info["target_x"], (ix - 2) * 2.0)
    assert np.array_equal(toy.trial_info["target_y"], (iy - 2) * 2.0)


def test_heldout_marks_four_interior_conditions(toy):
    heldout = toy.trial_info["heldout"]
    condition = toy.trial_info["condition"]
    held_conditions = np.unique(condition[heldout])
    assert held_conditions.tolist() == [6, 8, 16, 18]
    assert not np.isin(condition[~heldout], held_conditions).any()  # per condition, not trial
    for c in held_conditions:
        x, y = grid_targets(5, 2.0)[c]
        assert abs(x) == 2.0 and abs(y) == 2.0  # interior, off the edge and off the centre
    assert np.array_equal(default_heldout_conditions(5), [6, 8, 16, 18])


def test_custom_heldout_conditions():
    trials = make_toy_dataset(50, n_neurons=2, n_time=10, heldout_conditions=[0, 24])
    held = np.unique(trials.trial_info["condition"][trials.trial_info["heldout"]])
    assert held.tolist() == [0, 24]


@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_truth_rates_in_realistic_range(random_state):
    truth = make_toy_dataset(random_state=random_state).truth
    mean_rate = truth.mean(axis=(0, 1))  # per neuron, Hz
    assert np.all(truth > 0)
    assert mean_rate.min() > 2.0
    assert mean_rate.max() < 60.0


def test_spikes_are_poisson_with_the_truth(toy):
    expected = toy.truth.astype(np.float64) * toy.bin_size_s  # (B, T, N) mean counts
    spikes = toy.spikes.astype(np.float64)
    n_samples = spikes.shape[0] * spikes.shape[1]
    mean_count = spikes.mean(axis=(0, 1))
    mean_expected = expected.mean(axis=(0, 1))
    standard_error = np.sqrt(mean_expected / n_samples)
    assert np.all(np.abs(mean_count - mean_expected) < 5 * standard_error)
    assert abs(spikes.mean() / expected.mean() - 1) < 0.01
    # Poisson: residual variance equals the mean.
    dispersion = np.mean((spikes - expected) ** 2) / expected.mean()
    assert abs(dispersion - 1) < 0.02
    assert spikes.min() >= 0


def test_behaviour_starts_at_start_and_ends_at_target(toy):
    position = toy.behavior[..., :2]
    velocity = toy.behavior[..., 2:]
    start = np.stack([toy.trial_info["start_x"], toy.trial_info["start_y"]], axis=1)
    target = np.stack([toy.trial_info["target_x"], toy.trial_info["target_y"]], axis=1)
    assert np.allclose(position[:, 0], start, rtol=0, atol=1e-6)
    assert np.allclose(position[:, -1], target, rtol=0, atol=1e-6)
    assert np.allclose(velocity[:, 0], 0, atol=1e-6)
    assert np.allclose(velocity[:, -1], 0, atol=1e-6)
    # Start positions vary continuously around the centre.
    assert 0.8 < start.std() < 1.2  # start_sd defaults to 1 cm
    assert len(np.unique(start[:, 0])) == toy.n_trials


def test_activity_is_smoothed_spikes_in_hz(toy):
    expected = gaussian_smooth(toy.spikes, sigma_s=0.04, bin_size_s=0.02) / 0.02
    assert np.allclose(toy.activity, expected, rtol=1e-5, atol=1e-4)
    # Same mean rate as the spikes.
    assert np.isclose(toy.activity.mean(), toy.spikes.mean() / 0.02, rtol=0.02)


@pytest.mark.parametrize("kwargs", [{"n_trials": 0}, {"n_neurons": 0}, {"n_time": 1}])
def test_bad_sizes(kwargs):
    with pytest.raises(ValueError, match="need n_trials >= 1"):
        make_toy_dataset(**kwargs)
