"""Tests of the LFADS model, its GRU cell, likelihoods and KL terms (tiny sizes, CPU, fast)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from neurognocchi.data.stats import neuron_statistics
from neurognocchi.models import LfadsConfig, LfadsModel
from neurognocchi.models.base import SequentialVAETrialModel
from neurognocchi.models.lfads import coordinated_dropout_mask, warmup_factor
from neurognocchi.models.likelihoods import (
    ar1_step_prior,
    gaussian_nll,
    kl_diagonal_normal,
    poisson_nll,
)
from neurognocchi.nn.gru import ClippedGRUCell

N_NEURONS, N_TIME, CODE_DIM = 5, 7, 3
TINY = dict(encoder_dim=4, generator_dim=6, factor_dim=2, controller_dim=4, inferred_input_dim=2)
VARIANTS = [(c, lik) for c in (False, True) for lik in ("poisson", "gaussian")]


def make_model(*, use_controller=False, likelihood="poisson", **kwargs) -> LfadsModel:
    config = LfadsConfig(
        n_neurons=N_NEURONS,
        n_time=N_TIME,
        code_dim=CODE_DIM,
        use_controller=use_controller,
        likelihood=likelihood,
        **(TINY | kwargs),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return LfadsModel(config)


def counts(n_batch=4, seed=1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((n_batch, N_TIME, N_NEURONS), 1.5), generator=generator)


def gen(seed=0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------- shapes and gradients
@pytest.mark.parametrize(("use_controller", "likelihood"), VARIANTS)
def test_shapes_and_finite_outputs(use_controller, likelihood):
    model = make_model(use_controller=use_controller, likelihood=likelihood)
    x = counts()
    model.set_statistics(neuron_statistics(x.numpy()))
    parts = model.loss(x, generator=gen(), step=3)
    assert {"loss", "reconstruction", "kl_g0", "kl_inputs", "l2"} <= set(parts)
    assert all(value.shape == () and torch.isfinite(value) for value in parts.values())
    model.eval()
    assert model.encode(x).shape == (4, CODE_DIM)
    assert model.reconstruct(x).shape == (4, N_TIME, N_NEURONS)
    assert model.generate(torch.zeros(2, CODE_DIM)).shape == (2, N_TIME, N_NEURONS)
    if not use_controller:
        assert parts["kl_inputs"] == 0
    else:
        assert parts["kl_inputs"] > 0


@pytest.mark.parametrize(("use_controller", "likelihood"), VARIANTS)
def test_gradients_reach_every_parameter(use_controller, likelihood):
    model = make_model(use_controller=use_controller, likelihood=likelihood)
    x = counts()
    model.set_statistics(neuron_statistics(x.numpy()))
    model.loss(x, generator=gen(), step=10_000)["loss"].backward()  # past every warm-up
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_controller_parameters_exist_only_with_controller():
    names = {name.split(".")[0] for name, _ in make_model().named_parameters()}
    assert not names & {"controller", "controller_encoder", "to_inputs", "ar_log_tau"}
    assert make_model().generator.input_weight is None
    assert make_model(use_controller=True).generator.input_weight.shape == (3 * 6, 2)


def test_bad_input_shape_raises():
    with pytest.raises(ValueError, match="N = 5"):
        make_model().loss(torch.zeros(2, N_TIME, 4), generator=gen())
    with pytest.raises(ValueError, match="code must have shape"):
        make_model().generate(torch.zeros(2, CODE_DIM + 1))


# ---------------------------------------------------------------------- KL terms
def test_kl_matches_torch_distributions_and_is_nonnegative():
    g = gen(3)
    mean_q, mean_p = torch.randn(50, 4, generator=g), torch.randn(50, 4, generator=g)
    var_q, var_p = torch.rand(50, 4, generator=g) + 0.05, torch.rand(50, 4, generator=g) + 0.05
    ours = kl_diagonal_normal(mean_q, var_q, mean_p, var_p)
    q = torch.distributions.Normal(mean_q, var_q.sqrt())
    p = torch.distributions.Normal(mean_p, var_p.sqrt())
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(ours, expected)
    assert (ours >= 0).all()
    assert kl_diagonal_normal(mean_q, var_q, mean_q, var_q).abs().max() < 1e-6


@pytest.mark.parametrize("use_controller", [False, True])
def test_kl_terms_of_the_loss_are_nonnegative(use_controller):
    model = make_model(use_controller=use_controller)
    x = counts()
    for seed in range(5):
        parts = model.loss(x, generator=gen(seed), step=0)
        assert parts["kl_g0"] >= 0 and parts["kl_inputs"] >= 0


def test_kl_g0_is_zero_when_posterior_equals_prior(monkeypatch):
    model = make_model()
    prior_var = model.config.ic_prior_var

    def prior_posterior(x_in, **kwargs):
        mean = torch.zeros(x_in.shape[0], CODE_DIM)
        return mean, torch.full_like(mean, prior_var)

    monkeypatch.setattr(model, "posterior_g0", prior_posterior)
    assert model.loss(counts(), generator=gen())["kl_g0"].abs() < 1e-7


def test_posterior_variance_floor():
    model = make_model(ic_post_var_min=0.01)
    with torch.no_grad():
        model.to_ic.bias[CODE_DIM:] = -50.0  # log-variance far below the floor
        model.to_ic.weight.zero_()
    _, var = model.posterior_g0(counts())
    assert torch.allclose(var, torch.full_like(var, 0.01))


def test_ar1_prior_is_stationary():
    log_tau, log_var = torch.log(torch.tensor([2.0, 10.0])), torch.log(torch.tensor([0.5, 0.1]))
    mean0, var0 = ar1_step_prior(None, log_tau, log_var)
    torch.testing.assert_close(var0, torch.tensor([0.5, 0.1]))
    assert (mean0 == 0).all()
    previous = torch.tensor([[1.0, -2.0]])
    mean, var = ar1_step_prior(previous, log_tau, log_var)
    alpha = torch.exp(-1 / torch.tensor([2.0, 10.0]))
    torch.testing.assert_close(mean, alpha * previous)
    # Marginal variance is preserved: alpha^2 var + conditional var = var.
    torch.testing.assert_close(alpha**2 * var0 + var, var0)


# ---------------------------------------------------------------------- likelihoods
def test_likelihoods_match_torch_distributions():
    g = gen(4)
    log_rate, k = torch.randn(30, generator=g), torch.poisson(torch.full((30,), 2.0), generator=g)
    expected = -torch.distributions.Poisson(log_rate.exp()).log_prob(k)
    torch.testing.assert_close(poisson_nll(log_rate, k), expected)
    mean, log_var, x = torch.randn(3, 30, generator=g)
    expected = -torch.distributions.Normal(mean, (0.5 * log_var).exp()).log_prob(x)
    torch.testing.assert_close(gaussian_nll(mean, log_var, x), expected)


# ---------------------------------------------------------------------- coordinated dropout
def test_coordinated_dropout_mask_rate_and_reproducibility():
    keep = coordinated_dropout_mask((200, 50, 10), 0.3, generator=gen(5))
    assert keep.dtype == torch.bool
    assert abs((~keep).float().mean().item() - 0.3) < 0.01
    assert torch.equal(keep, coordinated_dropout_mask((200, 50, 10), 0.3, generator=gen(5)))
    assert not torch.equal(keep, coordinated_dropout_mask((200, 50, 10), 0.3, generator=gen(6)))


def _spy_on_encoder_input(model, monkeypatch) -> list:
    seen = []
    original = model.posterior_g0

    def spy(x_in, **kwargs):
        seen.append(x_in.detach().clone())
        return original(x_in, **kwargs)

    monkeypatch.setattr(model, "posterior_g0", spy)
    return seen


def test_coordinated_dropout_hides_entries_and_scores_only_them(monkeypatch):
    rate = 0.4
    model = make_model(coordinated_dropout=rate, dropout=0.0)
    x = counts(n_batch=6) + 1.0  # no zeros, so a zero input entry means "dropped"
    seen = _spy_on_encoder_input(model, monkeypatch)
    # Replace the NLL by the target itself: the reconstruction term is then the mean of x
    # over the scored entries.
    monkeypatch.setattr(model, "_nll", lambda out, target: target + 0 * out)
    parts = model.loss(x, generator=gen(7), step=0)
    keep = coordinated_dropout_mask(tuple(x.shape), rate, generator=gen(7))  # the first draw
    assert 0 < keep.sum() < keep.numel()
    x_in = seen[0]
    assert torch.equal(x_in[~keep], torch.zeros(int((~keep).sum())))
    torch.testing.assert_close(x_in[keep], x[keep] / (1 - rate))
    torch.testing.assert_close(parts["reconstruction"], x[~keep].mean())


@pytest.mark.parametrize(
    ("rate", "training"), [(0.5, False), (0.0, True)], ids=["eval-mode", "rate-zero"]
)
def test_without_coordinated_dropout_every_entry_is_seen_and_scored(monkeypatch, rate, training):
    model = make_model(coordinated_dropout=rate).train(training)
    x = counts() + 1.0
    seen = _spy_on_encoder_input(model, monkeypatch)
    monkeypatch.setattr(model, "_nll", lambda out, target: target + 0 * out)
    parts = model.loss(x, generator=gen(), step=0)
    assert torch.equal(seen[0], x)
    torch.testing.assert_close(parts["reconstruction"], x.mean())


def test_encode_and_reconstruct_are_deterministic_in_training_mode():
    model = make_model(dropout=0.5, coordinated_dropout=0.5).train()
    x = counts()
    torch.testing.assert_close(model.encode(x), model.encode(x), rtol=0, atol=0)
    torch.testing.assert_close(model.reconstruct(x), model.reconstruct(x), rtol=0, atol=0)


# ---------------------------------------------------------------------- warm-ups
@pytest.mark.parametrize(
    ("step", "n_steps", "expected"),
    [(0, 100, 0.0), (25, 100, 0.25), (100, 100, 1.0), (1000, 100, 1.0), (0, 0, 1.0)],
)
def test_warmup_factor(step, n_steps, expected):
    assert warmup_factor(step, n_steps) == expected


def test_loss_weights_follow_their_own_warmups_and_are_full_in_eval():
    model = make_model(kl_weight=2.0, l2_weight=0.5, kl_warmup_steps=100, l2_warmup_steps=10)
    assert model.loss_weights(0) == (0.0, 0.0)
    assert model.loss_weights(5) == (0.1, 0.25)
    assert model.loss_weights(50) == (1.0, 0.5)
    assert model.loss_weights(200) == (2.0, 0.5)
    model.eval()
    assert model.loss_weights(0) == (2.0, 0.5)


@pytest.mark.parametrize("step", [0, 40, 500])
def test_total_loss_combines_parts_with_the_warmed_up_weights(step):
    model = make_model(use_controller=True, l2_weight=1e-2, kl_warmup_steps=80, l2_warmup_steps=200)
    parts = model.loss(counts(), generator=gen(), step=step)
    kl_scale, l2_scale = model.loss_weights(step)
    assert float(parts["kl_scale"]) == pytest.approx(kl_scale)
    expected = (
        parts["reconstruction"]
        + kl_scale * (parts["kl_g0"] + parts["kl_inputs"])
        + l2_scale * parts["l2"]
    )
    torch.testing.assert_close(parts["loss"], expected)


def test_l2_is_half_the_sum_of_squared_recurrent_weights():
    model = make_model(use_controller=True)
    weights = [model.generator.gate_weight, model.generator.candidate_weight]
    weights += [model.controller.gate_weight, model.controller.candidate_weight]
    expected = 0.5 * sum(w.pow(2).sum() for w in weights)
    torch.testing.assert_close(model.recurrent_l2(), expected)


# ---------------------------------------------------------------------- generator pieces
def test_factor_rows_have_unit_norm():
    weight = make_model().factor_weight()
    torch.testing.assert_close(weight.norm(dim=1), torch.ones(weight.shape[0]))


def test_gru_cell_matches_its_equations():
    torch.manual_seed(0)
    cell = ClippedGRUCell(2, 3, clip_value=100.0, forget_bias=1.0)
    x, h = torch.randn(4, 2), torch.randn(4, 3)
    w_r, w_z, w_c = cell.input_weight.split(3)
    u_r, u_z = cell.gate_weight.split(3)
    b_r, b_z, b_c = cell.bias.split(3)
    r = torch.sigmoid(x @ w_r.T + h @ u_r.T + b_r)
    z = torch.sigmoid(x @ w_z.T + h @ u_z.T + b_z + 1.0)
    c = torch.tanh(x @ w_c.T + (r * h) @ cell.candidate_weight.T + b_c)
    torch.testing.assert_close(cell(x, h), z * h + (1 - z) * c)


def test_gru_cell_clips_hidden_state():
    cell = ClippedGRUCell(0, 4, clip_value=0.5)
    with torch.no_grad():
        cell.bias.fill_(-20.0)  # update gate ~0: the new state is the candidate, tanh -> -1
    state = cell(None, torch.zeros(3, 4))
    assert torch.equal(state, torch.full((3, 4), -0.5))
    big = cell(None, torch.full((3, 4), 1e3))
    assert big.abs().max() <= 0.5
    with pytest.raises(ValueError, match="input_size=0"):
        cell(torch.zeros(3, 1), torch.zeros(3, 4))


def test_generator_states_stay_within_clip_hidden(monkeypatch):
    model = make_model(clip_hidden=0.3)
    states = []
    original = model.generator.forward
    monkeypatch.setattr(
        model.generator, "forward", lambda x, h: states.append(original(x, h)) or states[-1]
    )
    model.generate(torch.full((2, CODE_DIM), 100.0))
    assert len(states) == N_TIME
    assert max(float(s.detach().abs().max()) for s in states) <= 0.3 + 1e-7


# ---------------------------------------------------------------------- data units
def test_poisson_units_and_initial_readout_bias():
    model = make_model(bin_size_s=0.02)
    x = counts(n_batch=20)
    model.set_statistics(neuron_statistics(x.numpy()))
    torch.testing.assert_close(model.readout.bias, x.mean(dim=(0, 1)).log())
    with torch.no_grad():
        model.readout.weight.zero_()
    rates = model.generate(torch.zeros(1, CODE_DIM))
    expected = x.mean(dim=(0, 1)) / 0.02  # spikes per bin -> spikes per second
    torch.testing.assert_close(rates[0], expected.expand(N_TIME, -1))


def test_gaussian_normalisation_is_inverted_on_output():
    model = make_model(likelihood="gaussian")
    g = gen(8)
    activity = 20.0 + 5.0 * torch.randn(30, N_TIME, N_NEURONS, generator=g)
    model.set_statistics(neuron_statistics(activity.numpy()))
    torch.testing.assert_close(model.scaler.mean, activity.mean(dim=(0, 1)))
    with torch.no_grad():
        model.readout.weight.zero_()
        model.readout.bias.fill_(1.0)  # one s.d. above the mean
    out = model.reconstruct(activity[:2])
    expected = model.scaler.mean + model.scaler.std
    torch.testing.assert_close(out, expected.expand(2, N_TIME, -1))


# ---------------------------------------------------------------------- randomness and config
def test_randomness_comes_only_from_the_generator():
    model = make_model(use_controller=True, dropout=0.2)
    x = counts()
    torch.manual_seed(123)
    first = model.loss(x, generator=gen(9))["loss"]
    torch.manual_seed(456)
    second = model.loss(x, generator=gen(9))["loss"]
    assert first == second
    assert model.loss(x, generator=gen(10))["loss"] != first


def test_config_round_trip_and_validation():
    config = make_model(use_controller=True, bin_size_s=0.01).config
    assert LfadsConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ValueError, match="unknown LfadsConfig fields"):
        LfadsConfig.from_dict(dataclasses.asdict(config) | {"bogus": 1})
    bad = [
        {"likelihood": "binomial"},
        {"coordinated_dropout": 1.0},
        {"dropout": -0.1},
        {"code_dim": 0},
        {"kl_warmup_steps": -1},
        {"clip_hidden": 0.0},
        {"kl_weight": -1.0},
        {"bin_size_s": 0.0},
        {"ic_prior_var": math.nan},
    ]
    for change in bad:
        with pytest.raises(ValueError, match=next(iter(change))):
            dataclasses.replace(config, **change)


# ---------------------------------------------------------------------- interface and state
@pytest.mark.parametrize("likelihood", ["poisson", "gaussian"])
def test_model_implements_the_sequential_vae_protocol(likelihood):
    model = make_model(likelihood=likelihood, bin_size_s=0.02)
    assert isinstance(model, SequentialVAETrialModel)
    assert (model.n_time, model.n_neurons, model.code_dim) == (N_TIME, N_NEURONS, CODE_DIM)
    assert (model.likelihood, model.bin_size_s) == (likelihood, 0.02)
    assert LfadsConfig.from_dict(model.config_dict()) == model.config
    keys = set(model.state_dict())
    assert {"scaler.mean", "scaler.std"} <= keys and not {"mean", "std"} & keys


def test_prior_codes_are_drawn_from_the_prior_of_g0():
    model = make_model(ic_prior_var=0.25)
    codes = model.prior_codes(6, gen(4))
    expected = torch.randn((6, CODE_DIM), generator=gen(4)) * 0.25**0.5
    assert torch.equal(codes, expected)
