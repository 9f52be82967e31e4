"""GnocchiModel: config validation, the three-part loss, normalisation and generation."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from neurognocchi.data.stats import neuron_statistics
from neurognocchi.models import GnocchiConfig, GnocchiModel
from neurognocchi.models.base import DiffusionTrialModel

N_NEURONS, N_TIME = 5, 12
TINY = dict(code_dim=3, channels=8, channel_mults=(1, 2), encoder_dim=8, n_train_steps=50)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_model(**overrides) -> GnocchiModel:
    torch.manual_seed(0)
    config = GnocchiConfig(n_neurons=N_NEURONS, n_time=N_TIME, **(TINY | overrides))
    return GnocchiModel(config)


def make_batch(n: int = 8, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    # data units: offset and scaled so normalisation is not the identity
    return 3.0 + 2.0 * torch.randn((n, N_TIME, N_NEURONS), generator=generator)  # (B, T, N)


# ---------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "field, value",
    [
        ("n_neurons", 0),
        ("n_time", -1),
        ("code_dim", 0),
        ("code_dim", 2.5),
        ("code_dim", True),
        ("n_train_steps", 0),
        ("rec_weight", -0.1),
        ("mmd_weight", float("nan")),
        ("dropout", -0.5),
    ],
)
def test_config_rejects_bad_field_naming_it(field, value):
    kwargs = {"n_neurons": 4, "n_time": 10, field: value}
    with pytest.raises(ValueError, match=field):
        GnocchiConfig(**kwargs)


@pytest.mark.parametrize("field, value", [("channels", 0), ("schedule", "quadratic")])
def test_model_rejects_bad_architecture_field_naming_it(field, value):
    with pytest.raises(ValueError, match=field):
        GnocchiModel(GnocchiConfig(n_neurons=4, n_time=10, **{field: value}))


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="n_layers"):
        GnocchiConfig.from_dict({"n_neurons": 4, "n_time": 10, "n_layers": 3})


def test_config_json_round_trip():
    config = GnocchiConfig(n_neurons=7, n_time=9, channel_mults=[1, 2, 4], rec_weight=0.5)
    assert config.channel_mults == (1, 2, 4)
    restored = GnocchiConfig.from_dict(json.loads(config.to_json()))
    assert restored == config
    assert isinstance(restored.channel_mults, tuple)


def test_config_is_frozen():
    config = GnocchiConfig(n_neurons=4, n_time=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.code_dim = 3


# ---------------------------------------------------------------------- loss
def test_loss_parts_are_finite_scalars_and_total_is_weighted_sum():
    model = make_model(rec_weight=0.3, mmd_weight=2.5)
    model.set_statistics(neuron_statistics(make_batch(20, seed=1).numpy()))
    parts = model.loss(make_batch(), generator=torch.Generator().manual_seed(0))
    assert set(parts) == {"loss", "score", "reconstruction", "mmd"}
    for value in parts.values():
        assert value.shape == () and torch.isfinite(value)
    expected = parts["score"] + 0.3 * parts["reconstruction"] + 2.5 * parts["mmd"]
    torch.testing.assert_close(parts["loss"], expected)


def test_loss_is_reproducible_with_the_same_generator():
    model = make_model()
    first = model.loss(make_batch(), generator=torch.Generator().manual_seed(3))
    second = model.loss(make_batch(), generator=torch.Generator().manual_seed(3))
    other = model.loss(make_batch(), generator=torch.Generator().manual_seed(4))
    assert torch.equal(first["loss"], second["loss"])
    assert not torch.equal(first["loss"], other["loss"])


def test_score_plus_reconstruction_equals_v_prediction_mse():
    model = make_model(rec_weight=1.0, mmd_weight=0.0)
    model.set_statistics(neuron_statistics(make_batch(20, seed=1).numpy()))
    x = make_batch()
    parts = model.loss(x, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(parts["loss"], parts["score"] + parts["reconstruction"])

    # Redraw the loss's steps and noise from an identically seeded generator.
    generator = torch.Generator().manual_seed(5)
    t = torch.randint(0, model.config.n_train_steps, (x.shape[0],), generator=generator)
    noise = torch.randn(x.shape, generator=generator)
    x0 = model.scaler(x)
    x_t = model.scheduler.add_noise(x0, noise, t)
    with torch.no_grad():
        code = model.encoder(x0)
        noise_pred, x0_pred = model.predict(x_t, t, code)
        out = model.denoiser(x_t, t, code)  # the raw v-prediction F
    abar = model.scheduler.alphas_cumprod.float()[t].view(-1, 1, 1)
    v_target = abar.sqrt() * noise - (1 - abar).sqrt() * x0
    score = (noise_pred - noise).pow(2).mean()
    reconstruction = (x0_pred - x0).pow(2).mean()
    v_mse = (out - v_target).pow(2).mean()
    torch.testing.assert_close(score + reconstruction, v_mse, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(parts["score"].detach(), score)
    torch.testing.assert_close(parts["reconstruction"].detach(), reconstruction)


def test_gradients_reach_every_encoder_and_denoiser_parameter():
    model = make_model()
    model.set_statistics(neuron_statistics(make_batch(20, seed=1).numpy()))
    model.loss(make_batch(), generator=torch.Generator().manual_seed(0))["loss"].backward()
    for part in (model.encoder, model.denoiser):
        for name, parameter in part.named_parameters():
            assert parameter.grad is not None, name
            assert torch.isfinite(parameter.grad).all(), name
            assert parameter.grad.abs().sum() > 0, name


def test_loss_falls_when_overfitting_a_fixed_batch():
    model = make_model()
    x = make_batch()
    model.set_statistics(neuron_statistics(x.numpy()))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        parts = model.loss(x, generator=torch.Generator().manual_seed(0))  # same t and noise
        optimizer.zero_grad()
        parts["loss"].backward()
        optimizer.step()
        losses.append(float(parts["loss"].detach()))
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


# ---------------------------------------------------------------------- normalisation
def test_set_statistics_stores_per_neuron_mean_and_std():
    model = make_model()
    x = make_batch(30, seed=2)
    model.set_statistics(neuron_statistics(x.numpy()))
    flat = x.reshape(-1, N_NEURONS).double()
    torch.testing.assert_close(model.scaler.mean, flat.mean(0).float())
    torch.testing.assert_close(model.scaler.std, flat.std(0).float())
    z = model.scaler(x).reshape(-1, N_NEURONS)
    torch.testing.assert_close(z.mean(0), torch.zeros(N_NEURONS), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.x0_bound, 1.5 * z.abs().max())


def test_normalize_and_denormalize_invert_each_other():
    model = make_model()
    model.set_statistics(neuron_statistics(make_batch(30, seed=2).numpy()))
    x = make_batch(4, seed=7)
    torch.testing.assert_close(model.scaler.inverse(model.scaler(x)), x)
    torch.testing.assert_close(model.scaler(model.scaler.inverse(x)), x)


def test_silent_neuron_gets_unit_std():
    model = make_model()
    x = make_batch(10, seed=3)
    x[:, :, 2] = 4.0  # a constant neuron
    model.set_statistics(neuron_statistics(x.numpy()))
    assert model.scaler.std[2] == 1.0
    assert model.scaler.mean[2] == 4.0
    z = model.scaler(x)
    assert torch.all(z[:, :, 2] == 0)
    assert torch.isfinite(z).all()


# ---------------------------------------------------------------------- generation
def test_generate_returns_data_units_shape_and_is_deterministic():
    model = make_model().eval()
    model.set_statistics(neuron_statistics(make_batch(30, seed=2).numpy()))
    code = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    first = model.generate(code, n_steps=4, generator=torch.Generator().manual_seed(1))
    second = model.generate(code, n_steps=4, generator=torch.Generator().manual_seed(1))
    other_seed = model.generate(code, n_steps=4, generator=torch.Generator().manual_seed(2))
    assert first.shape == (3, N_TIME, N_NEURONS)
    assert torch.isfinite(first).all()
    assert torch.equal(first, second)
    assert not torch.allclose(first, other_seed)
    # data units: the clean-data estimate is clipped to x0_bound in normalised units
    bound = model.scaler.inverse(model.x0_bound.expand(N_NEURONS))
    assert (first <= bound + 1e-4).all()


def test_generate_depends_on_the_code():
    model = make_model().eval()
    model.set_statistics(neuron_statistics(make_batch(30, seed=2).numpy()))
    code = torch.zeros(2, 3)
    shifted = code + torch.tensor([[3.0, -3.0, 3.0]])
    a = model.generate(code, n_steps=4, generator=torch.Generator().manual_seed(1))
    b = model.generate(shifted, n_steps=4, generator=torch.Generator().manual_seed(1))
    assert (a - b).abs().max() > 1e-3


def test_encode_gives_one_code_per_trial():
    model = make_model().eval()
    model.set_statistics(neuron_statistics(make_batch(30, seed=2).numpy()))
    with torch.no_grad():
        code = model.encode(make_batch(6))
    assert code.shape == (6, 3)
    assert torch.isfinite(code).all()


def test_gru_encoder_option_and_unknown_encoder():
    from neurognocchi.models import GnocchiConfig, GnocchiModel
    from neurognocchi.nn import GRUTrialEncoder

    config = GnocchiConfig(n_neurons=4, n_time=6, code_dim=2, channels=8, encoder="gru")
    model = GnocchiModel(config)
    assert isinstance(model.encoder, GRUTrialEncoder)
    assert model.encode(torch.rand(3, 6, 4)).shape == (3, 2)
    with pytest.raises(ValueError, match="encoder"):
        GnocchiModel(GnocchiConfig(n_neurons=4, n_time=6, encoder="transformer"))


# ---------------------------------------------------------------------- code whitening
def test_code_whitening_standardises_codes_and_leaves_generation_alone():
    model = make_model().eval()
    model.set_statistics(neuron_statistics(make_batch(30, seed=2).numpy()))
    data = make_batch(40, seed=3)
    code_before = model.encode(data[:5])
    sample = dict(n_steps=3, generator=None)
    before = model.generate(
        code_before, **(sample | {"generator": torch.Generator().manual_seed(0)})
    )
    with torch.no_grad():
        raw = model.raw_code(data)
        model.set_code_whitening(3.0 * raw + 1.0)  # statistics of another scale and offset
        model.set_code_whitening(raw)
        code = model.encode(data).double()
    assert torch.allclose(code.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(torch.cov(code.T), torch.eye(3, dtype=torch.float64), atol=1e-4)
    # The denoiser still sees the raw code: samples from a trial's code do not change.
    after = model.generate(
        code[:5].float(), **(sample | {"generator": torch.Generator().manual_seed(0)})
    )
    assert torch.allclose(before, after, atol=1e-4)


def test_code_whitening_floors_a_collapsed_direction():
    model = make_model()
    raw = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    raw[:, 2] = 0.5  # no variance along the third axis
    model.set_code_whitening(raw)
    assert torch.isfinite(model.code_whitening).all()
    assert torch.allclose(model.code_coloring @ model.code_whitening, torch.eye(3), atol=1e-4)


# ---------------------------------------------------------------------- interface and state
def test_model_implements_the_diffusion_protocol():
    model = make_model()
    assert isinstance(model, DiffusionTrialModel)
    sizes = (model.n_time, model.n_neurons, model.code_dim, model.n_train_steps)
    assert sizes == (N_TIME, N_NEURONS, 3, 50)
    assert GnocchiConfig.from_dict(model.config_dict()) == model.config
    assert model.config_dict() == json.loads(model.config.to_json())


def test_state_holds_the_scaler_and_no_copy_of_the_schedule():
    keys = set(make_model().state_dict())
    assert {"scaler.mean", "scaler.std", "x0_bound", "code_mean"} <= keys
    assert not {"alphas_cumprod", "mean", "std"} & keys


def test_prior_codes_are_standard_normal_draws_from_the_generator():
    codes = make_model().prior_codes(4, torch.Generator().manual_seed(7))
    assert torch.equal(codes, torch.randn((4, 3), generator=torch.Generator().manual_seed(7)))


def test_saved_configs_with_the_old_encoder_channels_key_still_read():
    old = {"n_neurons": 4, "n_time": 10, "encoder_channels": 8}
    config = GnocchiConfig.from_dict(old)
    # A config of that release lacks encoder_pooling too: it reads as the value it was made with.
    expected = GnocchiConfig(n_neurons=4, n_time=10, encoder_dim=8, encoder_pooling="mean_max")
    assert config == expected
    assert "encoder_channels" not in config.to_dict()
    with pytest.raises(TypeError, match="encoder_channels"):  # the constructor alias went in 0.3
        GnocchiConfig(n_neurons=4, n_time=10, encoder_channels=8)
