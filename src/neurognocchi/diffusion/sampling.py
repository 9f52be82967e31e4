"""The sampling loop, written out: start from noise and denoise step by step with a model.

Methods: the hand-written ancestral DDPM and strided DDIM steps of
:class:`~neurognocchi.diffusion.scheduler.Scheduler`, and the few-step ODE solvers
``"dpm-solver++"`` and ``"unipc"`` from diffusers (:mod:`neurognocchi.diffusion.solvers`).
The hand-written samplers stay the reference: they share noise between rows at every stochastic
step (below), clip the clean-data prediction inside the scheduler that also does the
training-time noising, and need nothing beyond torch. The solvers aim at the same quality in
fewer model calls (``benchmarks/bench_sampling.py`` measures it) and are deterministic given
the starting noise.

Common random numbers: with ``noise_index`` each draw (the starting noise and every step's
noise) is a *bank* of ``n_noise`` rows drawn from the generator, and row ``b`` of the batch takes
bank row ``noise_index[b]``. Rows with the same index share all their noise, and a row's noise
does not depend on the other rows, so a generator seeded the same for every call gives a row the
same noise however the rows are batched. The solvers draw only the starting noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from neurognocchi._checks import (
    InvalidArgumentError,
    check_choice,
    check_int,
    check_positive_int,
    check_real,
)
from neurognocchi._params import param
from neurognocchi.diffusion.scheduler import Scheduler
from neurognocchi.diffusion.solvers import SOLVERS, solve

__all__ = ["DEFAULT_SAMPLER", "METHODS", "SamplerDefaults", "resolve_sampler", "sample"]

#: Sampling methods accepted by :func:`sample`: the hand-written steps, then diffusers' solvers.
METHODS = ("ddim", "ddpm", *SOLVERS)


@dataclass(frozen=True)
class SamplerDefaults:
    """The default sampler of every layer, defined once: :func:`sample`, the models'
    ``generate`` and the estimators' ``sampler`` and ``n_sample_steps`` (which name these
    fields after what they set: the default ``method`` and ``n_steps`` of ``generate``)."""

    method: str = param(
        "unipc",
        "The sampler: the hand-written DDIM or ancestral DDPM, or diffusers' few-step ODE "
        "solvers DPM-Solver++ and UniPC.",
        reason="UniPC with 10 steps, the default since 0.2 (DDIM with 50 before), is within 2 % "
        "of the converged deterministic sampler on every sample statistic at a fifth of "
        "DDIM-50's cost; no few-step setting reproduces 1000-step DDPM within 2 % "
        "(``benchmarks/bench_sampling.py``, docs/results.md). Models saved before this setting "
        'existed load with "ddim", what they sampled with.',
        choices=METHODS,
        legacy="ddim",
    )
    n_steps: int = param(
        10,
        'Denoising steps (model calls) of a sample; "ddpm" walks every training step.',
        check=check_positive_int,
    )


#: The defaults themselves (``DEFAULT_SAMPLER.method``, ``DEFAULT_SAMPLER.n_steps``).
DEFAULT_SAMPLER = SamplerDefaults()

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_INDEX_DTYPES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of positive ints (batch first)."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise InvalidArgumentError(f"shape must be a sequence of ints, got {shape!r}") from None
    if not dims:
        raise InvalidArgumentError(f"shape must be a non-empty sequence (B, ...), got {shape!r}")
    return tuple(check_int(d, "shape[i]", minimum=1) for d in dims)


def resolve_sampler(scheduler: Scheduler, method: str | None, n_steps: int | None):
    """``(method, n_steps)`` with None read as the default (:data:`DEFAULT_SAMPLER`); the
    default ``n_steps`` of "ddpm" is every training step, the only number it takes."""
    method = DEFAULT_SAMPLER.method if method is None else method
    if n_steps is None:
        n_steps = scheduler.n_train_steps if method == "ddpm" else DEFAULT_SAMPLER.n_steps
    return method, n_steps


def _check_method(scheduler: Scheduler, method: str, n_steps: int, eta: float) -> int:
    """Validate the method settings; return ``n_steps``."""
    check_choice(method, "method", METHODS)
    check_real(eta, "eta", low=0.0, high=1.0)
    n_steps = check_int(n_steps, "n_steps")
    n_train = scheduler.n_train_steps
    if not 1 <= n_steps <= n_train:
        raise InvalidArgumentError(f"n_steps must be in [1, {n_train}], got {n_steps}")
    if method == "ddpm" and n_steps != n_train:
        raise InvalidArgumentError(
            f"method='ddpm' walks every training step: n_steps must equal "
            f"n_train_steps={n_train}, got {n_steps}"
        )
    if method != "ddim" and eta != 0.0:
        raise InvalidArgumentError(
            f"eta applies to method='ddim' only ('ddpm' draws its own noise, 'dpm-solver++' "
            f"and 'unipc' are deterministic given x_T); got eta={eta} with {method!r}"
        )
    return n_steps


def _checked(model_fn: ModelFn, shape: tuple[int, ...]) -> ModelFn:
    """``model_fn``, raising a clear error when its output is not a tensor of ``shape``."""

    def call(x_t: torch.Tensor, t_batch: torch.Tensor) -> torch.Tensor:
        out = model_fn(x_t, t_batch)  # (B, ...)
        if not isinstance(out, torch.Tensor) or out.shape != x_t.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else out
            raise InvalidArgumentError(
                f"model_fn must return a tensor of shape {shape}, got {got!r}"
            )
        return out

    return call


def _initial_noise(
    shape: tuple[int, ...],
    x_T: torch.Tensor | None,
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Return ``x_T``: the given tensor (moved to ``device``/``dtype``) or fresh noise."""
    if x_T is None:
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if not isinstance(x_T, torch.Tensor):
        raise InvalidArgumentError(f"x_T must be a torch.Tensor or None, got {type(x_T).__name__}")
    if tuple(x_T.shape) != shape:
        raise InvalidArgumentError(f"x_T must have shape {shape}, got {tuple(x_T.shape)}")
    return x_T.to(device=device, dtype=dtype)


def _check_noise_index(
    noise_index: torch.Tensor, n_noise: int | None, batch: int
) -> tuple[torch.Tensor, int]:
    """``noise_index`` as a CPU LongTensor (B,) with values in ``[0, n_noise)``, and n_noise."""
    if n_noise is None:
        raise InvalidArgumentError("noise_index needs n_noise, the size of the noise bank")
    n_noise = check_int(n_noise, "n_noise", minimum=1)
    integer = isinstance(noise_index, torch.Tensor) and noise_index.dtype in _INDEX_DTYPES
    if not integer:
        raise InvalidArgumentError(
            f"noise_index must be an integer torch.Tensor of shape (B,), got {noise_index!r}"
        )
    if noise_index.shape != (batch,):
        raise InvalidArgumentError(
            f"noise_index must have shape (B,) = ({batch},), got {tuple(noise_index.shape)}"
        )
    index = noise_index.to(device="cpu", dtype=torch.long)
    if int(index.min()) < 0 or int(index.max()) >= n_noise:
        raise InvalidArgumentError(
            f"noise_index must hold bank rows in [0, {n_noise - 1}], "
            f"got values in [{int(index.min())}, {int(index.max())}]"
        )
    return index, n_noise


def _noise_source(
    shape: tuple[int, ...],
    noise_index: torch.Tensor | None,
    n_noise: int | None,
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype,
) -> Callable[[], torch.Tensor] | None:
    """A function drawing one batch of shared noise ``shape`` (None without ``noise_index``):
    ``n_noise`` rows from ``generator``, gathered by ``noise_index``."""
    if noise_index is None:
        if n_noise is not None:
            raise InvalidArgumentError("n_noise needs noise_index (the bank row of each sample)")
        return None
    index, n_noise = _check_noise_index(noise_index, n_noise, shape[0])
    index = index.to(device)  # (B,)
    bank_shape = (n_noise, *shape[1:])

    def draw() -> torch.Tensor:
        bank = torch.randn(bank_shape, generator=generator, device=device, dtype=dtype)
        return bank[index]  # (B, ...)

    return draw


@torch.no_grad()
def sample(
    model_fn: ModelFn,
    scheduler: Scheduler,
    shape: Sequence[int],
    *,
    n_steps: int | None = None,
    method: str | None = None,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    x_T: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    clip_x0: float | None = None,
    noise_index: torch.Tensor | None = None,
    n_noise: int | None = None,
) -> torch.Tensor:
    """Generate samples by denoising pure noise with ``model_fn``.

    Parameters
    ----------
    model_fn : callable
        ``model_fn(x_t, t_batch) -> model_output``; ``x_t`` has shape ``shape``, ``t_batch`` is
        a LongTensor ``(B,)`` of the current step, and ``model_output`` (the noise or v, as
        ``scheduler.config.prediction`` says) must have ``x_t``'s shape. Conditioning (e.g. on
        a code) is closed over by the caller.
    scheduler : Scheduler
        Noise schedule and prediction type the model was trained with.
    shape : sequence of int
        Shape of the samples, ``(B, ...)``.
    n_steps : int, optional
        Number of denoising steps (model calls), in ``[1, scheduler.n_train_steps]``; default
        ``DEFAULT_SAMPLER.n_steps`` (10), or every training step for "ddpm". "ddim"
        uses ``scheduler.timesteps(n_steps)``; "ddpm" walks every training step and needs
        ``n_steps == scheduler.n_train_steps``; the solvers use diffusers' "linspace" steps
        (see :mod:`~neurognocchi.diffusion.solvers`).
    method : {"ddim", "ddpm", "dpm-solver++", "unipc"}, optional
        Sampler: the hand-written DDIM or ancestral DDPM steps, or diffusers' DPM-Solver++
        (2nd-order multistep) or UniPC, ODE solvers meant for 5-20 steps; default
        ``DEFAULT_SAMPLER.method`` ("unipc", see :class:`SamplerDefaults` for why).
    eta : float
        DDIM stochasticity in ``[0, 1]``; 0 (the default) is deterministic given ``x_T``.
        Must be 0 for the other methods ("ddpm" draws its own noise; the solvers are
        deterministic given ``x_T``).
    generator : torch.Generator, optional
        Source of all randomness (``x_T`` when not given, and the noise added by the steps). It
        must live on ``device``.
    x_T : torch.Tensor, shape (B, ...), optional
        Starting noise; drawn from ``generator`` when ``None``.
    device : torch.device or str
        Where to sample.
    dtype : torch.dtype
        Dtype of the samples.
    progress : bool
        Show a tqdm progress bar (only when stderr is a terminal).
    clip_x0 : float, optional
        Clip every step's clean-data prediction to ``[-clip_x0, clip_x0]``; None uses
        ``scheduler.config.clip_x0`` (None by default: no clipping). The solvers clip by
        changing the model output (:func:`~neurognocchi.diffusion.solvers.clip_model_output`).
    noise_index : torch.Tensor, shape (B,), optional
        Common random numbers: the row of a noise bank each sample takes. Every draw (``x_T``
        when not given, and the noise of each DDPM step or DDIM step with ``eta > 0``; the
        solvers draw nothing after ``x_T``) is then ``n_noise`` rows from ``generator``, and
        sample ``b`` gets row ``noise_index[b]``: samples with the same index get the same
        noise, and a sample's noise does not depend on the rest of the batch, so calls with
        generators seeded alike give a sample the same noise however samples are batched.
        Cost: ``n_noise`` rows drawn per draw instead of ``B`` (no more when
        ``n_noise <= B``), negligible beside the model calls.
    n_noise : int, optional
        Rows of the noise bank; required with ``noise_index``.

    Returns
    -------
    x0 : torch.Tensor, shape (B, ...)
        Estimate of clean data, on ``device`` with ``dtype``.

    Examples
    --------
    >>> from neurognocchi.diffusion import SchedulerConfig
    >>> scheduler = Scheduler(SchedulerConfig(n_train_steps=10))
    >>> same = torch.tensor([0, 1, 0])  # samples 0 and 2 share all their noise
    >>> x = sample(lambda x_t, t: 0.1 * x_t, scheduler, (3, 4), n_steps=10, method="ddpm",
    ...            generator=torch.Generator().manual_seed(0), noise_index=same, n_noise=2)
    >>> torch.equal(x[0], x[2]), torch.equal(x[0], x[1])
    (True, False)
    """
    if not isinstance(scheduler, Scheduler):
        raise InvalidArgumentError(f"scheduler must be a Scheduler, got {type(scheduler).__name__}")
    shape = _check_shape(shape)
    method, n_steps = resolve_sampler(scheduler, method, n_steps)
    n_steps = _check_method(scheduler, method, n_steps, eta)
    shared = _noise_source(shape, noise_index, n_noise, generator, device, dtype)
    if x_T is None and shared is not None:
        x_T = shared()  # (B, ...) rows of the bank
    x_t = _initial_noise(shape, x_T, generator, device, dtype)  # (B, ...)
    model_fn = _checked(model_fn, shape)
    if method in SOLVERS:
        return solve(
            model_fn,
            scheduler,
            x_t,
            method=method,
            n_steps=n_steps,
            clip_x0=clip_x0,
            progress=progress,
        )
    # Shared noise is drawn wherever a step may add noise (also at its last, noise-free step).
    step_noise = shared if method == "ddpm" or eta > 0 else None
    steps = scheduler.timesteps(n_steps).tolist()  # all steps, descending, when n == n_train
    pairs = list(zip(steps, [*steps[1:], -1], strict=True))
    # disable=None lets tqdm switch itself off when the output is not a terminal.
    for t, t_prev in tqdm(pairs, desc=f"{method} sampling", disable=None if progress else True):
        t_batch = torch.full((shape[0],), t, dtype=torch.long, device=x_t.device)  # (B,)
        out = model_fn(x_t, t_batch)  # (B, ...)
        noise = step_noise() if step_noise else None  # None: the step draws from generator
        if method == "ddpm":
            step = scheduler.ddpm_step(
                out, t, x_t, generator=generator, clip_x0=clip_x0, variance_noise=noise
            )
        else:
            step = scheduler.ddim_step(
                out,
                t,
                t_prev,
                x_t,
                eta=eta,
                generator=generator,
                clip_x0=clip_x0,
                variance_noise=noise,
            )
        x_t = step.prev_sample  # (B, ...); step.pred_x0 is the clean-data estimate used
    return x_t
