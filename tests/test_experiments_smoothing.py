"""Smoothing comparison: GNOCCHI inputs from Gaussian smoothing or LFADS rates, and the
held-out target score (tiny models, seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurognocchi.data import make_toy_dataset
from neurognocchi.experiments.smoothing import (
    compare_smoothing,
    grid_spacing_of,
    heldout_target_prediction,
    smoothed_inputs,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_GNOCCHI = dict(
    code_dim=3,
    channels=8,
    channel_mults=(1, 2),
    encoder_dim=8,
    n_train_steps=50,
    n_sample_steps=5,
    max_epochs=2,
    batch_size=16,
    device="cpu",
)
TINY_LFADS = dict(
    code_dim=3,
    encoder_dim=4,
    generator_dim=6,
    factor_dim=3,
    max_epochs=2,
    batch_size=16,
    device="cpu",
    kl_warmup_steps=4,
    l2_warmup_steps=4,
    warmup_steps=2,
)


@pytest.fixture(scope="module")
def toy():
    # 4 x 4 grid: the four default held-out targets leave 12 held-in ones.
    return make_toy_dataset(96, n_neurons=6, n_time=12, grid_size=4, random_state=0)


def test_gaussian_inputs_are_the_smoothed_spikes(toy):
    prepared, lfads = smoothed_inputs(toy, "gaussian", sigma_s=0.04)
    assert lfads is None
    np.testing.assert_allclose(prepared.activity, toy.activity, rtol=1e-5)  # toy: sigma 0.04
    assert np.array_equal(prepared.spikes, toy.spikes)
    wider, _ = smoothed_inputs(toy, "gaussian", sigma_s=0.1)
    assert wider.activity.std() < prepared.activity.std()


def test_lfads_inputs_are_rates_of_lfads_fitted_on_the_masked_trials(toy):
    held_in = ~toy.info("heldout")
    prepared, lfads = smoothed_inputs(toy, "lfads", fit_mask=held_in, lfads_params=TINY_LFADS)
    assert lfads.likelihood_ == "poisson"
    assert prepared.activity.shape == toy.activity.shape
    np.testing.assert_allclose(prepared.activity, lfads.reconstruct(toy), rtol=1e-5)
    assert np.all(prepared.activity > 0)  # Poisson rates
    assert np.array_equal(prepared.trial_info["condition"], toy.trial_info["condition"])


def test_smoothed_inputs_errors(toy):
    with pytest.raises(ValueError, match="smooth must be one of"):
        smoothed_inputs(toy, "median")
    with pytest.raises(ValueError, match="needs trials with spikes"):
        smoothed_inputs(toy.replace(spikes=None), "gaussian")


def test_heldout_target_prediction_of_linear_codes():
    rng = np.random.default_rng(0)
    targets = np.stack(np.meshgrid([-2.0, 0.0, 2.0], [-2.0, 0.0, 2.0]), -1).reshape(-1, 2)
    targets = np.repeat(targets, 5, axis=0)
    codes = targets @ rng.normal(size=(2, 4)) + 1e-3 * rng.normal(size=(len(targets), 4))
    test = np.arange(len(targets)) % 9 == 4
    scores = heldout_target_prediction(codes[~test], targets[~test], codes[test], targets[test])
    assert scores["mean_error"] < 0.05 and scores["r2"] > 0.99
    assert grid_spacing_of(targets) == 2.0
    assert scores["mean_error_grid"] == pytest.approx(scores["mean_error"] / 2.0)


def test_compare_smoothing_reports_both_inputs(toy):
    result = compare_smoothing(toy, gnocchi_params=TINY_GNOCCHI, lfads_params=TINY_LFADS)
    json.dumps(result)
    assert result["n_heldin"] + result["n_heldout"] == toy.n_trials
    assert result["n_heldout"] == int(toy.info("heldout").sum()) > 0
    for name in ("gaussian", "lfads"):
        scores = result[name]
        assert set(scores) == {
            "mean_error",
            "mean_error_grid",
            "r2",
            "gnocchi_fit_seconds",
            "lfads_fit_seconds",
        }
        assert np.isfinite(scores["mean_error"]) and scores["gnocchi_fit_seconds"] > 0
    assert result["gaussian"]["lfads_fit_seconds"] == 0.0
    assert result["lfads"]["lfads_fit_seconds"] > 0


def test_compare_smoothing_needs_held_out_trials(toy):
    with pytest.raises(ValueError, match="held-in and held-out"):
        compare_smoothing(toy[~toy.info("heldout")], smooth=("gaussian",))
