"""Validators of torch arguments: devices, activity tensors, diffusion steps and data tensors.

torch is imported inside the functions, so that importing :mod:`neurognocchi._checks` stays
cheap for the data layer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from neurognocchi._checks.errors import InvalidArgumentError

if TYPE_CHECKING:
    import torch

__all__ = [
    "check_activity",
    "check_batch_steps",
    "check_data",
    "check_same_shape",
    "resolve_device",
]


def resolve_device(device: object, name: str = "device"):
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device, validated.

    Under ``torchrun`` an unindexed CUDA device is this process's GPU (``LOCAL_RANK``).

    Returns
    -------
    torch.device
    """
    import torch  # imported here so that this module stays cheap for the data layer

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InvalidArgumentError(f"{name}={device!r} was requested but CUDA is not available")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidArgumentError(
            f"{name} must be 'auto', 'cpu' or 'cuda'; got {device!r}"
        ) from None
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1  # torchrun, one GPU per process
    if resolved.type == "cuda" and resolved.index is None and launched:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
    return resolved


def check_activity(x: object, name: str, n_neurons: int):
    """Check that ``x`` is a real tensor of shape ``(B, T, n_neurons)`` with B, T >= 1.

    Parameters
    ----------
    x : object
        The value given by the user.
    name : str
        Argument name used in the error message.
    n_neurons : int
        Number of neurons the network was built for.

    Returns
    -------
    torch.Tensor, shape (B, T, N)
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise InvalidArgumentError(
            f"{name} must be a torch.Tensor of shape (B, T, N); got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise InvalidArgumentError(f"{name} must have a floating dtype; got {x.dtype}")
    if x.ndim != 3:
        raise InvalidArgumentError(
            f"{name} must have shape (B, T, N) = (batch, time bins, neurons); "
            f"got {x.ndim} dimensions, shape {tuple(x.shape)}"
        )
    if x.shape[2] != n_neurons:
        raise InvalidArgumentError(
            f"{name} must have N = {n_neurons} neurons in its last axis; got shape {tuple(x.shape)}"
        )
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise InvalidArgumentError(
            f"{name} needs B >= 1 trials and T >= 1 bins; got shape {tuple(x.shape)}"
        )
    return x


def check_batch_steps(t: object, name: str, x: torch.Tensor, n_train_steps: int) -> torch.Tensor:
    """Check a per-sample step tensor ``t`` (B,) against data ``x`` (B, ...).

    Returns ``t`` as a CPU long tensor with every value in ``[0, n_train_steps - 1]``.
    """
    import torch

    if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype == torch.bool:
        raise InvalidArgumentError(
            f"{name} must be an integer torch.Tensor of shape (B,), got {t!r}"
        )
    if t.shape != (x.shape[0],):
        raise InvalidArgumentError(
            f"{name} must have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}"
        )
    t = t.to(device="cpu", dtype=torch.long)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n_train_steps):
        raise InvalidArgumentError(
            f"{name} must hold steps in [0, {n_train_steps - 1}], "
            f"got values in [{int(t.min())}, {int(t.max())}]"
        )
    return t


def check_data(x: object, name: str) -> None:
    """Check that ``x`` is a tensor with a batch axis, shape (B, ...)."""
    import torch

    if not isinstance(x, torch.Tensor) or x.ndim < 1:
        raise InvalidArgumentError(f"{name} must be a torch.Tensor of shape (B, ...), got {x!r}")


def check_same_shape(value: object, name: str, x: torch.Tensor) -> None:
    """Check that ``value`` is a tensor of the same shape as the data ``x``."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise InvalidArgumentError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.shape != x.shape:
        raise InvalidArgumentError(
            f"{name} must have the shape of the data {tuple(x.shape)}, got {tuple(value.shape)}"
        )
