"""The GNOCCHI variants the study screens: MMD kernel width, code noise, code dropout with
classifier-free guidance, and the flattening encoder head (wiring, not quality)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurognocchi import GNOCCHI
from neurognocchi.data import make_toy_dataset
from neurognocchi.models import GnocchiConfig, GnocchiModel
from neurognocchi.models.priors import mmd_to_standard_normal, rbf_kernel
from neurognocchi.nn import ConvTrialEncoder

SMALL = {
    "n_neurons": 6,
    "n_time": 8,
    "code_dim": 3,
    "channels": 8,
    "channel_mults": (1, 2),
    "encoder_dim": 8,
    "encoder_layers": 2,
    "n_train_steps": 50,
}


def _loss(config: GnocchiConfig, x: torch.Tensor, seed: int = 0) -> dict:
    torch.manual_seed(0)
    model = GnocchiModel(config)
    return model, model.loss(x, generator=torch.Generator().manual_seed(seed))


def test_defaults_add_no_parameter_and_leave_the_loss_alone():
    x = torch.randn(8, 8, 6)
    model, plain = _loss(GnocchiConfig(**SMALL), x)
    assert not hasattr(model, "null_code")
    _, explicit = _loss(
        GnocchiConfig(**SMALL, code_noise=0.0, code_dropout=0.0, mmd_bandwidth="code_dim"), x
    )
    assert all(torch.equal(plain[k], explicit[k]) for k in plain)


def test_code_noise_changes_what_the_denoiser_sees_but_not_the_mmd():
    x = torch.randn(8, 8, 6)
    _, plain = _loss(GnocchiConfig(**SMALL), x)
    _, noisy = _loss(GnocchiConfig(**SMALL, code_noise=0.3), x)
    assert not torch.equal(plain["score"], noisy["score"])
    # The MMD reads the clean codes; same generator order up to the MMD's draw.
    assert torch.isfinite(noisy["loss"])


def test_code_dropout_learns_a_null_code_and_guidance_changes_samples():
    x = torch.randn(16, 8, 6)
    model, parts = _loss(GnocchiConfig(**SMALL, code_dropout=0.5), x)
    parts["loss"].backward()
    assert model.null_code.grad is not None and model.null_code.grad.abs().sum() > 0
    code = torch.randn(2, 3)
    out = {
        w: model.generate(code, n_steps=5, generator=torch.Generator().manual_seed(1), guidance=w)
        for w in (1.0, 3.0)
    }
    assert out[1.0].shape == (2, 8, 6)
    assert not torch.allclose(out[1.0], out[3.0])
    # guidance 0 is the unconditional model: the code no longer matters.
    a, b = (
        model.generate(c, n_steps=5, generator=torch.Generator().manual_seed(1), guidance=0.0)
        for c in (code, -code)
    )
    torch.testing.assert_close(a, b)


def test_guidance_without_code_dropout_is_refused():
    model = GnocchiModel(GnocchiConfig(**SMALL))
    with pytest.raises(ValueError, match="code_dropout"):
        model.generate(torch.zeros(1, 3), n_steps=2, guidance=2.0)
    with pytest.raises(ValueError, match="guidance_scale"):
        GNOCCHI(3, guidance_scale=2.0).check_params()
    with pytest.raises(ValueError, match="code_dropout"):
        GNOCCHI(3, code_dropout=1.0).check_params()
    with pytest.raises(ValueError, match="mmd_bandwidth"):
        GNOCCHI(3, mmd_bandwidth="wide").check_params()
    with pytest.raises(ValueError, match="encoder_pooling"):
        GNOCCHI(3, encoder_pooling="attention").check_params()


def test_mmd_bandwidths_are_the_documented_kernels():
    code = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    for name, bandwidth_sq in (("code_dim", 4.0), ("code_dim_squared", 8.0)):
        prior = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
        off = 1.0 - torch.eye(6)
        k = lambda a, b, s=bandwidth_sq: rbf_kernel(a, b, bandwidth_sq=s)  # noqa: E731
        expected = ((k(code, code) * off).sum() + (k(prior, prior) * off).sum()) / 30
        expected = expected - 2 * k(code, prior).mean()
        got = mmd_to_standard_normal(
            code, generator=torch.Generator().manual_seed(1), bandwidth=name
        )
        torch.testing.assert_close(got, expected)
    # InfoDiffusion's exp(-d² / L²) for L = 4:
    assert rbf_kernel(torch.zeros(1, 4), torch.ones(1, 4), bandwidth_sq=8.0).item() == (
        pytest.approx(np.exp(-4 / 16))
    )


def test_flatten_head_sees_when_activity_happens():
    encoder = ConvTrialEncoder(
        5, code_dim=3, channels=8, n_layers=3, pooling="flatten", n_time=11, n_position_channels=0
    )
    x = torch.zeros(2, 11, 5)
    x[0, 1, :] = 1.0
    x[1, 9, :] = 1.0  # the same activity, late
    code = encoder(x)
    assert code.shape == (2, 3) and not torch.allclose(code[0], code[1])
    assert encoder.to_code[0].in_features == 8 * 3  # 11 -> 6 -> 3 bins
    with pytest.raises(ValueError, match="time bins"):
        encoder(torch.zeros(1, 10, 5))
    rebuilt = ConvTrialEncoder(**encoder.config)
    assert rebuilt.to_code[0].in_features == 24


def test_estimator_with_every_variant_fits_saves_and_loads(tmp_path):
    trials = make_toy_dataset(60, n_neurons=6, n_time=8, random_state=0)
    model = GNOCCHI(
        3,
        max_epochs=1,
        channels=8,
        channel_mults=(1, 2),
        encoder_dim=8,
        encoder_layers=2,
        n_train_steps=50,
        n_sample_steps=4,
        verbose=False,
        random_state=0,
        code_noise=0.2,
        code_dropout=0.2,
        guidance_scale=2.0,
        encoder_pooling="flatten",
        mmd_bandwidth="code_dim_squared",
    )
    model.fit(trials)
    samples = model.generate(model.encode(trials[:2]), n_samples=2, random_state=0)
    assert samples.shape == (2, 2, 8, 6) and np.isfinite(samples).all()
    model.save(tmp_path / "m")
    loaded = GNOCCHI.load(tmp_path / "m")
    assert loaded.guidance_scale == 2.0
    np.testing.assert_allclose(
        loaded.generate(loaded.encode(trials[:2]), n_samples=2, random_state=0),
        samples,
        rtol=1e-5,
        atol=1e-6,
    )


def test_time_channels_tell_the_denoiser_when():
    from neurognocchi.nn import UNet1dDenoiser

    torch.manual_seed(0)
    net = UNet1dDenoiser(4, code_dim=2, channels=8, channel_mults=(1, 2), n_time_channels=4)
    assert net.in_conv.in_channels == 8
    assert UNet1dDenoiser(**net.config).in_conv.in_channels == 8
    assert "n_time_channels" not in UNet1dDenoiser(4, code_dim=2).config  # old configs unchanged
    # A time-shifted constant input: without time channels the interior output would shift too.
    x = torch.ones(1, 9, 4)
    out = net(x, torch.tensor([3]), torch.zeros(1, 2))
    assert out.shape == (1, 9, 4) and not torch.allclose(out[0, 3], out[0, 5])
    with pytest.raises(ValueError, match="n_time_channels"):
        UNet1dDenoiser(4, code_dim=2, n_time_channels=3)
    for bad in (-2, 3):
        with pytest.raises(ValueError, match="time_channels"):
            GNOCCHI(3, time_channels=bad).check_params()


def _tiny_fit(**params):
    """Toy trials (40 x 8 bins x 6 neurons) and a tiny GNOCCHI fitted on them for one epoch."""
    trials = make_toy_dataset(40, n_neurons=6, n_time=8, random_state=0)
    model = GNOCCHI(
        3,
        max_epochs=1,
        channels=8,
        channel_mults=(1, 2),
        encoder_dim=8,
        encoder_layers=2,
        n_train_steps=50,
        verbose=False,
        random_state=0,
        **params,
    )
    return trials, model.fit(trials)


def test_models_saved_before_the_flatten_default_load_with_mean_max_pooling(tmp_path):
    import json

    assert GNOCCHI().encoder_pooling == "flatten"
    trials, model = _tiny_fit(encoder_pooling="mean_max")
    model.save(tmp_path / "m")
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    del config["params"]["encoder_pooling"]  # as written before the setting existed
    config["model"].pop("encoder_pooling", None)
    config_file.write_text(json.dumps(config))
    loaded = GNOCCHI.load(tmp_path / "m")
    assert loaded.encoder_pooling == "mean_max"
    np.testing.assert_allclose(loaded.encode(trials), model.encode(trials), rtol=1e-5, atol=1e-6)


def test_presets_set_their_parameters_over_the_defaults():
    from neurognocchi.estimators.gnocchi import PRESETS

    assert GNOCCHI.from_preset("default").get_params() == GNOCCHI().get_params()
    long = GNOCCHI.from_preset("long", code_dim=4)
    assert (long.max_epochs, long.ema_decay, long.select_on, long.code_dim) == (
        900,
        0.999,
        "mmd",
        4,
    )
    paper = GNOCCHI.from_preset("paper")
    assert (paper.rec_weight, paper.mmd_weight, paper.mmd_bandwidth) == (
        1.0,
        1.0,
        "code_dim_squared",
    )
    for preset in PRESETS.values():
        GNOCCHI(**preset).check_params()
    with pytest.raises(ValueError, match="preset"):
        GNOCCHI.from_preset("fast")


def test_sampler_is_the_default_method_of_generate(tmp_path):
    defaults = GNOCCHI().get_params()
    assert (defaults["sampler"], defaults["n_sample_steps"]) == ("unipc", 10)  # bench_sampling
    trials, model = _tiny_fit(n_sample_steps=5)
    codes = model.encode(trials[:4])
    unipc = model.generate(codes, random_state=1)
    np.testing.assert_array_equal(unipc, model.generate(codes, random_state=1, method="unipc"))
    model.set_params(sampler="dpm-solver++")
    solver = model.generate(codes, random_state=1)
    np.testing.assert_array_equal(
        solver, model.generate(codes, random_state=1, method="dpm-solver++")
    )
    assert not np.array_equal(solver, unipc)
    # DDPM needs every training step; without n_steps generate takes them all.
    assert model.generate(codes, random_state=1, method="ddpm").shape == (4, 1, 8, 6)
    model.save(tmp_path / "m")
    assert GNOCCHI.load(tmp_path / "m").sampler == "dpm-solver++"


def test_a_bad_sampler_is_named():
    with pytest.raises(ValueError, match="sampler"):
        GNOCCHI(3, sampler="euler").check_params()
    with pytest.raises(ValueError, match=r"sampler='ddpm'.*n_sample_steps"):
        GNOCCHI(3, sampler="ddpm", n_sample_steps=50).check_params()
    GNOCCHI(3, sampler="ddpm", n_sample_steps=1000).check_params()


def test_models_saved_before_the_sampler_setting_sample_with_ddim(tmp_path):
    import json

    _, model = _tiny_fit(sampler="unipc")
    model.save(tmp_path / "m")
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    del config["params"]["sampler"]  # as written before the setting existed
    config_file.write_text(json.dumps(config))
    assert GNOCCHI.load(tmp_path / "m").sampler == "ddim"
