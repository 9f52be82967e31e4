"""Deterministic auxiliary encoder: a whole trial ``(B, T, N)`` to a code ``(B, code_dim)``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neurognocchi._checks import (
    InvalidArgumentError,
    check_activity,
    check_choice,
    check_int,
    check_positive_int,
)
from neurognocchi.nn.blocks import group_norm
from neurognocchi.nn.embeddings import relative_time_channels

__all__ = ["ConvTrialEncoder", "GRUTrialEncoder"]


class ConvTrialEncoder(nn.Module):
    """1-D convolutional trial encoder with mean-and-max pooling over time.

    The input gets ``n_position_channels`` extra channels, ``sin(pi k tau)`` and
    ``cos(pi k tau)`` of the relative time ``tau = (t + 0.5) / T`` (k = 1, 2, ...), so that
    features pooled over time still know *when* in the trial they occurred; in trial-aligned
    data the timing of activity carries much of the information about the trial. Then
    ``n_layers`` blocks of ``Conv1d -> GroupNorm -> SiLU``; the first keeps the time resolution,
    the others use stride 2 (kernel ``kernel_size``, padding ``kernel_size // 2``), which gives
    ``ceil(T / 2)`` bins and so works down to ``T = 1`` while every input bin stays inside some
    receptive field. The mean and the max over time are concatenated (so the code sees the whole
    trial) and a two-layer MLP maps them to the code; or, with ``pooling="flatten"`` (the
    InfoDiffusion encoder's head), every channel at every remaining time bin goes to the MLP,
    which then needs a fixed ``n_time``. No dropout or sampling: the same input always gives
    the same code.

    Parameters
    ----------
    n_neurons : int
        Number of neurons N (input channels).
    code_dim : int
        Size L of the code.
    channels : int, default 64
        Width of every convolution.
    n_layers : int, default 3
        Number of convolutional blocks.
    kernel_size : int, default 5
        Odd kernel size >= 3 of the convolutions.
    groups : int, default 8
        Maximum number of GroupNorm groups.
    n_position_channels : int, default 8
        Even number of relative-time channels appended to the input (0 for none).
    pooling : {"mean_max", "flatten"}, default "mean_max"
        How the last convolution's output becomes the MLP's input.
    n_time : int, optional
        The trials' length T; needed (and then enforced) by ``pooling="flatten"``.

    Attributes
    ----------
    config : dict
        JSON-able constructor arguments; ``ConvTrialEncoder(**enc.config)`` rebuilds the network.
    """

    def __init__(
        self,
        n_neurons: int,
        *,
        code_dim: int,
        channels: int = 64,
        n_layers: int = 3,
        kernel_size: int = 5,
        groups: int = 8,
        n_position_channels: int = 8,
        pooling: str = "mean_max",
        n_time: int | None = None,
    ) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            name: check_positive_int(value, name)
            for name, value in [
                ("n_neurons", n_neurons),
                ("code_dim", code_dim),
                ("channels", channels),
                ("n_layers", n_layers),
                ("kernel_size", kernel_size),
                ("groups", groups),
            ]
        }
        if kernel_size < 3 or kernel_size % 2 == 0:
            # Stride 2 with a kernel of 1 would skip every other bin.
            raise InvalidArgumentError(f"kernel_size must be an odd int >= 3; got {kernel_size}")
        check_int(n_position_channels, "n_position_channels", minimum=0)
        if n_position_channels % 2:
            raise InvalidArgumentError(
                f"n_position_channels must be an even int >= 0; got {n_position_channels!r}"
            )
        self.config["n_position_channels"] = int(n_position_channels)
        self.pooling = check_choice(pooling, "pooling", ("mean_max", "flatten"))
        if pooling == "flatten":
            self.config |= {"pooling": pooling, "n_time": check_positive_int(n_time, "n_time")}
        self.n_time = n_time
        self.n_neurons = n_neurons
        self.code_dim = code_dim
        self.n_position_channels = n_position_channels

        layers: list[nn.Module] = []
        for i in range(n_layers):
            layers += [
                nn.Conv1d(
                    n_neurons + n_position_channels if i == 0 else channels,
                    channels,
                    kernel_size=kernel_size,
                    stride=1 if i == 0 else 2,
                    padding=kernel_size // 2,
                ),
                group_norm(channels, groups),
                nn.SiLU(),
            ]
        self.convs = nn.Sequential(*layers)
        n_features = 2 * channels if pooling == "mean_max" else channels * self._n_bins(n_layers)
        self.to_code = nn.Sequential(
            nn.Linear(n_features, channels), nn.SiLU(), nn.Linear(channels, code_dim)
        )

    def _n_bins(self, n_layers: int) -> int:
        """Time bins left after the convolutions: each stride-2 one gives ceil(T / 2)."""
        n_bins = self.n_time
        for _ in range(n_layers - 1):
            n_bins = (n_bins + 1) // 2
        return n_bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode whole trials.

        Parameters
        ----------
        x : torch.Tensor, shape (B, T, N)
            Trials; any ``T >= 1``.

        Returns
        -------
        torch.Tensor, shape (B, code_dim)
            One code per trial.
        """
        check_activity(x, "x", self.n_neurons)
        positions = relative_time_channels(x, self.n_position_channels)  # (B, P, T)
        h = torch.cat([x.transpose(1, 2), positions], dim=1)  # (B, N + P, T)
        h = self.convs(h)  # (B, C, T')
        if self.pooling == "flatten":
            if x.shape[1] != self.n_time:
                raise InvalidArgumentError(
                    f"x has {x.shape[1]} time bins; this encoder flattens {self.n_time}"
                )
            return self.to_code(h.flatten(1))  # (B, C T') -> (B, code_dim)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)  # (B, 2 C)
        return self.to_code(pooled)  # (B, code_dim)


class GRUTrialEncoder(nn.Module):
    """Bidirectional-GRU trial encoder: the final forward and backward states -> MLP -> code.

    The forward GRU ends having read the whole trial from its start, the backward GRU from its
    end, so the code can depend on every bin and on its timing. Deterministic.

    Parameters
    ----------
    n_neurons : int
        Number of neurons N (input size).
    code_dim : int
        Size L of the code.
    hidden : int, default 64
        Hidden size of each direction.

    Attributes
    ----------
    config : dict
        JSON-able constructor arguments; ``GRUTrialEncoder(**enc.config)`` rebuilds the network.
    """

    def __init__(self, n_neurons: int, *, code_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            name: check_positive_int(value, name)
            for name, value in [
                ("n_neurons", n_neurons),
                ("code_dim", code_dim),
                ("hidden", hidden),
            ]
        }
        self.n_neurons = n_neurons
        self.code_dim = code_dim
        self.gru = nn.GRU(n_neurons, hidden, batch_first=True, bidirectional=True)
        self.to_code = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, code_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode whole trials x (B, T, N) -> codes (B, code_dim); any ``T >= 1``."""
        check_activity(x, "x", self.n_neurons)
        _, final = self.gru(x)  # (2, B, H): forward and backward final states
        return self.to_code(torch.cat([final[0], final[1]], dim=1))  # (B, code_dim)
