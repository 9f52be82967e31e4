"""1-D U-Net denoiser ``F(x_t, t, code)`` over time, neurons as channels.

The network does not know what its output means: the diffusion scheduler reads it as a noise
prediction ``eps_theta(x_t, t, code)`` or as a v-prediction (GNOCCHI), see
:class:`neurognocchi.diffusion.SchedulerConfig`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from neurognocchi._checks import (
    InvalidArgumentError,
    check_activity,
    check_dropout,
    check_int,
    check_positive_int,
)
from neurognocchi.nn.blocks import ConditionedResBlock1d, Downsample1d, Upsample1d, group_norm
from neurognocchi.nn.embeddings import StepEmbedding, relative_time_channels

__all__ = ["UNet1dDenoiser"]


class _ResStack(nn.Module):
    """``n_blocks`` conditioned residual blocks in sequence; ``(B, C_in, T) -> (B, C_out, T)``."""

    def __init__(self, in_channels: int, out_channels: int, n_blocks: int, **block_kw: Any):
        super().__init__()
        widths = [in_channels] + [out_channels] * n_blocks
        self.blocks = nn.ModuleList(
            ConditionedResBlock1d(c_in, c_out, **block_kw)
            for c_in, c_out in itertools.pairwise(widths)
        )

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h, cond)
        return h


def _check_mults(channel_mults: object) -> tuple[int, ...]:
    """Validate ``channel_mults`` (a non-empty sequence of ints >= 1) and return it as a tuple."""
    if not isinstance(channel_mults, Sequence) or isinstance(channel_mults, str):
        raise InvalidArgumentError(
            f"channel_mults must be a sequence of ints >= 1; got {channel_mults!r}"
        )
    if len(channel_mults) == 0:
        raise InvalidArgumentError(
            "channel_mults must hold at least one level; got an empty sequence"
        )
    return tuple(check_positive_int(m, "channel_mults[i]") for m in channel_mults)


class UNet1dDenoiser(nn.Module):
    """Denoiser of GNOCCHI: a 1-D U-Net over time conditioned on the step and a code.

    Neurons are the input channels. Every residual block is modulated (FiLM / AdaGN) by the
    concatenation of a learned step embedding and an MLP embedding of the code. Any ``T >= 1``
    works: the time axis is padded on the right (edge replication) to a multiple of
    ``2 ** (n_levels - 1)`` and the output is sliced back to exactly ``T`` bins.

    Parameters
    ----------
    n_neurons : int
        Number of neurons N (input and output channels).
    code_dim : int
        Size L of the per-trial code.
    channels : int, default 64
        Width of the first level.
    channel_mults : sequence of int, default (1, 2, 2)
        Width multiplier per level; ``len(channel_mults)`` levels, halving T between levels.
    n_res_blocks : int, default 1
        Residual blocks per level (in both the down and the up path).
    step_dim : int, default 128
        Size of the step embedding.
    code_embed_dim : int, default 128
        Size of the code embedding.
    dropout : float, default 0.0
        Dropout inside the residual blocks.
    groups : int, default 8
        Maximum number of GroupNorm groups.
    n_time_channels : int, default 0
        Even number of relative-time channels (:func:`relative_time_channels`) appended to
        the input, so that the network knows where in the trial each bin is (0: none; the
        U-Net then sees time only through its padding).

    Attributes
    ----------
    n_levels : int
        Number of resolution levels.
    config : dict
        JSON-able constructor arguments; ``UNet1dDenoiser(**net.config)`` rebuilds the network.
    """

    def __init__(
        self,
        n_neurons: int,
        *,
        code_dim: int,
        channels: int = 64,
        channel_mults: Sequence[int] = (1, 2, 2),
        n_res_blocks: int = 1,
        step_dim: int = 128,
        code_embed_dim: int = 128,
        dropout: float = 0.0,
        groups: int = 8,
        n_time_channels: int = 0,
    ) -> None:
        super().__init__()
        sizes = {
            name: check_positive_int(value, name)
            for name, value in [
                ("n_neurons", n_neurons),
                ("code_dim", code_dim),
                ("channels", channels),
                ("n_res_blocks", n_res_blocks),
                ("step_dim", step_dim),
                ("code_embed_dim", code_embed_dim),
                ("groups", groups),
            ]
        }
        mults = _check_mults(channel_mults)
        self.config: dict[str, Any] = sizes | {
            "channel_mults": list(mults),
            "dropout": check_dropout(dropout),
        }
        if check_int(n_time_channels, "n_time_channels", minimum=0) % 2:
            raise InvalidArgumentError(
                f"n_time_channels must be an even int >= 0; got {n_time_channels!r}"
            )
        if n_time_channels:
            self.config["n_time_channels"] = int(n_time_channels)
        self.n_neurons = n_neurons
        self.code_dim = code_dim
        self.n_levels = len(mults)
        self.n_time_channels = n_time_channels

        self.step_embed = StepEmbedding(step_dim)
        self.code_embed = nn.Sequential(
            nn.Linear(code_dim, code_embed_dim),
            nn.SiLU(),
            nn.Linear(code_embed_dim, code_embed_dim),
        )
        block_kw = {"cond_dim": step_dim + code_embed_dim, "groups": groups, "dropout": dropout}
        self.in_conv = nn.Conv1d(n_neurons + n_time_channels, channels, kernel_size=3, padding=1)
        self._build_unet([channels * m for m in mults], n_res_blocks, block_kw)
        self.out_norm = group_norm(channels, groups)
        self.out_conv = nn.Conv1d(channels, n_neurons, kernel_size=3, padding=1)

    def _build_unet(self, widths: list[int], n_blocks: int, block_kw: dict[str, Any]) -> None:
        """Create the down path, the middle and the up path for level widths ``widths``."""
        self.down_stacks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        c_in = widths[0]
        for level, width in enumerate(widths):
            self.down_stacks.append(_ResStack(c_in, width, n_blocks, **block_kw))
            if level < len(widths) - 1:
                self.downsamples.append(Downsample1d(width))
            c_in = width
        self.middle = _ResStack(c_in, c_in, 2, **block_kw)
        # Built deepest level first; the level's skip is concatenated to its input.
        self.up_stacks = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for level in reversed(range(len(widths))):
            width = widths[level]
            self.up_stacks.append(_ResStack(c_in + width, width, n_blocks, **block_kw))
            if level > 0:
                self.upsamples.append(Upsample1d(width))
            c_in = width

    @property
    def time_multiple(self) -> int:
        """The U-Net works on lengths that are multiples of this; other T are padded."""
        return 2 ** (self.n_levels - 1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """The denoiser's output for ``x_t`` (a noise or v prediction, as the scheduler reads it).

        Parameters
        ----------
        x_t : torch.Tensor, shape (B, T, N)
            Noisy activity at step ``t``; any ``T >= 1``.
        t : torch.Tensor, shape (B,)
            Integer diffusion step indices.
        code : torch.Tensor, shape (B, code_dim)
            Per-trial codes.

        Returns
        -------
        torch.Tensor, shape (B, T, N)
            The prediction, exactly as long as ``x_t``.
        """
        self._check_inputs(x_t, t, code)
        n_time = x_t.shape[1]
        cond = torch.cat([self.step_embed(t), self.code_embed(code)], dim=1)  # (B, cond_dim)

        h = x_t.transpose(1, 2)  # (B, N, T)
        if self.n_time_channels:
            h = torch.cat([h, relative_time_channels(x_t, self.n_time_channels)], dim=1)
        pad = -n_time % self.time_multiple
        if pad:
            # Edge replication rather than zeros: no artificial step at the end of the trial.
            h = F.pad(h, (0, pad), mode="replicate")  # (B, N, T_pad)
        h = self._unet(self.in_conv(h), cond)  # (B, C, T_pad)
        out = self.out_conv(F.silu(self.out_norm(h)))  # (B, N, T_pad)
        return out[:, :, :n_time].transpose(1, 2)  # (B, T, N)

    def _unet(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Down path, middle, up path with skips; ``(B, C, T_pad) -> (B, C, T_pad)``."""
        skips = []
        for level, stack in enumerate(self.down_stacks):
            h = stack(h, cond)  # (B, C_level, T_level)
            skips.append(h)
            if level < len(self.downsamples):
                h = self.downsamples[level](h)  # (B, C_level, T_level / 2)
        h = self.middle(h, cond)
        for i, stack in enumerate(self.up_stacks):
            h = stack(torch.cat([h, skips.pop()], dim=1), cond)  # (B, C_level, T_level)
            if i < len(self.upsamples):
                h = self.upsamples[i](h)  # (B, C_level, 2 T_level)
        return h

    def _check_inputs(self, x_t: object, t: object, code: object) -> None:
        """Raise ``ValueError``/``TypeError`` naming the first malformed argument."""
        check_activity(x_t, "x_t", self.n_neurons)
        n_batch = x_t.shape[0]
        if not isinstance(t, torch.Tensor):
            raise InvalidArgumentError(
                f"t must be a torch.Tensor of shape (B,); got {type(t).__name__}"
            )
        if t.ndim != 1 or t.shape[0] != n_batch:
            raise InvalidArgumentError(
                f"t must have shape (B,) = ({n_batch},) to match x_t; got shape {tuple(t.shape)}"
            )
        if not isinstance(code, torch.Tensor):
            raise InvalidArgumentError(
                f"code must be a torch.Tensor of shape (B, code_dim); got {type(code).__name__}"
            )
        if code.ndim != 2 or code.shape[1] != self.code_dim:
            raise InvalidArgumentError(
                f"code must have shape (B, code_dim) with code_dim = {self.code_dim}; "
                f"got shape {tuple(code.shape)}"
            )
        if code.shape[0] != n_batch:
            raise InvalidArgumentError(
                f"code must have one row per trial of x_t (B = {n_batch}); got {code.shape[0]} rows"
            )
