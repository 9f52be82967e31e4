"""Tests of neurognocchi.diffusion.sampling (the sampling loop)."""

import math
from functools import partial

import pytest
import torch

from neurognocchi import diffusion
from neurognocchi.diffusion import Scheduler, SchedulerConfig

# These tests pin the hand-written DDIM loop, which the package's default sampler (UniPC-10,
# diffusion.DEFAULT_SAMPLER) is not: every call names it (a test may still name another).
sample = partial(diffusion.sample, method="ddim")

SHAPE = (2, 3, 4)


def _x_T(dtype=torch.float64):
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(0), dtype=dtype)


def zero_model(x_t, t_batch):
    return torch.zeros_like(x_t)


def affine_model(x_t, t_batch):
    # A fixed, simple stand-in for a network: depends on x_t and on the step.
    scale = (0.01 * t_batch.to(x_t.dtype) / 1000).reshape(-1, *([1] * (x_t.ndim - 1)))
    return 0.1 * x_t + scale


def test_ddim_zero_noise_model_closed_form():
    # With noise_pred = 0 and eta = 0, each step is x_prev = sqrt(abar_prev / abar_t) x_t; the
    # product telescopes to x_0 = sqrt(abar_{-1} / abar_{t_first}) x_T = x_T / sqrt(abar_{t_first}).
    sched = Scheduler()
    x_T = _x_T()
    for n_steps in (1, 10, 50):
        out = sample(zero_model, sched, SHAPE, n_steps=n_steps, x_T=x_T, dtype=torch.float64)
        first = int(sched.timesteps(n_steps)[0])
        expected = x_T / math.sqrt(float(sched.alphas_cumprod[first]))
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=0)


def test_ddim_eta0_ignores_generator():
    sched = Scheduler()
    runs = [
        sample(
            affine_model,
            sched,
            SHAPE,
            n_steps=10,
            x_T=_x_T(),
            generator=torch.Generator().manual_seed(seed),
            dtype=torch.float64,
        )
        for seed in (1, 2)
    ]
    assert torch.equal(runs[0], runs[1])


def test_ddim_eta_positive_seeded():
    sched = Scheduler()

    def run(seed):
        gen = torch.Generator().manual_seed(seed)
        return sample(affine_model, sched, SHAPE, n_steps=10, eta=0.7, generator=gen)

    assert torch.equal(run(3), run(3))
    assert not torch.allclose(run(3), run(4))


def test_x_T_drawn_from_generator():
    sched = Scheduler()
    gen = torch.Generator().manual_seed(0)
    drawn = sample(affine_model, sched, SHAPE, n_steps=5, generator=gen, dtype=torch.float64)
    given = sample(affine_model, sched, SHAPE, n_steps=5, x_T=_x_T(), dtype=torch.float64)
    assert torch.equal(drawn, given)
    assert drawn.dtype == torch.float64 and drawn.shape == SHAPE


def test_model_sees_expected_steps():
    sched = Scheduler(SchedulerConfig(n_train_steps=20))
    seen = []

    def spy(x_t, t_batch):
        assert t_batch.dtype == torch.long and t_batch.shape == (SHAPE[0],)
        seen.append(int(t_batch[0]))
        return torch.zeros_like(x_t)

    sample(spy, sched, SHAPE, n_steps=20, method="ddpm", generator=torch.Generator())
    assert seen == list(range(19, -1, -1))
    seen.clear()
    sample(spy, sched, SHAPE, n_steps=4)
    assert seen == sched.timesteps(4).tolist()


def test_config_round_trip_gives_identical_samples():
    config = SchedulerConfig(n_train_steps=200, schedule="linear")
    again = SchedulerConfig.from_json(config.to_json())
    assert torch.equal(Scheduler(config).timesteps(7), Scheduler(again).timesteps(7))
    outs = [
        sample(affine_model, Scheduler(c), SHAPE, n_steps=7, x_T=_x_T(), dtype=torch.float64)
        for c in (config, again)
    ]
    assert torch.equal(outs[0], outs[1])


def test_progress_bar_runs():
    out = sample(zero_model, Scheduler(), SHAPE, n_steps=3, x_T=_x_T(), progress=True)
    assert out.dtype == torch.float32


# Regression pins: computed once with this implementation after the closed-form tests above
# passed (torch CPU, float64). They guard against unintended changes, not against a derivation.
PIN_INDICES = [(0, 0, 0), (1, 2, 3), (0, 1, 2)]
# Large magnitudes are expected: the fake model's noise is poor, and x0 = x_T / sqrt(abar) at the
# last cosine step (abar ~ 2.4e-9) amplifies it.
DDIM_PIN = (-126149.61231205339, [-34269.788218154, 15203.424969156938, -9363.78807234481])
DDPM_PIN = (-1819.0243212651733, [-516.6565171431627, 242.37532539815945, -131.91157398829668])


def _check_pin(out, pin):
    total, entries = pin
    assert float(out.sum()) == pytest.approx(total, rel=1e-5)
    assert [float(out[i]) for i in PIN_INDICES] == pytest.approx(entries, rel=1e-5)


def test_ddim_regression_pins():
    out = sample(affine_model, Scheduler(), SHAPE, n_steps=10, x_T=_x_T(), dtype=torch.float64)
    _check_pin(out, DDIM_PIN)


def test_ddpm_regression_pins():
    sched = Scheduler(SchedulerConfig(n_train_steps=20))
    gen = torch.Generator().manual_seed(1)
    out = sample(
        affine_model,
        sched,
        SHAPE,
        n_steps=20,
        method="ddpm",
        x_T=_x_T(),
        generator=gen,
        dtype=torch.float64,
    )
    _check_pin(out, DDPM_PIN)


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"method": "euler"}, ValueError, "method"),
        ({"method": "ddpm", "n_steps": 10}, ValueError, "n_steps"),
        ({"method": "ddpm", "n_steps": 20, "eta": 0.5}, ValueError, "eta"),
        ({"n_steps": 0}, ValueError, "n_steps"),
        ({"n_steps": 21}, ValueError, "n_steps"),
        ({"eta": 2.0}, ValueError, "eta"),
        ({"x_T": torch.zeros(2, 3), "n_steps": 5}, ValueError, "x_T"),
        ({"shape": (2, 0, 4)}, ValueError, "shape"),
    ],
)
def test_sample_errors(kwargs, exc, name):
    sched = Scheduler(SchedulerConfig(n_train_steps=20))
    kwargs = {"shape": SHAPE, **kwargs}
    with pytest.raises(exc, match=name):
        sample(zero_model, sched, **kwargs)


def test_model_output_shape_checked():
    with pytest.raises(ValueError, match="model_fn"):
        sample(lambda x, t: x[:, :1], Scheduler(), SHAPE, n_steps=2)


def test_v_prediction_with_clipping_matches_the_model_side_conversion():
    # Before 0.2 the GNOCCHI model converted its v-prediction to x0 (float32 coefficients),
    # clipped it and handed the sampler the implied noise; the scheduler now does both, and
    # must give the same bits.
    n_train, bound = 50, 0.05
    v_sched = Scheduler(SchedulerConfig(n_train_steps=n_train, prediction="v"))
    noise_sched = Scheduler(SchedulerConfig(n_train_steps=n_train))
    abar32 = noise_sched.alphas_cumprod.float()

    def model_side(x_t, t_batch):
        abar = abar32[t_batch].view(-1, 1, 1)
        x0 = abar.sqrt() * x_t - (1 - abar).sqrt() * affine_model(x_t, t_batch)
        return noise_sched.predict_noise(x_t, x0.clamp(-bound, bound), t_batch)

    for method, n_steps, eta in [("ddim", 7, 0.0), ("ddim", 9, 0.6), ("ddpm", n_train, 0.0)]:
        kwargs = {"n_steps": n_steps, "method": method, "eta": eta}
        new = sample(
            affine_model,
            v_sched,
            SHAPE,
            clip_x0=bound,
            generator=torch.Generator().manual_seed(1),
            **kwargs,
        )
        old = sample(
            model_side, noise_sched, SHAPE, generator=torch.Generator().manual_seed(1), **kwargs
        )
        unclipped = sample(
            affine_model, v_sched, SHAPE, generator=torch.Generator().manual_seed(1), **kwargs
        )
        assert torch.equal(new, old), method
        assert not torch.equal(new, unclipped), method


def test_loop_is_a_chain_of_named_steps():
    sched = Scheduler(SchedulerConfig(n_train_steps=20))
    x_t = _x_T()
    for t, t_prev in zip([19, 13, 6, 0], [13, 6, 0, -1], strict=True):
        t_batch = torch.full((SHAPE[0],), t, dtype=torch.long)
        x_t = sched.ddim_step(affine_model(x_t, t_batch), t, t_prev, x_t).prev_sample
    out = sample(affine_model, sched, SHAPE, n_steps=4, x_T=_x_T(), dtype=torch.float64)
    assert torch.equal(out, x_t)


# ---------------------------------------------------------------------- common random numbers
SAMPLERS = [("ddim", 10, 0.0), ("ddim", 10, 0.5), ("ddpm", 20, 0.0)]


def _shared(noise_index, *, method="ddpm", n_steps=20, eta=0.0, seed=0, n_noise=3, model=None):
    return sample(
        model or affine_model,
        Scheduler(SchedulerConfig(n_train_steps=20)),
        (len(noise_index), *SHAPE[1:]),
        n_steps=n_steps,
        method=method,
        eta=eta,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float64,
        noise_index=torch.tensor(noise_index),
        n_noise=n_noise,
    )


def test_shared_starting_noise_is_the_bank_row_of_each_sample():
    # zero model, DDIM eta=0: x_0 = x_T / sqrt(abar_first), and x_T = bank[noise_index] with the
    # bank the generator's first draw of n_noise rows.
    out = _shared([2, 0, 2], method="ddim", n_steps=5, model=zero_model)
    bank = torch.randn(
        (3, *SHAPE[1:]), generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    first = int(Scheduler(SchedulerConfig(n_train_steps=20)).timesteps(5)[0])
    abar = float(Scheduler(SchedulerConfig(n_train_steps=20)).alphas_cumprod[first])
    torch.testing.assert_close(out, bank[[2, 0, 2]] / math.sqrt(abar), rtol=1e-12, atol=0)


@pytest.mark.parametrize(("method", "n_steps", "eta"), SAMPLERS)
def test_rows_with_the_same_index_share_all_their_noise(method, n_steps, eta):
    out = _shared([0, 1, 0, 2], method=method, n_steps=n_steps, eta=eta)
    assert torch.equal(out[0], out[2])
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[3])


@pytest.mark.parametrize(("method", "n_steps", "eta"), SAMPLERS)
def test_a_row_does_not_depend_on_the_rest_of_its_batch(method, n_steps, eta):
    alone = _shared([1], method=method, n_steps=n_steps, eta=eta)
    batch = _shared([2, 0, 1, 1], method=method, n_steps=n_steps, eta=eta)
    assert torch.equal(alone[0], batch[2]) and torch.equal(alone[0], batch[3])


def test_step_noise_is_shared_too():
    # Same x_T for every row, different bank rows: DDPM rows differ only by the step noise.
    x_T = _x_T()[:1].expand(3, *SHAPE[1:]).clone()
    out = sample(
        affine_model,
        Scheduler(SchedulerConfig(n_train_steps=20)),
        (3, *SHAPE[1:]),
        n_steps=20,
        method="ddpm",
        x_T=x_T,
        generator=torch.Generator().manual_seed(0),
        dtype=torch.float64,
        noise_index=torch.tensor([0, 1, 0]),
        n_noise=2,
    )
    assert torch.equal(out[0], out[2]) and not torch.allclose(out[0], out[1])


def test_shared_noise_is_seeded():
    assert torch.equal(_shared([0, 1], seed=4), _shared([0, 1], seed=4))
    assert not torch.allclose(_shared([0, 1], seed=4), _shared([0, 1], seed=5))


def test_scheduler_steps_use_given_noise_exactly_as_a_drawn_one():
    sched = Scheduler(SchedulerConfig(n_train_steps=20))
    x_t, out = _x_T(), affine_model(_x_T(), torch.full((2,), 9))
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    drawn = sched.ddpm_step(out, 9, x_t, generator=torch.Generator().manual_seed(7))
    given = sched.ddpm_step(out, 9, x_t, variance_noise=noise)
    assert torch.equal(drawn.prev_sample, given.prev_sample)
    drawn = sched.ddim_step(out, 9, 4, x_t, eta=0.3, generator=torch.Generator().manual_seed(7))
    given = sched.ddim_step(out, 9, 4, x_t, eta=0.3, variance_noise=noise)
    assert torch.equal(drawn.prev_sample, given.prev_sample)
    # The given draw enters as sigma * z: two draws differ by sigma times their difference.
    other = noise + 1.0
    abar, beta = sched.alphas_cumprod, sched.betas
    sigma_ddpm = math.sqrt((1 - abar[8]) / (1 - abar[9]) * beta[9])
    sigma_ddim = 0.3 * math.sqrt((1 - abar[4]) / (1 - abar[9]) * (1 - abar[9] / abar[4]))
    for sigma, step in [
        (sigma_ddpm, lambda z: sched.ddpm_step(out, 9, x_t, variance_noise=z)),
        (sigma_ddim, lambda z: sched.ddim_step(out, 9, 4, x_t, eta=0.3, variance_noise=z)),
    ]:
        shift = step(other).prev_sample - step(noise).prev_sample
        torch.testing.assert_close(shift, torch.full_like(shift, sigma), rtol=1e-9, atol=0)
    with pytest.raises(ValueError, match="variance_noise"):
        sched.ddpm_step(out, 9, x_t, variance_noise=noise[:1])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"noise_index": torch.tensor([0, 1])}, "n_noise"),
        ({"n_noise": 2}, "noise_index"),
        ({"noise_index": torch.tensor([0, 2]), "n_noise": 2}, "noise_index"),
        ({"noise_index": torch.tensor([0, -1]), "n_noise": 2}, "noise_index"),
        ({"noise_index": torch.tensor([0]), "n_noise": 2}, "noise_index"),
        ({"noise_index": torch.tensor([0.0, 1.0]), "n_noise": 2}, "noise_index"),
        ({"noise_index": torch.tensor([True, False]), "n_noise": 2}, "noise_index"),
        ({"noise_index": [0, 1], "n_noise": 2}, "noise_index"),
        ({"noise_index": torch.tensor([0, 0]), "n_noise": 0}, "n_noise"),
    ],
)
def test_noise_index_errors(kwargs, name):
    with pytest.raises(ValueError, match=name):
        sample(zero_model, Scheduler(SchedulerConfig(n_train_steps=20)), SHAPE, n_steps=3, **kwargs)
