"""Latent GNOCCHI (issue 18, item 2): the Poisson autoencoder, the two-stage model and the
estimator's surface (spikes out, save/load, resume, determinism, bad input)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from neurognocchi.data import Trials, gaussian_smooth, make_toy_dataset
from neurognocchi.estimators import LatentGNOCCHI
from neurognocchi.estimators.latent import AUTOENCODER_DIR
from neurognocchi.models.config import (
    GnocchiConfig,
    LatentGnocchiConfig,
    PoissonAutoencoderConfig,
)
from neurognocchi.models.latent import LatentGnocchiModel
from neurognocchi.models.poisson_ae import PoissonAutoencoder

TINY = {
    "latent_dim": 3,
    "ae_epochs": 3,
    "ae_channels": 8,
    "max_epochs": 2,
    "batch_size": 8,
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
    return make_toy_dataset(64, n_neurons=6, n_time=12, random_state=0)


@pytest.fixture(scope="module")
def fitted(trials):
    torch.set_num_threads(1)
    return LatentGNOCCHI(2, **TINY).fit(trials)


def _autoencoder(**settings) -> PoissonAutoencoder:
    torch.manual_seed(0)
    return PoissonAutoencoder(PoissonAutoencoderConfig(n_neurons=5, n_time=10, **settings))


# ---------------------------------------------------------------------- configs
def test_latent_config_round_trips_through_json_and_checks_its_parts():
    config = LatentGnocchiConfig(
        autoencoder=PoissonAutoencoderConfig(n_neurons=7, n_time=12, latent_dim=4),
        diffusion=GnocchiConfig(n_neurons=4, n_time=12, code_dim=3),
        bin_size_s=0.02,
        smooth_sigma_s=0.05,
    )
    assert LatentGnocchiConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="latent_dim"):
        LatentGnocchiConfig(
            autoencoder={"n_neurons": 7, "n_time": 12, "latent_dim": 4},
            diffusion={"n_neurons": 5, "n_time": 12},
        )
    with pytest.raises(ValueError, match="kernel_size"):
        PoissonAutoencoderConfig(n_neurons=3, n_time=4, kernel_size=4)
    with pytest.raises(ValueError, match="coordinated_dropout"):
        PoissonAutoencoderConfig(n_neurons=3, n_time=4, coordinated_dropout=1.0)


# ---------------------------------------------------------------------- autoencoder
def test_autoencoder_shapes_and_rates_in_counts_per_bin():
    model = _autoencoder(latent_dim=3)
    counts = torch.poisson(torch.full((4, 10, 5), 0.5))
    z = model.latents(counts)
    assert z.shape == (4, 10, 3)
    rates = model.rates(z)
    assert rates.shape == (4, 10, 5) and bool((rates > 0).all())
    assert torch.allclose(model.reconstruct(counts), rates)


def test_readout_columns_have_unit_norm_so_latents_keep_their_scale():
    model = _autoencoder(latent_dim=3)
    z = torch.randn(2, 10, 3)
    before = model.log_rates(z)
    with torch.no_grad():
        model.readout.weight.mul_(7.0)  # a larger W must not let smaller latents do the same
    assert torch.allclose(model.log_rates(z), before, atol=1e-6)


def test_coordinated_dropout_scores_only_the_hidden_entries():
    model = _autoencoder(coordinated_dropout=0.5, smooth_weight=0.0).train()
    counts = torch.poisson(torch.full((3, 10, 5), 1.0))
    parts = model.loss(counts, generator=torch.Generator().manual_seed(1))
    keep = torch.rand(counts.shape, generator=torch.Generator().manual_seed(1)) >= 0.5
    z = model.latents(counts * keep / 0.5)
    log_rate = model.log_rates(z)
    nll = torch.exp(log_rate) - counts * log_rate + torch.lgamma(counts + 1)
    assert torch.allclose(parts["poisson_nll"], nll[~keep].mean(), rtol=1e-5)
    # In evaluation mode (the validation loss) every entry is seen and scored.
    model.eval()
    log_rate = model.log_rates(model.latents(counts))
    nll = torch.exp(log_rate) - counts * log_rate + torch.lgamma(counts + 1)
    assert torch.allclose(model.loss(counts)["poisson_nll"], nll.mean(), rtol=1e-5)


def test_smoothness_penalty_is_the_mean_squared_step_of_the_latents(monkeypatch):
    model = _autoencoder(latent_dim=2, smooth_weight=0.5).eval()
    steps = torch.arange(10.0)[None, :, None].expand(1, 10, 2)  # latents rising by 1 a bin
    monkeypatch.setattr(model, "_encode", lambda counts: steps)
    parts = model.loss(torch.zeros(1, 10, 5))
    assert parts["smoothness"].item() == pytest.approx(1.0)
    assert parts["loss"].item() == pytest.approx(parts["poisson_nll"].item() + 0.5)


def test_autoencoder_loss_falls_on_a_tiny_batch():
    model = _autoencoder(latent_dim=3)
    rates = torch.linspace(0.2, 3.0, 5).expand(8, 10, 5)
    counts = torch.poisson(rates, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    first = model.loss(counts, generator=generator)["loss"].item()
    for _ in range(60):
        optimizer.zero_grad()
        model.loss(counts, generator=generator)["loss"].backward()
        optimizer.step()
    assert model.loss(counts, generator=generator)["loss"].item() < 0.8 * first


def test_the_two_stage_model_refuses_a_one_piece_loss():
    config = LatentGnocchiConfig(
        autoencoder=PoissonAutoencoderConfig(n_neurons=5, n_time=8, latent_dim=2),
        diffusion=GnocchiConfig(n_neurons=2, n_time=8, code_dim=2, channels=8),
    )
    with pytest.raises(TypeError, match="two stages"):
        LatentGnocchiModel(config).loss(torch.zeros(2, 8, 5))


# ---------------------------------------------------------------------- estimator
def test_generate_returns_counts_rates_and_activity_like_the_data(fitted, trials):
    codes = fitted.encode(trials[:3])
    assert codes.shape == (3, 2)
    spikes = fitted.generate(codes, n_samples=2, output="spikes", random_state=4)
    assert spikes.shape == (3, 2, 12, 6) and spikes.dtype == np.int64 and spikes.min() >= 0
    rates = fitted.generate(codes, n_samples=2, output="rates", random_state=4)
    assert rates.dtype == np.float32 and rates.min() > 0
    # Activity is those spikes made as the data's activity was (50 ms Gaussian, per second).
    activity = fitted.generate(codes, n_samples=2, random_state=4)
    assert fitted.smooth_sigma_s_ == pytest.approx(0.04) and fitted.bin_size_s_ == 0.02
    expected = gaussian_smooth(spikes / 0.02, sigma_s=0.04, bin_size_s=0.02)
    np.testing.assert_allclose(activity, expected, rtol=1e-5, atol=1e-4)
    # Same seed, same samples; another seed, other spikes.
    np.testing.assert_array_equal(
        spikes, fitted.generate(codes, n_samples=2, output="spikes", random_state=4)
    )
    assert not np.array_equal(
        spikes, fitted.generate(codes, n_samples=2, output="spikes", random_state=5)
    )
    assert fitted.sample_prior(4, random_state=0, output="spikes").shape == (4, 12, 6)


def test_common_noise_gives_a_code_the_same_spikes_whatever_else_is_drawn(fitted, trials):
    codes = fitted.encode(trials[:3])
    alone = fitted.generate(
        codes[:1], n_samples=3, output="spikes", random_state=2, common_noise=True
    )
    together = fitted.generate(
        codes, n_samples=3, output="spikes", random_state=2, common_noise=True
    )
    np.testing.assert_array_equal(alone[0], together[0])


def test_bad_output_and_input_are_refused_naming_the_argument(fitted, trials):
    with pytest.raises(ValueError, match="output"):
        fitted.generate(fitted.encode(trials[:1]), output="counts")
    model = LatentGNOCCHI(2, **TINY)
    with pytest.raises(ValueError, match="spikes"):
        model.fit(Trials(trials.activity))
    with pytest.raises(ValueError, match="whole spike counts"):
        model.fit(trials.activity)
    with pytest.raises(ValueError, match="ae_epochs"):
        LatentGNOCCHI(2, **(TINY | {"ae_epochs": 0})).fit(trials)


def test_select_on_mmd_chooses_the_diffusion_weights_only(trials):
    # The autoencoder's loss has no code MMD: it keeps its weights on its own loss.
    model = LatentGNOCCHI(2, **(TINY | {"select_on": "mmd"})).fit(trials)
    mmd = [row["valid_mmd"] for row in model.history_]
    assert model.best_epoch_ == int(np.argmin(mmd)) + 1


def test_a_raw_array_of_counts_fits_and_generates_rates_per_bin(trials):
    model = LatentGNOCCHI(2, **TINY).fit(trials.spikes)
    assert model.bin_size_s_ is None and model.smooth_sigma_s_ == 0.0
    codes = model.encode(trials.spikes[:2])
    spikes = model.generate(codes, output="spikes", random_state=0)
    activity = model.generate(codes, random_state=0)  # no bin, no kernel: the counts
    np.testing.assert_array_equal(activity, spikes.astype(np.float32))


def test_save_and_load_give_identical_codes_and_spikes(fitted, trials, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = LatentGNOCCHI.load(tmp_path / "model")
    codes = fitted.encode(trials)
    np.testing.assert_array_equal(loaded.encode(trials), codes)
    np.testing.assert_array_equal(
        loaded.generate(codes[:3], output="spikes", random_state=1),
        fitted.generate(codes[:3], output="spikes", random_state=1),
    )
    assert loaded.smooth_sigma_s_ == fitted.smooth_sigma_s_
    np.testing.assert_array_equal(loaded.reconstruct(trials), fitted.reconstruct(trials))
    # both stages' histories come back (the autoencoder's in history_autoencoder.json)
    assert len(fitted.autoencoder_history_) == TINY["ae_epochs"]
    assert loaded.autoencoder_history_ == fitted.autoencoder_history_
    assert loaded.history_ == fitted.history_
    assert (tmp_path / "model" / "history_autoencoder.json").is_file()


def test_fits_are_deterministic_and_resume_stage_by_stage(fitted, trials, tmp_path):
    run = tmp_path / "run"
    model = LatentGNOCCHI(2, **TINY).fit(trials, run_dir=run)
    np.testing.assert_array_equal(model.encode(trials), fitted.encode(trials))  # same seed
    assert (run / AUTOENCODER_DIR / "checkpoints" / "last.pt").is_file()
    assert (run / "checkpoints" / "last.pt").is_file()
    with pytest.raises(FileExistsError, match="resume=True"):
        LatentGNOCCHI(2, **TINY).fit(trials, run_dir=run)
    # Killed after the first stage: its checkpoint is read back, the second stage refitted.
    shutil.rmtree(run / "checkpoints")
    resumed = LatentGNOCCHI(2, **TINY).fit(trials, run_dir=run, resume=True)
    assert resumed.autoencoder_history_ == model.autoencoder_history_
    np.testing.assert_array_equal(resumed.encode(trials), model.encode(trials))
