"""Joint generation of activity and behaviour (issue 19, item 1): behaviour never enters the
encoder, every generated trial comes with its behaviour, and `evaluate` reads navigation and
traversals from it beside the external decoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI
from neurognocchi.evaluation import evaluate, protocol_split
from neurognocchi.evaluation.joint import TABLE_ROWS, ChannelReader, joint_summary
from neurognocchi.models.config import GnocchiConfig

TINY = {
    "max_epochs": 3,
    "batch_size": 16,
    "channels": 8,
    "channel_mults": (1, 2),
    "encoder_dim": 8,
    "n_train_steps": 50,
    "n_sample_steps": 5,
    "verbose": False,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def trials():
    return make_toy_dataset(160, n_neurons=12, n_time=16, random_state=0)


@pytest.fixture(scope="module")
def split(trials):
    return protocol_split(trials, valid_fraction=0.2, random_state=0)


@pytest.fixture(scope="module")
def joint(trials, split):
    torch.set_num_threads(1)
    return GNOCCHI(3, joint_behavior=True, **TINY).fit(trials[split.train])


def _with_behavior(trials, behavior):
    return trials.replace(behavior=behavior.astype(np.float32))


# ---------------------------------------------------------------------- the encoder
def test_the_encoder_reads_the_activity_channels_only_in_training(joint, trials):
    """The loss hands the encoder the N activity channels, z-scored: nothing of the behaviour
    channels after them (recorded on the encoder's input)."""
    model, seen = joint.model_.train(), []
    handle = model.encoder.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    x = torch.from_numpy(np.concatenate([trials.activity[:8], trials.behavior[:8]], axis=-1))
    try:
        model.loss(x.float(), generator=torch.Generator().manual_seed(0))
    finally:
        handle.remove()
        model.eval()
    assert seen[0].shape == (8, 16, 12)  # N = 12 neurons, not 12 + 4
    expected = model.scaler.leading(torch.from_numpy(trials.activity[:8]).float())
    torch.testing.assert_close(seen[0], expected)


def test_codes_do_not_change_with_the_behaviour(joint, trials):
    scrambled = _with_behavior(trials, np.random.default_rng(0).normal(size=trials.behavior.shape))
    np.testing.assert_array_equal(joint.encode(trials), joint.encode(scrambled))
    x = np.concatenate([trials.activity[:5], trials.behavior[:5]], axis=-1).astype(np.float32)
    y = x.copy()
    y[..., 12:] += 100.0
    raw = [joint.model_.raw_code(torch.from_numpy(v)) for v in (x, y)]
    torch.testing.assert_close(raw[0], raw[1])


# ---------------------------------------------------------------------- generation
def test_generate_returns_behaviour_with_the_same_activity(joint, trials):
    codes = joint.encode(trials[:3])
    activity, behavior = joint.generate(codes, n_samples=2, random_state=1, return_behavior=True)
    assert activity.shape == (3, 2, 16, 12) and behavior.shape == (3, 2, 16, 4)
    np.testing.assert_array_equal(activity, joint.generate(codes, n_samples=2, random_state=1))
    spikes, again = joint.generate(
        codes, n_samples=2, random_state=1, output="spikes", return_behavior=True
    )
    assert spikes.dtype == np.int64 and np.array_equal(again, behavior)
    prior, prior_behavior = joint.sample_prior(4, random_state=0, return_behavior=True)
    assert prior.shape == (4, 16, 12) and prior_behavior.shape == (4, 16, 4)
    assert joint.behavior_names_ == tuple(trials.behavior_names)


def test_joint_model_saves_and_loads_identically(joint, trials, tmp_path):
    loaded = GNOCCHI.load(joint.save(tmp_path / "joint"))
    assert loaded.behavior_names_ == joint.behavior_names_
    codes = joint.encode(trials[:2])
    np.testing.assert_array_equal(loaded.encode(trials[:2]), codes)
    pairs = [m.generate(codes, random_state=3, return_behavior=True) for m in (loaded, joint)]
    for a, b in zip(*pairs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_joint_input_is_refused_naming_the_argument(trials):
    with pytest.raises(ValueError, match="joint_behavior"):
        GNOCCHI(2, joint_behavior=True, **TINY).fit(
            trials.replace(behavior=None, behavior_names=None)
        )
    with pytest.raises(ValueError, match="joint_behavior"):
        GNOCCHI(2, joint_behavior=True, **TINY).fit(trials.activity)
    with pytest.raises((ValueError, TypeError), match="joint_behavior"):
        GNOCCHI(2, joint_behavior="yes").check_params()
    plain = GNOCCHI(2, **TINY | {"max_epochs": 1}).fit(trials)
    assert plain.behavior_names_ == ()
    with pytest.raises(ValueError, match="return_behavior"):
        plain.generate(plain.encode(trials[:1]), return_behavior=True)
    with pytest.raises(ValueError, match="behavior_names"):
        GnocchiConfig(n_neurons=3, n_time=4, behavior_names="hand_x")


# ---------------------------------------------------------------------- the protocol
def test_evaluate_reads_navigation_and_traversals_from_the_generated_behaviour(
    joint, trials, split
):
    result = evaluate(joint, trials, split=split, random_state=0, n_samples=3, n_sampling_seeds=1)
    summary = result["summary"]
    keys = [key for key, _, _ in TABLE_ROWS]
    assert all(np.isfinite(summary[key]) for key in keys), keys
    assert summary["joint_endpoint_disagreement"] >= 0
    section = result["joint_behavior"]
    n_nav = sum(result["navigation"]["n_sources"])  # navigated codes, over the goals
    n_steps = result["config"]["n_steps"]  # per traversal, one per variable
    assert section["n_samples"] == 3 * (n_nav + 4 * n_steps)  # K x (navigated codes + steps)


def test_evaluate_skips_the_section_for_a_model_without_behaviour(trials, split):
    plain = GNOCCHI(2, **TINY | {"max_epochs": 1}).fit(trials[split.train])
    result = evaluate(plain, trials, split=split, random_state=0, n_samples=2, n_sampling_seeds=1)
    assert "joint_behavior=True" in result["joint_behavior"]["skipped"]
    assert not any(key.startswith("joint_") for key in result["summary"])
    assert joint_summary(result["joint_behavior"]) == {}


def test_channel_reader_reads_the_position_channels():
    behavior = np.arange(24.0).reshape(1, 2, 3, 4)  # (codes, K, T, channels)
    np.testing.assert_array_equal(ChannelReader([2, 0]).decode(behavior), behavior[..., [2, 0]])
