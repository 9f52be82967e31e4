"""Tests of the LFADS estimator facade (tiny models, a couple of epochs, CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from neurognocchi import LFADS, Trials
from neurognocchi.data import make_toy_dataset

TINY = dict(
    encoder_dim=4,
    generator_dim=6,
    factor_dim=3,
    controller_dim=4,
    inferred_input_dim=1,
    max_epochs=2,
    batch_size=8,
    device="cpu",
    verbose=False,
    kl_warmup_steps=4,
    l2_warmup_steps=4,
    warmup_steps=2,
)


def make_lfads(**kwargs) -> LFADS:
    return LFADS(3, **(TINY | {"random_state": 0} | kwargs))


@pytest.fixture(scope="module")
def toy() -> Trials:
    return make_toy_dataset(24, n_neurons=5, n_time=6, grid_size=2, random_state=0)


@pytest.fixture(scope="module")
def fitted(toy) -> LFADS:
    return make_lfads().fit(toy)


def test_shapes_and_fitted_attributes(fitted, toy):
    assert fitted.likelihood_ == "poisson" and fitted.bin_size_s_ == toy.bin_size_s
    assert fitted.code_dim == 3
    assert fitted.encode(toy).shape == (24, 3)
    assert fitted.reconstruct(toy).shape == (24, 6, 5)
    codes = fitted.encode(toy[:4])
    generated = fitted.generate(codes, n_samples=2, random_state=0)
    assert generated.shape == (4, 2, 6, 5)
    np.testing.assert_array_equal(generated[:, 0], generated[:, 1])  # deterministic generator
    assert fitted.sample_prior(7, random_state=1).shape == (7, 6, 5)
    assert len(fitted.history_) == 2 and "valid_loss" in fitted.history_[-1]
    assert fitted.fit_seconds_ > 0


def test_generate_from_own_code_equals_reconstruct_without_controller(fitted, toy):
    generated = fitted.generate(fitted.encode(toy))[:, 0]
    np.testing.assert_allclose(generated, fitted.reconstruct(toy), rtol=1e-5, atol=1e-6)


def test_common_noise_is_accepted_and_changes_nothing(fitted, toy):
    # The generator is deterministic: there is no noise to share.
    codes = fitted.encode(toy[:3])
    shared = fitted.generate(codes, n_samples=2, random_state=0, common_noise=True)
    np.testing.assert_array_equal(shared, fitted.generate(codes, n_samples=2, random_state=0))
    alone = fitted.generate(codes[1:2], common_noise=True)[0, 0]
    np.testing.assert_allclose(shared[1, 0], alone, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="common_noise"):
        fitted.generate(codes, common_noise=1)


def test_sample_prior_is_reproducible(fitted):
    a = fitted.sample_prior(5, random_state=3)
    np.testing.assert_array_equal(a, fitted.sample_prior(5, random_state=3))
    assert not np.allclose(a, fitted.sample_prior(5, random_state=4))


def test_rates_are_in_spikes_per_second(toy):
    """The same fit with an unknown bin size returns rates per bin: a factor bin_size_s."""
    per_second = make_lfads().fit(toy).reconstruct(toy)
    unknown_bin = Trials(toy.activity, spikes=toy.spikes, trial_info=toy.trial_info)
    per_bin = make_lfads().fit(unknown_bin).reconstruct(unknown_bin)
    np.testing.assert_allclose(per_second * toy.bin_size_s, per_bin, rtol=1e-4)
    # Initialised at the mean-rate model and barely trained: near the mean rate in Hz.
    ratio = per_second.mean() / (toy.spikes.mean() / toy.bin_size_s)
    assert 0.5 < ratio < 2.0


def test_likelihood_is_chosen_by_the_data(toy):
    no_spikes = Trials(toy.activity, trial_info=toy.trial_info, bin_size_s=toy.bin_size_s)
    gaussian = make_lfads(valid_fraction=0.0).fit(no_spikes)
    assert gaussian.likelihood_ == "gaussian"
    assert gaussian.model_.config.likelihood == "gaussian"
    # Activity is z-scored inside the model and returned in its own units.
    scaler_mean = gaussian.model_.scaler.mean.numpy()
    np.testing.assert_allclose(scaler_mean, toy.activity.mean(axis=(0, 1)), 1e-4)
    assert gaussian.reconstruct(no_spikes).mean() == pytest.approx(toy.activity.mean(), rel=0.5)
    assert make_lfads(likelihood="gaussian").fit(toy).likelihood_ == "gaussian"
    assert make_lfads().fit(toy.spikes).likelihood_ == "gaussian"  # raw arrays: continuous
    counts_model = make_lfads(likelihood="poisson").fit(toy.spikes)
    assert counts_model.likelihood_ == "poisson" and counts_model.bin_size_s_ is None
    np.testing.assert_array_equal(counts_model.encode(toy.spikes), counts_model.encode(toy))


def test_bad_data_for_the_likelihood(toy, fitted):
    with pytest.raises(ValueError, match="whole spike counts"):
        make_lfads(likelihood="poisson").fit(toy.activity + 0.5)
    no_spikes = Trials(toy.activity)
    with pytest.raises(ValueError, match="Trials without spikes"):
        make_lfads(likelihood="poisson").fit(no_spikes)
    with pytest.raises(ValueError, match="likelihood must be"):
        make_lfads(likelihood="bernoulli").fit(toy)
    with pytest.raises(ValueError, match="has no spikes"):
        fitted.encode(no_spikes)
    with pytest.raises(ValueError, match="n_time, n_neurons"):
        fitted.encode(toy.spikes[:, :4])
    with pytest.raises(ValueError, match="codes must have shape"):
        fitted.generate(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="n_samples"):
        fitted.generate(np.zeros((2, 3)), n_samples=0)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        make_lfads().encode(np.zeros((2, 6, 5)))


def test_same_seed_same_result_and_global_rng_untouched(toy):
    state = torch.random.get_rng_state()
    first = make_lfads(random_state=5).fit(toy)
    assert torch.equal(state, torch.random.get_rng_state())
    second = make_lfads(random_state=5).fit(toy)
    np.testing.assert_array_equal(first.encode(toy), second.encode(toy))
    np.testing.assert_array_equal(first.reconstruct(toy), second.reconstruct(toy))
    other = make_lfads(random_state=6).fit(toy)
    assert not np.allclose(first.encode(toy), other.encode(toy))


@pytest.mark.parametrize("use_controller", [False, True])
def test_save_load_gives_identical_outputs(toy, tmp_path, use_controller):
    model = make_lfads(use_controller=use_controller).fit(toy)
    model.save(tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["format"] == "neurognocchi.LFADS"
    assert config["model"]["bin_size_s"] == toy.bin_size_s
    assert config["model"]["likelihood"] == "poisson"
    loaded = LFADS.load(tmp_path / "run", device="cpu")
    assert loaded.likelihood_ == "poisson" and loaded.bin_size_s_ == toy.bin_size_s
    np.testing.assert_array_equal(loaded.encode(toy), model.encode(toy))
    np.testing.assert_array_equal(loaded.reconstruct(toy), model.reconstruct(toy))
    codes = model.encode(toy[:3])
    np.testing.assert_array_equal(loaded.generate(codes), model.generate(codes))
    assert loaded.get_params() == model.get_params()


def test_load_refuses_a_gnocchi_directory(fitted, tmp_path):
    fitted.save(tmp_path / "run")
    config_path = tmp_path / "run" / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps(config | {"format": "neurognocchi.GNOCCHI"}))
    with pytest.raises(ValueError, match=r"LFADS\.load reads"):
        LFADS.load(tmp_path / "run")


def test_uses_the_shared_training_loop(toy, tmp_path):
    model = make_lfads(ema_decay=0.9).fit(toy, run_dir=tmp_path / "run")
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()
    assert (tmp_path / "run" / "history.json").exists()
    # Resuming a finished run trains no further and keeps the same weights.
    resumed = make_lfads(ema_decay=0.9).fit(toy, run_dir=tmp_path / "run", resume=True)
    np.testing.assert_array_equal(resumed.encode(toy), model.encode(toy))
    with pytest.raises(FileExistsError):
        make_lfads().fit(toy, run_dir=tmp_path / "run")
    stopped = make_lfads(max_epochs=30, patience=1, learning_rate=1e-9, warmup_steps=1).fit(toy)
    assert len(stopped.history_) < 30


def test_explicit_validation_trials_and_no_validation(toy):
    model = make_lfads(valid_fraction=0.0).fit(toy)
    assert "valid_loss" not in model.history_[-1]
    model = make_lfads().fit(toy[:16], valid=toy[16:])
    assert "valid_loss" in model.history_[-1]


def test_select_on_reconstruction_keeps_the_lowest_validation_nll(toy):
    model = make_lfads(max_epochs=3, select_on="reconstruction").fit(toy)
    nll = [row["valid_reconstruction"] for row in model.history_]
    assert model.best_epoch_ == int(np.argmin(nll)) + 1
    with pytest.raises(ValueError, match="select_on must be one of"):
        make_lfads(select_on="mmd").fit(toy)  # LFADS's loss has no code MMD


def test_sklearn_clone_keeps_parameters():
    model = make_lfads(use_controller=True, coordinated_dropout=0.2)
    assert clone(model).get_params() == model.get_params()
    assert LFADS().get_params()["use_controller"] is False
    assert LFADS().get_params()["ema_decay"] is None
