"""Conditioned 1-D residual blocks and resampling layers, all on ``(B, C, T)`` tensors."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from neurognocchi._checks import check_dropout, check_positive_int

__all__ = [
    "ConditionedResBlock1d",
    "Downsample1d",
    "Upsample1d",
    "group_count",
]


def group_count(channels: int, groups: int) -> int:
    """Largest divisor of ``channels`` that is <= ``groups``, so GroupNorm fits any width.

    Parameters
    ----------
    channels : int
        Number of channels to normalise.
    groups : int
        Preferred (maximum) number of groups.

    Returns
    -------
    int

    Examples
    --------
    >>> group_count(12, 8), group_count(7, 8), group_count(7, 4)
    (6, 7, 1)
    """
    check_positive_int(channels, "channels")
    check_positive_int(groups, "groups")
    for n in range(min(groups, channels), 0, -1):
        if channels % n == 0:
            return n
    return 1  # unreachable: 1 divides everything


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm over ``channels`` with :func:`group_count` groups."""
    return nn.GroupNorm(group_count(channels, groups), channels)


class ConditionedResBlock1d(nn.Module):
    """Residual block modulated by a conditioning vector (FiLM / AdaGN).

    ``GroupNorm -> SiLU -> Conv1d(3) -> GroupNorm -> h * (1 + s) + b -> SiLU -> Dropout ->
    Conv1d(3)``, plus the input (through a 1x1 conv when the channel counts differ). ``(s, b)``
    come from ``SiLU -> Linear`` of the conditioning vector, which the caller builds (e.g. the
    concatenation of step and code embeddings). Nothing is zero-initialised, so the conditioning
    already changes the output of a freshly built block.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts of the input and output.
    cond_dim : int
        Size of the conditioning vector.
    groups : int, default 8
        Maximum number of GroupNorm groups (see :func:`group_count`).
    dropout : float, default 0.0
        Dropout probability before the second convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        cond_dim: int,
        groups: int = 8,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive_int(in_channels, "in_channels")
        check_positive_int(out_channels, "out_channels")
        check_positive_int(cond_dim, "cond_dim")
        check_positive_int(groups, "groups")
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm2 = group_norm(out_channels, groups)
        self.film = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 2 * out_channels))
        self.dropout = nn.Dropout(check_dropout(dropout))
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size=3, padding=1)
        if in_channels == out_channels:
            self.skip: nn.Module = nn.Identity()
        else:
            self.skip = nn.Conv1d(in_channels, out_channels, kernel_size=1)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Apply the block.

        Parameters
        ----------
        h : torch.Tensor, shape (B, in_channels, T)
        cond : torch.Tensor, shape (B, cond_dim)

        Returns
        -------
        torch.Tensor, shape (B, out_channels, T)
        """
        out = self.conv1(F.silu(self.norm1(h)))  # (B, C_out, T)
        scale, shift = self.film(cond)[:, :, None].chunk(2, dim=1)  # 2 x (B, C_out, 1)
        out = self.norm2(out) * (1.0 + scale) + shift  # (B, C_out, T)
        out = self.conv2(self.dropout(F.silu(out)))  # (B, C_out, T)
        return out + self.skip(h)


class Downsample1d(nn.Module):
    """Halve the time axis with a stride-2 convolution (kernel 3, padding 1).

    Parameters
    ----------
    channels : int
        Channel count (unchanged).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        check_positive_int(channels, "channels")
        self.conv = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C, T)`` to ``(B, C, ceil(T / 2))``."""
        return self.conv(h)


class Upsample1d(nn.Module):
    """Double the time axis: nearest-neighbour repeat then a convolution (kernel 3, padding 1).

    Parameters
    ----------
    channels : int
        Channel count (unchanged).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        check_positive_int(channels, "channels")
        self.conv = nn.Conv1d(channels, channels, kernel_size=3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C, T)`` to ``(B, C, 2 T)``."""
        return self.conv(F.interpolate(h, scale_factor=2.0, mode="nearest"))
