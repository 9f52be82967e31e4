"""Argument checks of the scheduler's tensor inputs (step indices, data tensors, shapes).

Plain validators (no schedule arithmetic), kept out of :mod:`neurognocchi.diffusion.scheduler`
so that module reads as the mathematics. Each raises
:class:`~neurognocchi._checks.InvalidArgumentError` naming the argument.
"""

from __future__ import annotations

import operator

import torch

from neurognocchi._checks import InvalidArgumentError

__all__ = ["check_batch_steps", "check_data", "check_same_shape", "check_step"]


def check_batch_steps(t: object, x: torch.Tensor, n_train_steps: int) -> torch.Tensor:
    """Check a per-sample step tensor ``t`` (B,) against data ``x`` (B, ...).

    Returns ``t`` as a CPU long tensor with every value in ``[0, n_train_steps - 1]``.
    """
    if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype == torch.bool:
        raise InvalidArgumentError(f"t must be an integer torch.Tensor of shape (B,), got {t!r}")
    if t.shape != (x.shape[0],):
        raise InvalidArgumentError(
            f"t must have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}"
        )
    t = t.to(device="cpu", dtype=torch.long)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n_train_steps):
        raise InvalidArgumentError(
            f"t must hold steps in [0, {n_train_steps - 1}], "
            f"got values in [{int(t.min())}, {int(t.max())}]"
        )
    return t


def check_step(name: str, t: object, n_train_steps: int, *, low: int = 0) -> int:
    """Check a scalar step index in ``[low, n_train_steps - 1]``; return it as an ``int``."""
    if isinstance(t, bool):
        raise InvalidArgumentError(f"{name} must be an int, got {t!r}")
    try:
        t = operator.index(t)
    except TypeError:
        raise InvalidArgumentError(
            f"{name} must be an int, got {t!r} ({type(t).__name__})"
        ) from None
    if not low <= t < n_train_steps:
        raise InvalidArgumentError(f"{name} must be in [{low}, {n_train_steps - 1}], got {t}")
    return t


def check_data(name: str, x: object) -> None:
    """Check that ``x`` is a tensor with a batch axis, shape (B, ...)."""
    if not isinstance(x, torch.Tensor) or x.ndim < 1:
        raise InvalidArgumentError(f"{name} must be a torch.Tensor of shape (B, ...), got {x!r}")


def check_same_shape(name: str, value: object, x: torch.Tensor) -> None:
    """Check that ``value`` is a tensor of the same shape as the data ``x``."""
    if not isinstance(value, torch.Tensor):
        raise InvalidArgumentError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.shape != x.shape:
        raise InvalidArgumentError(
            f"{name} must have the shape of the data {tuple(x.shape)}, got {tuple(value.shape)}"
        )
