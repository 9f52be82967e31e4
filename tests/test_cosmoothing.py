"""Co-smoothing (issue 18, item 3): held-out neurons never reach an encoder, their rates are
predicted from the other neurons, and `evaluate` scores them in bits per spike beside NLB's
spike-smoothing baseline."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import LFADS, LatentGNOCCHI
from neurognocchi.evaluation.cosmoothing import (
    cosmoothing_section,
    cosmoothing_summary,
    smoothing_baseline,
)
from neurognocchi.evaluation.spikes import bits_per_spike
from neurognocchi.models.config import LfadsConfig, PoissonAutoencoderConfig
from neurognocchi.models.heldout import check_heldout_neurons, choose_heldout_neurons
from neurognocchi.models.lfads import LfadsModel, coordinated_dropout_mask
from neurognocchi.models.poisson_ae import PoissonAutoencoder

LFADS_TINY = {
    "max_epochs": 2,
    "batch_size": 16,
    "encoder_dim": 8,
    "generator_dim": 8,
    "factor_dim": 4,
    "verbose": False,
    "random_state": 3,
}
LATENT_TINY = {
    "latent_dim": 3,
    "ae_epochs": 2,
    "ae_channels": 8,
    "max_epochs": 1,
    "batch_size": 16,
    "channels": 8,
    "channel_mults": (1, 2),
    "encoder_dim": 8,
    "n_train_steps": 50,
    "n_sample_steps": 5,
    "verbose": False,
    "random_state": 3,
}


@pytest.fixture(scope="module")
def trials():
    return make_toy_dataset(48, n_neurons=8, n_time=12, random_state=0)


@pytest.fixture(scope="module")
def fitted(trials):
    torch.set_num_threads(1)
    return (
        LFADS(2, heldout_neurons=0.25, **LFADS_TINY).fit(trials),
        LatentGNOCCHI(2, heldout_neurons=0.25, **LATENT_TINY).fit(trials),
    )


# ---------------------------------------------------------------------- which neurons
def test_the_heldout_draw_is_seeded_sorted_and_keeps_one_neuron_held_in():
    chosen = choose_heldout_neurons(10, 0.2, 7)
    assert chosen == choose_heldout_neurons(10, 0.2, 7) and len(chosen) == 2
    assert list(chosen) == sorted(chosen) and all(0 <= i < 10 for i in chosen)
    assert {choose_heldout_neurons(10, 0.2, s) for s in range(8)} != {chosen}  # the seed matters
    assert choose_heldout_neurons(10, 0.0, 7) == ()
    assert len(choose_heldout_neurons(10, 0.01, 7)) == 1  # at least one when asked for
    assert len(choose_heldout_neurons(3, 0.99, 7)) == 2  # at most n - 1
    assert choose_heldout_neurons(1, 0.5, 7) == ()  # one neuron cannot be split
    with pytest.raises(ValueError, match="heldout_neurons"):
        choose_heldout_neurons(10, 1.0, 7)


@pytest.mark.parametrize(
    "indices", [[0, 0], [5], [-1], [1.5], [True], "01", [0, 1, 2, 3, 4]], ids=str
)
def test_config_refuses_bad_heldout_indices_naming_them(indices):
    with pytest.raises(ValueError, match="heldout_neurons"):
        LfadsConfig(n_neurons=5, n_time=4, heldout_neurons=indices)


def test_configs_store_heldout_neurons_sorted_and_round_trip_through_json():
    config = LfadsConfig(n_neurons=5, n_time=4, heldout_neurons=[3, 1])
    assert config.heldout_neurons == (1, 3)
    assert LfadsConfig.from_json(config.to_json()) == config
    ae = PoissonAutoencoderConfig(n_neurons=5, n_time=4, heldout_neurons=(np.int64(2),))
    assert PoissonAutoencoderConfig.from_json(ae.to_json()).heldout_neurons == (2,)
    assert check_heldout_neurons([], 5) == ()


# ---------------------------------------------------------------------- models
def _lfads(heldout=(), **settings) -> LfadsModel:
    torch.manual_seed(0)
    return LfadsModel(
        LfadsConfig(
            n_neurons=5,
            n_time=6,
            code_dim=3,
            encoder_dim=8,
            generator_dim=8,
            factor_dim=4,
            heldout_neurons=heldout,
            **settings,
        )
    ).eval()


def _autoencoder(heldout=()) -> PoissonAutoencoder:
    torch.manual_seed(0)
    config = PoissonAutoencoderConfig(
        n_neurons=5, n_time=6, latent_dim=3, channels=8, heldout_neurons=heldout
    )
    return PoissonAutoencoder(config).eval()


def _with_heldout_changed(counts: torch.Tensor, heldout) -> torch.Tensor:
    changed = counts.clone()
    changed[..., list(heldout)] += 7.0
    return changed


@pytest.mark.parametrize("likelihood", ["poisson", "gaussian"])
def test_lfads_encoders_never_see_the_heldout_neurons(likelihood):
    counts = torch.poisson(torch.full((4, 6, 5), 1.0))
    changed = _with_heldout_changed(counts, (1, 4))
    model = _lfads((1, 4), likelihood=likelihood, use_controller=True)
    assert torch.equal(model.encode(counts), model.encode(changed))
    assert torch.equal(model.reconstruct(counts), model.reconstruct(changed))
    plain = _lfads((), likelihood=likelihood, use_controller=True)  # the check can fail
    assert not torch.equal(plain.encode(counts), plain.encode(changed))


def test_autoencoder_never_sees_the_heldout_neurons():
    counts = torch.poisson(torch.full((4, 6, 5), 1.0))
    changed = _with_heldout_changed(counts, (0,))
    model, plain = _autoencoder((0,)), _autoencoder(())
    assert torch.equal(model.latents(counts), model.latents(changed))
    assert not torch.equal(plain.latents(counts), plain.latents(changed))


@pytest.mark.parametrize("make", [_lfads, _autoencoder], ids=["lfads", "autoencoder"])
def test_training_loss_scores_the_heldout_counts_under_coordinated_dropout(make):
    """The held-out neurons are always hidden, so always scored: their counts move the loss
    even at the entries coordinated dropout keeps (which it alone would not score). The mask
    is the generator's first draw, so the same seed gives the same mask."""
    counts = torch.poisson(torch.full((4, 6, 5), 1.0))
    model = make((2,)).train()
    keep = coordinated_dropout_mask((4, 6, 5), 0.3, generator=torch.Generator().manual_seed(0))
    changed = counts.clone()
    changed[..., 2] += 3.0 * keep[..., 2]  # only where dropout keeps (does not score) them
    assert bool(keep[..., 2].any())
    losses = [
        model.loss(x, generator=torch.Generator().manual_seed(0))["loss"].item()
        for x in (counts, changed)
    ]
    assert losses[0] != losses[1]


def test_heldout_mask_is_rebuilt_from_the_config_not_saved_with_the_weights():
    model = _lfads((1,))
    assert "input_keep" not in model.state_dict()
    assert _lfads(()).load_state_dict(model.state_dict()) is not None  # old checkpoints load


# ---------------------------------------------------------------------- estimators
def test_same_seed_same_heldout_neurons_for_both_spike_models(fitted, trials):
    lfads, latent = fitted
    assert len(lfads.heldout_neurons_) == 2
    assert np.array_equal(lfads.heldout_neurons_, latent.heldout_neurons_)
    plain = LFADS(2, **LFADS_TINY).set_params(max_epochs=1).fit(trials)
    assert len(plain.heldout_neurons_) == 0  # by default every neuron is seen


@pytest.mark.parametrize("which", [0, 1], ids=["lfads", "latent"])
def test_reconstruct_predicts_heldout_neurons_from_the_others_in_counts_per_bin(
    fitted, trials, which
):
    model = fitted[which]
    heldout = model.heldout_neurons_
    changed = trials.replace(spikes=trials.spikes.copy())
    changed.spikes[..., heldout] += 3
    rates = model.reconstruct(trials, output="rates")
    assert rates.dtype.kind == "f" and bool((rates > 0).all())
    assert np.array_equal(rates, model.reconstruct(changed, output="rates"))
    activity = model.reconstruct(trials, output="activity")
    np.testing.assert_allclose(activity * trials.bin_size_s, rates, rtol=1e-6)
    with pytest.raises(ValueError, match="output"):
        model.reconstruct(trials, output="spikes")


def test_heldout_neurons_survive_save_and_load(fitted, tmp_path, trials):
    for model in fitted:
        loaded = type(model).load(model.save(tmp_path / type(model).__name__))
        assert np.array_equal(loaded.heldout_neurons_, model.heldout_neurons_)
        np.testing.assert_array_equal(
            loaded.reconstruct(trials[:4], output="rates"),
            model.reconstruct(trials[:4], output="rates"),
        )


@pytest.mark.parametrize("value", [1.0, -0.1, "a"])
@pytest.mark.parametrize("estimator", [LFADS, LatentGNOCCHI])
def test_bad_heldout_fraction_is_refused_before_any_data_is_read(estimator, value):
    with pytest.raises((ValueError, TypeError), match="heldout_neurons"):
        estimator(2, heldout_neurons=value).check_params()


# ---------------------------------------------------------------------- the section
def test_smoothing_baseline_predicts_a_coupled_neuron_and_not_an_independent_one():
    rng = np.random.default_rng(0)
    drive = np.repeat(rng.gamma(2.0, 0.5, size=(120, 4, 1)), 5, axis=1)  # (120, 20, 1) steps
    rates = np.concatenate([np.repeat(drive, 3, axis=2), np.full((120, 20, 1), 1.0)], axis=2)
    spikes = rng.poisson(rates)  # neurons 0-2 share the drive, neuron 3 is independent
    train, valid = spikes[:80], spikes[80:]
    predicted = smoothing_baseline(train, valid, [2, 3], bin_size_s=0.02)
    assert predicted.shape == (40, 20, 2) and bool((predicted > 0).all())
    coupled = bits_per_spike(predicted[..., :1], valid[..., 2:3])
    independent = bits_per_spike(predicted[..., 1:], valid[..., 3:])
    assert coupled > 0.1 and abs(independent) < 0.05


class OracleModel:
    """Reconstructs with known rates; ``heldout_neurons_`` as given."""

    def __init__(self, rates, heldout):
        self.rates, self.heldout_neurons_ = rates, np.asarray(heldout)

    def reconstruct(self, trials, *, output="activity"):
        assert output == "rates"
        return self.rates[trials.index]


class FakeTrials(SimpleNamespace):
    def __getitem__(self, index):
        return SimpleNamespace(index=index)


def test_section_scores_the_models_rates_on_the_heldout_columns_of_the_validation_trials():
    rng = np.random.default_rng(1)
    rates = rng.gamma(2.0, 0.5, size=(30, 10, 5))
    spikes = rng.poisson(rates)
    trials = FakeTrials(spikes=spikes, bin_size_s=0.02)
    split = SimpleNamespace(train=np.arange(20), valid=np.arange(20, 30))
    data = SimpleNamespace(trials=trials, split=split)
    section = cosmoothing_section(OracleModel(rates, [1, 3]), data)
    expected = bits_per_spike(rates[20:][..., [1, 3]], spikes[20:][..., [1, 3]])
    assert section["bits_per_spike"] == pytest.approx(expected) and expected > 0
    assert np.array_equal(section["heldout_neurons"], [1, 3])
    summary = cosmoothing_summary(section)
    assert summary["cosmooth_bits_per_spike"] == section["bits_per_spike"]
    assert np.isfinite(summary["cosmooth_smoothing_bits_per_spike"])
    none = cosmoothing_section(OracleModel(rates, []), data)
    assert "heldout_neurons" in none["skipped"] and cosmoothing_summary(none) == {}
    no_spikes = SimpleNamespace(trials=FakeTrials(spikes=None, bin_size_s=0.02), split=split)
    assert "spikes" in cosmoothing_section(OracleModel(rates, [1]), no_spikes)["skipped"]


class RefusingModel(OracleModel):
    def reconstruct(self, trials, *, output="activity"):
        raise ValueError("output='rates' needs a Poisson LFADS")


def test_section_skips_a_model_that_has_no_rates_to_score():
    spikes = np.random.default_rng(0).poisson(1.0, size=(30, 10, 5))
    trials = FakeTrials(spikes=spikes, bin_size_s=0.02)
    split = SimpleNamespace(train=np.arange(20), valid=np.arange(20, 30))
    section = cosmoothing_section(
        RefusingModel(None, [1]), SimpleNamespace(trials=trials, split=split)
    )
    assert "Poisson LFADS" in section["skipped"]
