"""The sampling loop, written out: start from noise and denoise step by step with a model."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from neurognocchi.diffusion.scheduler import Scheduler, _check_eta

__all__ = ["METHODS", "sample"]

#: Sampling methods accepted by :func:`sample`.
METHODS = ("ddim", "ddpm")

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of positive ints (batch first)."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None
    valid = all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims)
    if not dims or not valid or min(dims) < 1:
        raise ValueError(f"shape must be a non-empty sequence of ints >= 1 (B, ...), got {shape!r}")
    return tuple(int(d) for d in dims)


def _step_pairs(
    scheduler: Scheduler, method: str, n_steps: int, eta: float
) -> list[tuple[int, int]]:
    """Validate the method settings; return the ``(t, t_prev)`` pairs the loop visits."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    _check_eta(eta)
    if method == "ddpm":
        if n_steps != scheduler.n_train_steps:
            raise ValueError(
                f"method='ddpm' walks every training step: n_steps must equal "
                f"n_train_steps={scheduler.n_train_steps}, got {n_steps}"
            )
        if eta != 0.0:
            raise ValueError(f"eta applies to method='ddim' only; got eta={eta} with 'ddpm'")
    steps = scheduler.timesteps(n_steps).tolist()  # all steps, descending, when n == n_train
    return list(zip(steps, [*steps[1:], -1], strict=True))


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
        raise TypeError(f"x_T must be a torch.Tensor or None, got {type(x_T).__name__}")
    if tuple(x_T.shape) != shape:
        raise ValueError(f"x_T must have shape {shape}, got {tuple(x_T.shape)}")
    return x_T.to(device=device, dtype=dtype)


@torch.no_grad()
def sample(
    model_fn: ModelFn,
    scheduler: Scheduler,
    shape: Sequence[int],
    *,
    n_steps: int = 50,
    method: str = "ddim",
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    x_T: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> torch.Tensor:
    """Generate samples by denoising pure noise with ``model_fn``.

    Parameters
    ----------
    model_fn : callable
        ``model_fn(x_t, t_batch) -> noise_pred``; ``x_t`` has shape ``shape``, ``t_batch`` is a
        LongTensor ``(B,)`` of the current step, and ``noise_pred`` must have ``x_t``'s shape.
        Conditioning (e.g. on a code) is closed over by the caller.
    scheduler : Scheduler
        Noise schedule the model was trained with.
    shape : sequence of int
        Shape of the samples, ``(B, ...)``.
    n_steps : int
        Number of denoising steps. "ddim" uses ``scheduler.timesteps(n_steps)``; "ddpm" walks
        every training step and needs ``n_steps == scheduler.n_train_steps``.
    method : {"ddim", "ddpm"}
        Sampler.
    eta : float
        DDIM stochasticity in ``[0, 1]``; 0 (the default) is deterministic given ``x_T``.
        Must be 0 for "ddpm".
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

    Returns
    -------
    x0 : torch.Tensor, shape (B, ...)
        Estimate of clean data, on ``device`` with ``dtype``.
    """
    if not isinstance(scheduler, Scheduler):
        raise TypeError(f"scheduler must be a Scheduler, got {type(scheduler).__name__}")
    shape = _check_shape(shape)
    pairs = _step_pairs(scheduler, method, n_steps, eta)
    x_t = _initial_noise(shape, x_T, generator, device, dtype)  # (B, ...)
    # disable=None lets tqdm switch itself off when the output is not a terminal.
    for t, t_prev in tqdm(pairs, desc=f"{method} sampling", disable=None if progress else True):
        t_batch = torch.full((shape[0],), t, dtype=torch.long, device=x_t.device)  # (B,)
        noise_pred = model_fn(x_t, t_batch)  # (B, ...)
        if not isinstance(noise_pred, torch.Tensor) or noise_pred.shape != x_t.shape:
            got = tuple(noise_pred.shape) if isinstance(noise_pred, torch.Tensor) else noise_pred
            raise ValueError(f"model_fn must return a tensor of shape {shape}, got {got!r}")
        if method == "ddpm":
            x_t = scheduler.ddpm_step(noise_pred, t, x_t, generator=generator)
        else:
            x_t = scheduler.ddim_step(noise_pred, t, t_prev, x_t, eta=eta, generator=generator)
    return x_t
