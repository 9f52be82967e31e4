"""Embeddings of the integer diffusion step index.

Networks know nothing about noise schedules: they receive the step index ``t`` and turn it into a
vector with a fixed sinusoidal map followed by a small learned MLP.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neurognocchi._checks import InvalidArgumentError, check_positive_int, check_real

__all__ = ["StepEmbedding", "relative_time_channels", "sinusoidal_embedding"]


def sinusoidal_embedding(t: torch.Tensor, dim: int, *, max_period: float = 10000.0) -> torch.Tensor:
    """Fixed sinusoidal embedding of step indices (Transformer / DDPM style).

    Parameters
    ----------
    t : torch.Tensor, shape (B,)
        Step indices (integer or float dtype).
    dim : int
        Embedding size. The first ``dim // 2`` columns are sines, the next ``dim // 2`` cosines;
        an odd ``dim`` gets one trailing column of zeros.
    max_period : float, default 10000.0
        Longest period of the sinusoids; frequencies are geometric from 1 to ``1 / max_period``.

    Returns
    -------
    torch.Tensor, shape (B, dim), float32
        The embedding; at ``t = 0`` the sine half is 0 and the cosine half is 1.

    Examples
    --------
    >>> sinusoidal_embedding(torch.tensor([0]), 4).tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    """
    if not isinstance(t, torch.Tensor):
        raise InvalidArgumentError(
            f"t must be a torch.Tensor of shape (B,); got {type(t).__name__}"
        )
    if t.ndim != 1:
        raise InvalidArgumentError(f"t must have shape (B,); got shape {tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_complex():
        raise InvalidArgumentError(f"t must hold integer or real step indices; got dtype {t.dtype}")
    check_positive_int(dim, "dim")
    check_real(max_period, "max_period", low=0.0, low_open=True)

    half = dim // 2
    exponents = torch.arange(half, dtype=torch.float32, device=t.device) / max(half, 1)
    freqs = torch.exp(-math.log(max_period) * exponents)  # (half,)
    angles = t.to(torch.float32)[:, None] * freqs[None, :]  # (B, half)
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (B, 2 * half)
    if dim % 2:
        emb = nn.functional.pad(emb, (0, 1))  # (B, dim)
    return emb


def relative_time_channels(x: torch.Tensor, n_channels: int) -> torch.Tensor:
    """``sin(pi k tau)`` and ``cos(pi k tau)``, k = 1 .. n_channels / 2, of the relative time
    ``tau = (t + 0.5) / T`` of trials x (B, T, N): channels (B, n_channels, T) that tell a
    convolution *when* in the trial it is.

    Examples
    --------
    >>> relative_time_channels(torch.zeros(1, 2, 3), 2).round(decimals=3)
    tensor([[[ 0.7070,  0.7070],
             [ 0.7070, -0.7070]]])
    """
    n_batch, n_time, _ = x.shape
    tau = (torch.arange(n_time, device=x.device, dtype=x.dtype) + 0.5) / n_time  # (T,)
    k = torch.arange(1, n_channels // 2 + 1, device=x.device, dtype=x.dtype)  # (P / 2,)
    angle = torch.pi * k[:, None] * tau[None, :]  # (P / 2, T)
    channels = torch.cat([torch.sin(angle), torch.cos(angle)], dim=0)  # (P, T)
    return channels.expand(n_batch, -1, -1)


class StepEmbedding(nn.Module):
    """Learned embedding of the diffusion step: sinusoid -> Linear -> SiLU -> Linear.

    Parameters
    ----------
    dim : int
        Size of the sinusoidal embedding and of the output.
    hidden_dim : int, optional
        Width of the hidden layer; defaults to ``4 * dim``.
    """

    def __init__(self, dim: int, *, hidden_dim: int | None = None) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        hidden_dim = 4 * dim if hidden_dim is None else check_positive_int(hidden_dim, "hidden_dim")
        self.hidden_dim = hidden_dim
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden_dim),
            nn.SiLU(),
            nn.Linear(hidden_dim, dim),
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Embed step indices.

        Parameters
        ----------
        t : torch.Tensor, shape (B,)
            Step indices.

        Returns
        -------
        torch.Tensor, shape (B, dim)
        """
        emb = sinusoidal_embedding(t, self.dim)  # (B, dim)
        return self.mlp(emb.to(self.mlp[0].weight.dtype))  # (B, dim)
