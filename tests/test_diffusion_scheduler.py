"""Tests of neurognocchi.diffusion.scheduler (config, forward process, DDPM/DDIM steps)."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from neurognocchi.diffusion import Prediction, Scheduler, SchedulerConfig, StepOutput, make_betas

N_TRAIN = 1000


@pytest.fixture(scope="module", params=["cosine", "linear"])
def scheduler(request):
    return Scheduler(SchedulerConfig(n_train_steps=N_TRAIN, schedule=request.param))


def _data(seed, shape=(5, 3, 4), dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=dtype)


def _abar(config):
    kwargs = {}
    if config.schedule == "linear":
        kwargs = {"beta_start": config.beta_start, "beta_end": config.beta_end}
    betas = make_betas(config.schedule, config.n_train_steps, **kwargs)
    return betas, np.cumprod(1.0 - betas)


# ---- construction and config -----------------------------------------------------------------


def test_default_scheduler_tensors():
    sched = Scheduler()
    assert sched.config == SchedulerConfig()
    for name in ("betas", "alphas", "alphas_cumprod"):
        value = getattr(sched, name)
        assert value.dtype == torch.float64 and value.shape == (1000,)
    assert torch.all(sched.alphas_cumprod[1:] < sched.alphas_cumprod[:-1])


def test_config_json_round_trip():
    config = SchedulerConfig(n_train_steps=37, schedule="linear", beta_start=2e-4, beta_end=0.03)
    again = SchedulerConfig.from_json(config.to_json())
    assert again == config
    assert SchedulerConfig.from_dict(config.to_dict()) == config
    torch.testing.assert_close(
        Scheduler(again).alphas_cumprod, Scheduler(config).alphas_cumprod, rtol=0, atol=0
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"schedule": "sigmoid"}, "schedule"),
        ({"n_train_steps": 0}, "n_train_steps"),
        ({"n_train_steps": -5}, "n_train_steps"),
        ({"beta_start": 0.02, "beta_end": 0.02}, "beta_end"),
        ({"beta_start": 0.05, "beta_end": 0.02}, "beta_end"),
        ({"beta_start": 0.0}, "beta_start"),
        ({"beta_end": 1.5}, "beta_end"),
    ],
)
def test_bad_config_values_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SchedulerConfig(**kwargs)


def test_bad_config_types_and_keys():
    with pytest.raises(TypeError, match="n_train_steps"):
        SchedulerConfig(n_train_steps=10.0)
    with pytest.raises(ValueError, match="n_steps_train"):
        SchedulerConfig.from_dict({"n_steps_train": 10})
    with pytest.raises(TypeError, match="config"):
        Scheduler({"n_train_steps": 10})


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        SchedulerConfig().n_train_steps = 3


# ---- forward process and conversions ---------------------------------------------------------

T_CASES = [0, 1, 250, 500, N_TRAIN - 2, N_TRAIN - 1]


def test_add_noise_matches_formula(scheduler):
    x0, noise = _data(0), _data(1)
    t = torch.tensor([0, 1, 500, N_TRAIN - 2, N_TRAIN - 1])
    _, abar = _abar(scheduler.config)
    expected = np.sqrt(abar[t.numpy()])[:, None, None] * x0.numpy()
    expected += np.sqrt(1.0 - abar[t.numpy()])[:, None, None] * noise.numpy()
    np.testing.assert_allclose(scheduler.add_noise(x0, noise, t).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("step", T_CASES)
def test_predict_x0_inverts_add_noise(scheduler, step):
    x0, noise = _data(0), _data(1)
    t = torch.full((5,), step, dtype=torch.long)
    x_t = scheduler.add_noise(x0, noise, t)
    # 1/sqrt(abar) amplifies rounding of x_t by up to ~2e4 at the last cosine step.
    torch.testing.assert_close(scheduler.predict_x0(x_t, noise, t), x0, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("step", T_CASES)
def test_predict_noise_inverts_add_noise(scheduler, step):
    x0, noise = _data(0), _data(1)
    t = torch.full((5,), step, dtype=torch.long)
    x_t = scheduler.add_noise(x0, noise, t)
    # 1/sqrt(1 - abar_0) is ~100-150: same tolerance reasoning as for predict_x0.
    torch.testing.assert_close(scheduler.predict_noise(x_t, x0, t), noise, rtol=1e-9, atol=1e-9)


def test_mixed_steps_in_one_batch_and_float32(scheduler):
    x0, noise = _data(0, dtype=torch.float32), _data(1, dtype=torch.float32)
    t = torch.tensor([0, 10, 400, 900, N_TRAIN - 1])
    x_t = scheduler.add_noise(x0, noise, t)
    assert x_t.dtype == torch.float32
    for i in range(5):
        row = scheduler.add_noise(x0[i : i + 1], noise[i : i + 1], t[i : i + 1])
        torch.testing.assert_close(row, x_t[i : i + 1], rtol=0, atol=0)


def test_forward_input_errors():
    sched = Scheduler(SchedulerConfig(n_train_steps=10))
    x = _data(0)
    with pytest.raises(ValueError, match=r"t must hold steps in \[0, 9\]"):
        sched.add_noise(x, x, torch.full((5,), 10))
    with pytest.raises(ValueError, match="t must have shape"):
        sched.add_noise(x, x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match="t must be an integer"):
        sched.add_noise(x, x, torch.zeros(5))
    with pytest.raises(ValueError, match="noise must have the shape"):
        sched.add_noise(x, x[:, :2], torch.zeros(5, dtype=torch.long))


# ---- timesteps ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_steps", [1, 2, 3, 10, 50, 333, 999, 1000])
def test_timesteps_strictly_descending(n_steps):
    steps = Scheduler().timesteps(n_steps)
    assert steps.dtype == torch.long and steps.shape == (n_steps,)
    assert int(steps[0]) == N_TRAIN - 1
    assert torch.all(steps[1:] < steps[:-1])
    assert int(steps.min()) >= 0
    if n_steps > 1:
        assert int(steps[-1]) == 0


def test_timesteps_full_and_ten():
    sched = Scheduler()
    assert sched.timesteps(N_TRAIN).tolist() == list(range(N_TRAIN - 1, -1, -1))
    assert sched.timesteps(10).tolist() == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]


@pytest.mark.parametrize("bad", [0, -1, N_TRAIN + 1])
def test_timesteps_bad_n_steps(bad):
    with pytest.raises(ValueError, match="n_steps") as info:
        Scheduler().timesteps(bad)
    assert str(bad) in str(info.value)


# ---- DDPM -----------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 2, 300, N_TRAIN - 1])
def test_ddpm_step_with_true_noise_is_posterior_sample(scheduler, step):
    x0, noise = _data(0), _data(1)
    x_t = scheduler.add_noise(x0, noise, torch.full((5,), step))
    out = scheduler.ddpm_step(noise, step, x_t, generator=torch.Generator().manual_seed(7))
    out = out.prev_sample
    z = torch.randn(x0.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)

    betas, abar = _abar(scheduler.config)
    beta, abar_t, abar_prev = betas[step], abar[step], abar[step - 1]
    # Posterior q(x_{t-1} | x_t, x0) of Ho et al. (2020), eqs. 6-7.
    mean = (
        math.sqrt(abar_prev) * beta / (1 - abar_t) * x0.numpy()
        + math.sqrt(1 - beta) * (1 - abar_prev) / (1 - abar_t) * x_t.numpy()
    )
    var = (1 - abar_prev) / (1 - abar_t) * beta
    # The same mean written with the noise (eq. 11) as a second, independent formula.
    mean_eps = (x_t.numpy() - beta / math.sqrt(1 - abar_t) * noise.numpy()) / math.sqrt(1 - beta)
    np.testing.assert_allclose(mean, mean_eps, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(out.numpy(), mean + math.sqrt(var) * z.numpy(), rtol=1e-8, atol=1e-9)


def test_ddpm_step_at_zero_returns_x0_without_noise(scheduler):
    x0, noise = _data(0), _data(1)
    x_t = scheduler.add_noise(x0, noise, torch.zeros(5, dtype=torch.long))
    gen = torch.Generator().manual_seed(3)
    state = gen.get_state()
    out = scheduler.ddpm_step(noise, 0, x_t, generator=gen).prev_sample
    torch.testing.assert_close(out, x0, rtol=1e-10, atol=1e-10)
    assert torch.equal(gen.get_state(), state)  # no noise was drawn


def test_ddpm_step_errors():
    sched = Scheduler(SchedulerConfig(n_train_steps=10))
    x = _data(0)
    with pytest.raises(ValueError, match="t must be in"):
        sched.ddpm_step(x, 10, x)
    with pytest.raises(TypeError, match="t must be an int"):
        sched.ddpm_step(x, 2.0, x)


# ---- DDIM -----------------------------------------------------------------------------------


def test_ddim_eta0_is_deterministic_and_matches_formula(scheduler):
    x_t, noise_pred = _data(0), _data(1)
    t, t_prev = 600, 500
    out_a = scheduler.ddim_step(
        noise_pred, t, t_prev, x_t, generator=torch.Generator().manual_seed(1)
    ).prev_sample
    out_b = scheduler.ddim_step(
        noise_pred, t, t_prev, x_t, generator=torch.Generator().manual_seed(2)
    ).prev_sample
    assert torch.equal(out_a, out_b)
    _, abar = _abar(scheduler.config)
    x0 = (x_t.numpy() - math.sqrt(1 - abar[t]) * noise_pred.numpy()) / math.sqrt(abar[t])
    expected = math.sqrt(abar[t_prev]) * x0 + math.sqrt(1 - abar[t_prev]) * noise_pred.numpy()
    np.testing.assert_allclose(out_a.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_ddim_eta_reproducible_with_seed(scheduler):
    x_t, noise_pred = _data(0), _data(1)

    def step(seed):
        gen = torch.Generator().manual_seed(seed)
        return scheduler.ddim_step(noise_pred, 600, 500, x_t, eta=0.5, generator=gen).prev_sample

    assert torch.equal(step(4), step(4))
    assert not torch.allclose(step(4), step(5))


def test_ddim_final_step_returns_predicted_x0(scheduler):
    x0, noise = _data(0), _data(1)
    x_t = scheduler.add_noise(x0, noise, torch.full((5,), 111))
    out = scheduler.ddim_step(noise, 111, -1, x_t, eta=1.0).prev_sample
    torch.testing.assert_close(out, x0, rtol=1e-10, atol=1e-10)


def test_ddim_eta1_variance_equals_ddpm_posterior_variance(scheduler):
    # With eta = 1 and t_prev = t - 1, DDIM's added noise has DDPM's beta_tilde variance.
    x_t, noise_pred = _data(0), _data(1)
    t = 400
    ddim = scheduler.ddim_step(
        noise_pred, t, t - 1, x_t, eta=1.0, generator=torch.Generator().manual_seed(9)
    ).prev_sample
    ddpm = scheduler.ddpm_step(noise_pred, t, x_t, generator=torch.Generator().manual_seed(9))
    ddpm = ddpm.prev_sample
    torch.testing.assert_close(ddim, ddpm, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"t": 5, "t_prev": 5}, ValueError, "t_prev"),
        ({"t": 5, "t_prev": -2}, ValueError, "t_prev"),
        ({"t": 10, "t_prev": 0}, ValueError, "t must be in"),
        ({"t": 5, "t_prev": 1, "eta": 1.5}, ValueError, "eta"),
        ({"t": 5, "t_prev": 1, "eta": -0.1}, ValueError, "eta"),
        ({"t": 5, "t_prev": 1, "eta": "0"}, TypeError, "eta"),
    ],
)
def test_ddim_step_errors(kwargs, exc, name):
    sched = Scheduler(SchedulerConfig(n_train_steps=10))
    x = _data(0)
    with pytest.raises(exc, match=name):
        sched.ddim_step(x, x_t=x, **kwargs)


# ---- prediction types, x0 clipping and named outputs -----------------------------------------


def test_prediction_and_clip_fields_round_trip_and_validate():
    config = SchedulerConfig(n_train_steps=20, prediction="v", clip_x0=2.5)
    assert SchedulerConfig.from_json(config.to_json()) == config
    assert SchedulerConfig().prediction == "noise" and SchedulerConfig().clip_x0 is None
    bad = [({"prediction": "eps"}, "prediction"), ({"clip_x0": -1.0}, "clip_x0")]
    for kwargs, field in [*bad, ({"clip_x0": "1"}, "clip_x0")]:
        with pytest.raises(ValueError, match=field):
            SchedulerConfig(**kwargs)


def test_noise_prediction_split_reads_the_output_as_noise(scheduler):
    x_t, out = _data(0), _data(1)
    t = torch.full((5,), 300)
    pred = scheduler.split_prediction(out, x_t, t)
    assert isinstance(pred, Prediction)
    assert pred.noise is out
    assert torch.equal(pred.x0, scheduler.predict_x0(x_t, out, t))


@pytest.mark.parametrize("step", T_CASES)
def test_v_prediction_split_recovers_noise_and_x0(step):
    sched = Scheduler(SchedulerConfig(prediction="v"))
    x0, noise = _data(0), _data(1)
    t = torch.full((5,), step)
    x_t = sched.add_noise(x0, noise, t)
    abar = sched.alphas_cumprod[step]
    v = abar.sqrt() * noise - (1 - abar).sqrt() * x0  # Salimans & Ho (2022)
    noise_pred, x0_pred = sched.split_prediction(v, x_t, t)
    torch.testing.assert_close(noise_pred, noise, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(x0_pred, x0, rtol=1e-9, atol=1e-9)


def test_steps_return_named_outputs_with_the_x0_they_used(scheduler):
    x0, noise = _data(0), _data(1)
    x_t = scheduler.add_noise(x0, noise, torch.full((5,), 300))
    ddim = scheduler.ddim_step(noise, 300, 200, x_t)
    ddpm = scheduler.ddpm_step(noise, 300, x_t, generator=torch.Generator().manual_seed(0))
    for out in (ddim, ddpm):
        assert isinstance(out, StepOutput) and out.prev_sample.shape == x0.shape
        torch.testing.assert_close(out.pred_x0, x0, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("prediction", ["noise", "v"])
def test_clip_x0_bounds_x0_and_rederives_the_noise(prediction):
    sched = Scheduler(SchedulerConfig(n_train_steps=100, prediction=prediction))
    x0, noise = 3.0 * _data(0), _data(1)
    t, t_prev = 60, 40
    t_batch = torch.full((5,), t)
    x_t = sched.add_noise(x0, noise, t_batch)
    abar = sched.alphas_cumprod[t]
    out = noise if prediction == "noise" else abar.sqrt() * noise - (1 - abar).sqrt() * x0
    step = sched.ddim_step(out, t, t_prev, x_t, clip_x0=1.0)
    clipped = x0.clamp(-1.0, 1.0)
    torch.testing.assert_close(step.pred_x0, clipped, rtol=1e-9, atol=1e-9)
    # DDIM (Song et al. 2021, eq. 12, eta = 0) towards the clipped x0, with the noise that
    # explains x_t given it.
    noise_clipped = sched.predict_noise(x_t, clipped, t_batch)
    abar_prev = float(sched.alphas_cumprod[t_prev])
    expected = math.sqrt(abar_prev) * clipped + math.sqrt(1 - abar_prev) * noise_clipped
    torch.testing.assert_close(step.prev_sample, expected, rtol=1e-9, atol=1e-9)
    assert sched.ddim_step(out, t, t_prev, x_t).pred_x0.abs().max() > 2.0  # no clip by default
    by_config = Scheduler(dataclasses.replace(sched.config, clip_x0=1.0))
    assert torch.equal(by_config.ddim_step(out, t, t_prev, x_t).prev_sample, step.prev_sample)
    with pytest.raises(ValueError, match="clip_x0"):
        sched.ddpm_step(out, t, x_t, clip_x0=-1.0)


def test_old_noise_pred_keyword_is_refused():
    sched = Scheduler(SchedulerConfig(n_train_steps=10))
    x = _data(0)
    with pytest.raises(TypeError, match="'noise_pred'"):  # renamed model_output in 0.2
        sched.ddim_step(noise_pred=x, t=5, t_prev=1, x_t=x)
    with pytest.raises(TypeError, match="'noise_pred'"):
        sched.ddpm_step(noise_pred=x, t=0, x_t=x)
