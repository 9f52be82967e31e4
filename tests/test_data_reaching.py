"""Fast tests of the MotorNet reaching dataset and its policy (tiny configurations)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import sys

import numpy as np
import pytest
import torch

from neurognocchi.data import make_reaching_dataset
from neurognocchi.data.grid import default_heldout_conditions
from neurognocchi.data.reaching.arm import ArmConfig
from neurognocchi.data.reaching.dataset import endpoint_error_cm
from neurognocchi.data.reaching.policy import (
    PolicyTrainConfig,
    ReachingPolicy,
    default_policy_path,
    load_policy,
    save_policy,
)
from neurognocchi.data.reaching.train_policy import policy_learning_rate, train_policy
from neurognocchi.data.trials import Trials

needs_motornet = pytest.mark.skipif(
    importlib.util.find_spec("motornet") is None, reason="MotorNet not installed"
)
TINY = {"n_trials": 6, "n_neurons": 12, "n_time": 40, "delay_s": (0.1, 0.15)}


@pytest.fixture(scope="module")
def tiny_trials():
    if importlib.util.find_spec("motornet") is None:
        pytest.skip("MotorNet not installed")
    return make_reaching_dataset(**TINY, random_state=3)


@needs_motornet
def test_fields_shapes_and_units(tiny_trials):
    trials = tiny_trials
    assert (trials.n_trials, trials.n_time, trials.n_neurons) == (6, 40, 12)
    assert trials.bin_size_s == pytest.approx(0.01)
    assert trials.behavior_names == ("hand_x", "hand_y", "hand_vx", "hand_vy")
    assert set(trials.trial_info) == {
        "target_x",
        "target_y",
        "start_x",
        "start_y",
        "condition",
        "heldout",
        "go_time",
    }
    assert trials.spikes.dtype == np.int32 and trials.spikes.min() >= 0
    assert 0 < trials.truth.min() and trials.truth.max() < 80.0  # Hz
    # The hand starts where trial_info says (cm) and the go cue falls inside the trial.
    start = np.stack([trials.info("start_x"), trials.info("start_y")], axis=1)
    np.testing.assert_allclose(trials.behavior[:, 0, :2], start, atol=0.5)
    assert np.all(trials.info("go_time") >= 0.2) and np.all(trials.info("go_time") <= 0.25)
    heldout = np.isin(trials.info("condition"), default_heldout_conditions(5))
    np.testing.assert_array_equal(trials.info("heldout"), heldout)
    assert endpoint_error_cm(trials).shape == (6,)


@needs_motornet
def test_deterministic_per_seed(tiny_trials):
    again = make_reaching_dataset(**TINY, random_state=3)
    for field in ("activity", "spikes", "truth", "behavior"):
        np.testing.assert_array_equal(getattr(again, field), getattr(tiny_trials, field))
    other = make_reaching_dataset(**TINY, random_state=4)
    assert not np.array_equal(other.truth, tiny_trials.truth)


@needs_motornet
def test_saves_and_loads_npz(tiny_trials, tmp_path):
    loaded = Trials.load(tiny_trials.save(tmp_path / "reaching.npz"))
    np.testing.assert_array_equal(loaded.spikes, tiny_trials.spikes)
    np.testing.assert_array_equal(loaded.info("condition"), tiny_trials.info("condition"))


@needs_motornet
@pytest.mark.parametrize(
    "changes, match",
    [
        ({"grid_spacing_cm": 10.0}, "trained for targets"),
        ({"n_time": 20}, "n_time"),
        ({"start_radius_cm": 5.0}, "start_radius_cm"),
        ({"n_neurons": 0}, "n_neurons"),
        ({"bin_size_s": 0.015}, "bin_size_s"),
        ({"bin_size_s": 0.0}, "bin_size_s"),
        ({"bin_size_s": 0.03}, "multiple of 3"),
    ],
)
def test_rejects_arguments_outside_the_trained_range(changes, match):
    with pytest.raises(ValueError, match=match):
        make_reaching_dataset(**{**TINY, **changes})


@needs_motornet
def test_coarser_bins_sum_spikes_and_average_rates_and_behaviour(tiny_trials):
    coarse = make_reaching_dataset(**TINY, bin_size_s=0.02, random_state=3)
    assert (coarse.n_time, coarse.bin_size_s) == (TINY["n_time"] // 2, 0.02)
    fine = tiny_trials
    np.testing.assert_array_equal(coarse.spikes, fine.spikes[:, 0::2] + fine.spikes[:, 1::2])
    np.testing.assert_allclose(
        coarse.truth, (fine.truth[:, 0::2] + fine.truth[:, 1::2]) / 2, rtol=1e-5
    )
    np.testing.assert_allclose(
        coarse.behavior, (fine.behavior[:, 0::2] + fine.behavior[:, 1::2]) / 2, rtol=1e-6
    )
    np.testing.assert_array_equal(coarse.info("go_time"), fine.info("go_time"))


def test_missing_motornet_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "motornet", None)  # makes `import motornet` fail
    with pytest.raises(ImportError, match=r"neurognocchi\[motor\]"):
        make_reaching_dataset(**TINY)


def _save_with_metadata(path, **metadata_changes):
    save_policy(path, ReachingPolicy(ArmConfig()), PolicyTrainConfig())
    payload = torch.load(path, weights_only=True)
    metadata = json.loads(payload["metadata"])
    metadata.update(metadata_changes)
    payload["metadata"] = json.dumps(metadata)
    torch.save(payload, path)


def test_policy_of_another_version_or_arm_is_refused(tmp_path):
    _save_with_metadata(tmp_path / "old.pt", format_version=0)
    with pytest.raises(ValueError, match="train-policy"):
        load_policy(tmp_path / "old.pt")
    other_arm = dataclasses.asdict(ArmConfig(n_units=16))
    _save_with_metadata(tmp_path / "arm.pt", arm_config=other_arm)
    with pytest.raises(ValueError, match=r"arm config.*train-policy"):
        load_policy(tmp_path / "arm.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a policy")
    with pytest.raises(ValueError, match="not a readable policy"):
        load_policy(tmp_path / "junk.pt")


def test_shipped_policy_loads():
    policy, config = load_policy()
    assert policy.config == ArmConfig()
    assert config.grid_size == 5 and torch.all(policy.unit_std > 0)


@needs_motornet
def test_train_policy_writes_weights_and_curve(tmp_path):
    torch.set_num_threads(1)
    config = PolicyTrainConfig(n_updates=2, batch_size=4, n_steps=20)
    history = train_policy(tmp_path / "p.pt", train_config=config, verbose=False)
    assert history["update"] == [1, 2] and len(history["distance_cm"]) == 2
    curve = json.loads((tmp_path / "p_curve.json").read_text())
    assert curve["loss"] == history["loss"]
    assert (tmp_path / "p_curve.csv").read_text().startswith("update,loss,distance_cm,seconds")
    _, loaded_config = load_policy(tmp_path / "p.pt")
    assert loaded_config == config
    trials = make_reaching_dataset(**TINY, policy_path=tmp_path / "p.pt")
    assert trials.n_trials == 6


@needs_motornet
def test_plot_reaching(tiny_trials):
    from matplotlib.figure import Figure

    from neurognocchi.plots import plot_reaching

    figure = plot_reaching(tiny_trials, n_units=3)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 4


def test_the_data_package_reaches_the_reaching_helpers():
    import neurognocchi.data as data
    import neurognocchi.data.reaching as reaching

    assert data.train_policy is train_policy and "train_policy" not in data.__all__
    assert reaching.endpoint_error_cm is endpoint_error_cm


def test_shipped_policy_sits_beside_the_package():
    path = default_policy_path()
    assert path.is_file() and path.parent.name == "policies"
    assert path.with_name("reaching_policy_curve.csv").is_file()


@pytest.mark.parametrize("n_updates", [1, 2, 7, 2500])
def test_learning_rate_is_the_cosine_decay_the_shipped_policy_used(n_updates):
    config = PolicyTrainConfig(n_updates=n_updates, learning_rate=2e-3)
    for update in range(n_updates):
        # the formula the shipped policy was trained with, written out
        progress = update / max(1, n_updates - 1)
        expected = 2e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        assert policy_learning_rate(config, update) == expected


def test_train_config_refuses_bad_values():
    with pytest.raises(ValueError, match="n_updates"):
        PolicyTrainConfig(n_updates=0)
    with pytest.raises(TypeError, match="batch_size"):
        PolicyTrainConfig(batch_size=2.5)
    assert PolicyTrainConfig.from_json(PolicyTrainConfig().to_json()) == PolicyTrainConfig()
    assert ArmConfig.from_json(ArmConfig().to_json()) == ArmConfig()
