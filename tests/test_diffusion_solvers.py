"""Tests of neurognocchi.diffusion.solvers (diffusers' DPM-Solver++ and UniPC behind sample())
and a cross-check of the hand-written DDIM against diffusers' DDIMScheduler."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from neurognocchi.data import make_toy_dataset
from neurognocchi.diffusion import METHODS, Scheduler, SchedulerConfig, sample, strided_timesteps
from neurognocchi.diffusion.solvers import SOLVERS, clip_model_output, make_solver, solve
from neurognocchi.estimators import GNOCCHI

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    # diffusers' set_timesteps calls np.array on a tensor; numpy 2 warns about torch's __array__.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

SCHEDULES = [("cosine", "v"), ("linear", "noise")]  # GNOCCHI's, and the other combination
MU = torch.tensor([1.0, -1.0, 0.5])  # data mean, per dimension
SD = torch.tensor([0.5, 1.0, 2.0])  # data s.d.: z-scored data has s.d. near 1


def gaussian_model(scheduler: Scheduler):
    """The exact model output for data x0 ~ N(MU, diag(SD^2)), as the scheduler reads it.

    With x_t = a x0 + s noise (a = sqrt(abar), s = sqrt(1 - abar)), E[x0 | x_t] =
    MU + a SD^2 / (a^2 SD^2 + s^2) (x_t - a MU); then v = (a x_t - x0) / s and
    noise = (x_t - a x0) / s.
    """

    def model_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = scheduler.alphas_cumprod[t].to(x_t)[:, None]  # (B, 1)
        a, s = abar.sqrt(), (1 - abar).sqrt()
        x0 = MU + a * SD**2 / (abar * SD**2 + 1 - abar) * (x_t - a * MU)  # (B, 3)
        return (a * x_t - x0) / s if scheduler.config.prediction == "v" else (x_t - a * x0) / s

    return model_fn


def exact_flow(scheduler: Scheduler, x_T: torch.Tensor) -> torch.Tensor:
    """Where the probability-flow ODE takes x_T (at the last training step) for Gaussian data:
    the affine map between the two Gaussian marginals."""
    abar = float(scheduler.alphas_cumprod[-1])
    return MU + SD * (x_T - math.sqrt(abar) * MU) / torch.sqrt(abar * SD**2 + 1 - abar)


def affine_model(x_t, t_batch):
    # A fixed, simple stand-in for a network: depends on x_t and on the step.
    return 0.1 * x_t + (0.01 * t_batch.to(x_t.dtype) / 1000).reshape(-1, *[1] * (x_t.ndim - 1))


def _scheduler(schedule="cosine", prediction="v", n_train_steps=1000) -> Scheduler:
    config = SchedulerConfig(n_train_steps=n_train_steps, schedule=schedule, prediction=prediction)
    return Scheduler(config)


def _x_T(shape, seed=0, dtype=torch.float32):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------------- DDIM cross-check
def _diffusers_ddim(scheduler, spacing, n_steps, clip_x0):
    ddim = DDIMScheduler(
        num_train_timesteps=scheduler.n_train_steps,
        trained_betas=scheduler.betas.numpy(),
        prediction_type="v_prediction" if scheduler.config.prediction == "v" else "epsilon",
        timestep_spacing=spacing,
        set_alpha_to_one=True,  # the last step lands on abar = 1, as ours (t_prev = -1)
        clip_sample=clip_x0 is not None,
        clip_sample_range=1.0 if clip_x0 is None else clip_x0,
    )
    ddim.set_timesteps(n_steps)
    return ddim


@pytest.mark.parametrize(("schedule", "prediction"), SCHEDULES)
@pytest.mark.parametrize("clip_x0", [None, 0.5])
def test_hand_written_ddim_matches_diffusers_ddim(schedule, prediction, clip_x0):
    """Our DDIM (eta = 0) and diffusers' DDIMScheduler agree to float32 coefficient rounding.

    diffusers' "linspace" grid is ours (``strided_timesteps``), but its step from ``t`` goes to
    ``t - n_train // n_steps``, not to the next grid step (999 -> 899 while the grid's next
    step is 888 for 10 of 1000 steps): by design a different sampler, which meets ours only
    when the stride is ``n_train // n_steps``. So (1) every training step, also through
    ``sample`` (stride 1, the same grid), and (2) our ``ddim_step`` along diffusers'
    "trailing" grid (99, 89, ..., 9 for 10 of 100 steps, then the clean data), whose stride
    is ``n_train // n_steps``. Clipping matches diffusers' ``clip_sample`` with
    ``use_clipped_model_output=True`` (the noise re-derived from the clipped x0). diffusers
    keeps its coefficients in float32, hence the tolerance. 100 training steps keep it fast.
    """
    scheduler = _scheduler(schedule, prediction, n_train_steps=100)
    x_T = _x_T((4, 3), dtype=torch.float64)
    model_fn = gaussian_model(scheduler)
    for spacing, n_steps in [("linspace", 100), ("trailing", 10)]:
        ddim = _diffusers_ddim(scheduler, spacing, n_steps, clip_x0)
        steps = ddim.timesteps.tolist()
        theirs, ours = x_T.clone(), x_T.clone()
        for t, t_prev in zip(steps, [*steps[1:], -1], strict=True):
            t_batch = torch.full((len(x_T),), t)
            theirs = ddim.step(
                model_fn(theirs, t_batch), t, theirs, eta=0.0, use_clipped_model_output=True
            ).prev_sample
            ours = scheduler.ddim_step(model_fn(ours, t_batch), t, t_prev, ours, clip_x0=clip_x0)[0]
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
        if spacing == "linspace":
            assert steps == scheduler.timesteps(n_steps).tolist()
            through_sample = sample(
                model_fn,
                scheduler,
                x_T.shape,
                method="ddim",
                n_steps=n_steps,
                x_T=x_T,
                dtype=torch.float64,
                clip_x0=clip_x0,
            )
            torch.testing.assert_close(through_sample, theirs, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- the solvers' steps
@pytest.mark.parametrize("method", SOLVERS)
def test_solver_steps_are_the_strided_grid_without_step_zero(method):
    # diffusers' "linspace": round(linspace(0, n_train - 1, n + 1)) descending, without its 0;
    # our strided_timesteps rounds the offset half up where diffusers rounds half to even.
    scheduler = _scheduler()
    for n_steps in (1, 5, 10, 20, 50, 999):
        steps = make_solver(scheduler, method, n_steps, "cpu").timesteps
        strided = strided_timesteps(1000, n_steps + 1)[:-1]
        assert len(steps) == n_steps and (steps.diff() < 0).all()
        assert (steps - strided).abs().max() <= 1
    assert make_solver(scheduler, method, 10, "cpu").timesteps.tolist() == [
        999,
        899,
        799,
        699,
        599,
        500,
        400,
        300,
        200,
        100,
    ]
    # At n_steps == n_train, "linspace" would repeat a step; every step is visited instead.
    every_step = make_solver(scheduler, method, 1000, "cpu").timesteps
    assert every_step.tolist() == list(range(999, -1, -1))


@pytest.mark.parametrize("method", SOLVERS)
def test_solvers_at_every_training_step_are_finite(method):
    scheduler = _scheduler(n_train_steps=10)
    x = sample(gaussian_model(scheduler), scheduler, (50, 3), n_steps=10, method=method)
    assert torch.isfinite(x).all()


# ---------------------------------------------------------------------- Gaussian data
@pytest.mark.parametrize("prediction", ["v", "noise"])
@pytest.mark.parametrize("method", SOLVERS)
def test_solvers_recover_gaussian_data(prediction, method):
    # With the exact model, 20 steps give the data's mean and s.d.; tolerances: 4 standard
    # errors of n = 4000 samples (mean: SD / sqrt(n); s.d.: SD / sqrt(2 n)). The cosine
    # schedule (GNOCCHI's): with the linear one, 20 steps leave the s.d. of the narrowest
    # dimension 5 % short, as the linear schedule spends few steps at low noise.
    scheduler = _scheduler("cosine", prediction)
    n = 4000
    x_T = _x_T((n, 3))
    model_fn = gaussian_model(scheduler)
    x20 = sample(model_fn, scheduler, x_T.shape, n_steps=20, method=method, x_T=x_T)
    torch.testing.assert_close(x20.mean(0), MU, rtol=0, atol=float(4 * SD.max() / math.sqrt(n)))
    torch.testing.assert_close(x20.std(0) / SD, torch.ones(3), rtol=0, atol=4 / math.sqrt(2 * n))
    # 5 steps: roughly right (the s.d. of the narrowest dimension is about 20 % short).
    x5 = sample(model_fn, scheduler, x_T.shape, n_steps=5, method=method, x_T=x_T)
    torch.testing.assert_close(x5.mean(0), MU, rtol=0, atol=float(4 * SD.max() / math.sqrt(n)))
    assert ((x5.std(0) / SD - 1).abs() < 0.3).all()
    # More steps, closer to the exact ODE map of each x_T.
    exact = exact_flow(scheduler, x_T)
    assert (x20 - exact).abs().max() < 0.5 * (x5 - exact).abs().max()


@pytest.mark.parametrize("method", SOLVERS)
def test_solvers_beat_ddim_at_the_same_number_of_steps(method):
    # What they are for: at 10 steps, less than half DDIM's error of the exact ODE map.
    scheduler = _scheduler()
    x_T = _x_T((1000, 3))
    exact = exact_flow(scheduler, x_T)
    error = {
        m: (
            sample(gaussian_model(scheduler), scheduler, x_T.shape, n_steps=10, method=m, x_T=x_T)
            - exact
        )
        .abs()
        .max()
        for m in ("ddim", method)
    }
    assert error[method] < 0.5 * error["ddim"]


# ---------------------------------------------------------------------- clipping
@pytest.mark.parametrize("prediction", ["v", "noise"])
def test_clip_model_output_implies_the_clipped_x0(prediction):
    x_t = _x_T((64, 5), seed=1, dtype=torch.float64)
    out = _x_T((64, 5), seed=2, dtype=torch.float64)

    def x0_of(output, abar):  # the identities of clip_model_output's docstring
        a, s = math.sqrt(abar), math.sqrt(1 - abar)
        return a * x_t - s * output if prediction == "v" else (x_t - s * output) / a

    for abar in (1e-6, 0.3, 0.99):
        x0 = x0_of(out, abar)
        bound = float(x0.abs().median())  # about half the entries are clipped
        clipped = clip_model_output(out, x_t, abar, bound, prediction=prediction)
        torch.testing.assert_close(x0_of(clipped, abar), x0.clamp(-bound, bound))
        inside = x0.abs() <= bound
        assert torch.equal(clipped[inside], out[inside]) and not torch.equal(clipped, out)
        # Nothing to clip: the identity, bit for bit.
        loose = float(x0.abs().max()) + 1.0
        assert torch.equal(clip_model_output(out, x_t, abar, loose, prediction=prediction), out)


def test_clip_model_output_checks_its_arguments():
    x = torch.zeros(2, 3)
    for kwargs, name in [
        ({"abar": 1.0}, "abar"),
        ({"abar": 0.0}, "abar"),
        ({"bound": -1.0}, "bound"),
        ({"prediction": "x0"}, "prediction"),
    ]:
        with pytest.raises(ValueError, match=name):
            clip_model_output(x, x, **({"abar": 0.5, "bound": 1.0, "prediction": "v"} | kwargs))


@pytest.mark.parametrize("method", SOLVERS)
def test_solvers_apply_clip_x0(method):
    # The last step lands on the clean-data prediction, which is clipped.
    scheduler = _scheduler()
    x_T = _x_T((500, 3))
    x = sample(
        gaussian_model(scheduler),
        scheduler,
        x_T.shape,
        method=method,
        n_steps=10,
        x_T=x_T,
        clip_x0=0.75,
    )
    assert x.abs().max() <= 0.75 + 1e-5 and x.abs().max() > 0.74
    free = sample(
        gaussian_model(scheduler), scheduler, x_T.shape, method=method, n_steps=10, x_T=x_T
    )
    assert free.abs().max() > 2
    # clip_x0 None: the scheduler's own bound.
    bounded = Scheduler(SchedulerConfig(prediction="v", clip_x0=0.75))
    x_config = sample(
        gaussian_model(bounded), bounded, x_T.shape, method=method, n_steps=10, x_T=x_T
    )
    assert torch.equal(x_config, x)


# ---------------------------------------------------------------------- sample() interface
@pytest.mark.parametrize("method", SOLVERS)
def test_solvers_are_deterministic_given_x_T(method):
    scheduler = _scheduler()
    x_T = _x_T((3, 4, 5))
    runs = [
        sample(
            affine_model,
            scheduler,
            x_T.shape,
            method=method,
            n_steps=8,
            x_T=x_T,
            generator=torch.Generator().manual_seed(seed),
        )
        for seed in (1, 2)
    ]
    assert torch.equal(runs[0], runs[1]) and torch.isfinite(runs[0]).all()
    direct = solve(affine_model, scheduler, x_T, method=method, n_steps=8)
    assert torch.equal(direct, runs[0])
    seeded = [
        sample(
            affine_model,
            scheduler,
            (3, 4, 5),
            method=method,
            n_steps=8,
            generator=torch.Generator().manual_seed(7),
        )
        for _ in range(2)
    ]
    assert torch.equal(seeded[0], seeded[1])


@pytest.mark.parametrize("method", SOLVERS)
def test_solvers_share_the_starting_noise_by_noise_index(method):
    scheduler = _scheduler()

    def run(index):
        return sample(
            affine_model,
            scheduler,
            (len(index), 4),
            method=method,
            n_steps=6,
            n_noise=3,
            noise_index=torch.tensor(index),
            generator=torch.Generator().manual_seed(0),
        )

    out = run([0, 1, 0, 2])
    assert torch.equal(out[0], out[2]) and not torch.allclose(out[0], out[1])
    torch.testing.assert_close(run([1])[0], out[1])  # a row's noise ignores the other rows


def test_methods_lists_the_solvers():
    assert METHODS == ("ddim", "ddpm", "dpm-solver++", "unipc")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "dpm-solver++", "eta": 0.5}, "eta applies to method='ddim' only"),
        ({"method": "unipc", "eta": 0.1}, "eta applies to method='ddim' only"),
        ({"method": "euler"}, "method must be one of"),
        ({"method": "unipc", "n_steps": 0}, "n_steps"),
        ({"method": "dpm-solver++", "n_steps": 21}, "n_steps"),
        ({"method": "unipc", "clip_x0": -1.0}, "clip_x0"),
    ],
)
def test_solver_errors(kwargs, message):
    scheduler = _scheduler(n_train_steps=20)
    with pytest.raises(ValueError, match=message):
        sample(affine_model, scheduler, (2, 3), **({"n_steps": 5} | kwargs))


def test_solver_model_output_shape_checked():
    with pytest.raises(ValueError, match="model_fn"):
        sample(lambda x, t: x[:, :1], _scheduler(), (2, 3), method="unipc", n_steps=2)


# ---------------------------------------------------------------------- through GNOCCHI
@pytest.fixture(scope="module")
def tiny_gnocchi():
    trials = make_toy_dataset(24, n_neurons=6, n_time=12, random_state=0)
    model = GNOCCHI(
        code_dim=3,
        channels=8,
        channel_mults=(1, 2),
        encoder_dim=8,
        n_train_steps=50,
        n_sample_steps=5,
        max_epochs=1,
        batch_size=8,
        verbose=False,
        random_state=0,
        device="cpu",
    )
    return model.fit(trials), trials


@pytest.mark.parametrize("method", SOLVERS)
def test_gnocchi_generates_with_the_solvers(tiny_gnocchi, method):
    model, trials = tiny_gnocchi
    codes = model.encode(trials)[:3]
    x = model.generate(codes, n_samples=2, method=method, n_steps=4, random_state=0)
    assert x.shape == (3, 2, 12, 6) and np.isfinite(x).all()
    again = model.generate(codes, n_samples=2, method=method, n_steps=4, random_state=0)
    np.testing.assert_array_equal(x, again)
    shared = model.generate(
        codes[[0, 0]], n_samples=2, method=method, n_steps=4, random_state=0, common_noise=True
    )
    np.testing.assert_array_equal(shared[0], shared[1])


def test_gnocchi_generate_names_the_bad_method(tiny_gnocchi):
    model, trials = tiny_gnocchi
    codes = model.encode(trials)[:1]
    with pytest.raises(ValueError, match=r"method must be one of \('ddim', 'ddpm', 'dpm-solver"):
        model.generate(codes, method="dpm-solver")
    with pytest.raises(ValueError, match="eta"):
        model.generate(codes, method="unipc", eta=0.5)
