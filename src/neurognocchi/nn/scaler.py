"""Per-neuron normalisation: the one place where data units become model units and back.

Both models see activity in data units and work on it z-scored per neuron, with the mean and
s.d. of the training trials stored as buffers (so they travel with the weights). The statistics
come as a plain mapping (what :func:`neurognocchi.data.stats.neuron_statistics` returns); this
module never reads data itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from neurognocchi._checks import check_positive_int

__all__ = ["MIN_STD", "NeuronScaler"]

#: A neuron whose s.d. is at most this is silent; it gets s.d. 1 (normalising it only shifts).
MIN_STD = 1e-8


def _floored_std(stats: Mapping[str, Any]) -> torch.Tensor:
    """The s.d. (n_neurons,) of ``stats`` in float64, with silent neurons' s.d. set to 1."""
    std = torch.as_tensor(stats["std"], dtype=torch.float64)
    return torch.where(std > MIN_STD, std, torch.ones_like(std))


class NeuronScaler(nn.Module):
    """Z-score each neuron with stored statistics: ``forward`` normalises, ``inverse`` undoes it.

    The buffers start as the identity map (mean 0, s.d. 1) until :meth:`load_statistics`.

    Parameters
    ----------
    n_neurons : int
        Number of neurons N (the last axis of the data).

    Attributes
    ----------
    mean, std : torch.Tensor, float32, shape (N,)
        Buffers (saved in the state dict as ``scaler.mean`` and ``scaler.std``).

    Examples
    --------
    >>> import numpy as np
    >>> scaler = NeuronScaler(2)
    >>> scaler.load_statistics({"mean": np.array([1.0, 5.0]), "std": np.array([2.0, 0.0])})
    >>> x = torch.tensor([[[3.0, 5.0]]])  # (B, T, N)
    >>> scaler(x).tolist()
    [[[1.0, 0.0]]]
    >>> scaler.inverse(scaler(x)).tolist()
    [[[3.0, 5.0]]]
    """

    def __init__(self, n_neurons: int) -> None:
        super().__init__()
        n_neurons = check_positive_int(n_neurons, "n_neurons")
        self.register_buffer("mean", torch.zeros(n_neurons))
        self.register_buffer("std", torch.ones(n_neurons))

    @torch.no_grad()
    def load_statistics(self, stats: Mapping[str, Any]) -> None:
        """Store the per-neuron ``"mean"`` and ``"std"`` of ``stats`` (each (N,), any real dtype).

        Silent neurons (s.d. <= :data:`MIN_STD`) get s.d. 1, so normalising them is the
        identity shift. Values are taken in float64 and stored as float32.
        """
        self.mean.copy_(torch.as_tensor(stats["mean"], dtype=torch.float64).float())
        self.std.copy_(_floored_std(stats).float())

    @staticmethod
    def max_abs_normalized(stats: Mapping[str, Any]) -> torch.Tensor:
        """Per neuron, the largest ``|x - mean| / std`` over the range ``[min, max]`` of ``stats``.

        Computed in float64 with the floored s.d. of :meth:`load_statistics`; returns (N,).
        """
        mean = torch.as_tensor(stats["mean"], dtype=torch.float64)
        low, high = (torch.as_tensor(stats[k], dtype=torch.float64) for k in ("min", "max"))
        return torch.maximum((high - mean).abs(), (low - mean).abs()) / _floored_std(stats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (..., N) in data units: ``(x - mean) / std``."""
        return (x - self.mean) / self.std

    def leading(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (..., n) by the statistics of the first ``n`` channels (a model
        that scales more channels than some of its inputs hold, e.g. activity + behaviour)."""
        n = x.shape[-1]
        return (x - self.mean[:n]) / self.std[:n]

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Back to data units: ``z * std + mean`` for ``z`` (..., N) in normalised units."""
        return z * self.std + self.mean
