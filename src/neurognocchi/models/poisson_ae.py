"""The Poisson autoencoder of latent GNOCCHI: spike counts -> smooth per-time latents -> rates.

After LDNS (Kapoor et al., NeurIPS 2024): a non-causal convolutional encoder maps a trial's
counts ``(T, N)`` to latents ``z`` of shape ``(T, D)``; a linear read-out gives each bin's log
rates, ``log r_t = W z_t + b``. Training minimises

* the Poisson negative log-likelihood of the counts, scored with **coordinated dropout**
  (Keshtkaran & Pandarinath 2019): a random share of the entries is hidden from the encoder and
  only the hidden entries are scored, so the network cannot copy a bin's count to its rate;
* plus ``smooth_weight`` times the mean squared step of the latents between bins, so that the
  latents, and the rates they make, are smooth in time.

The columns of ``W`` are normalised to unit length, so the latents cannot shrink (to cheat the
smoothness penalty) while ``W`` grows. Neurons in ``heldout_neurons`` (co-smoothing) are never
shown to the encoder (their input is 0) and always scored. Rates are in **counts per bin**. The
model never sees a noise schedule; GNOCCHI's diffusion model works on its latents
(:mod:`neurognocchi.models.latent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from neurognocchi.models.config import PoissonAutoencoderConfig
from neurognocchi.models.heldout import input_keep
from neurognocchi.models.lfads import coordinated_dropout_mask
from neurognocchi.models.likelihoods import poisson_nll
from neurognocchi.nn import NeuronScaler
from neurognocchi.nn.blocks import group_norm

__all__ = ["PoissonAutoencoder", "PoissonAutoencoderConfig"]


class _ResidualConv(nn.Module):
    """``x + conv(silu(norm(x)))`` on (B, C, T), centred, with the given dilation."""

    def __init__(self, channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.norm = group_norm(channels, 8)
        padding = dilation * (kernel_size // 2)  # "same" length for an odd kernel
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=padding, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(nn.functional.silu(self.norm(x)))


class PoissonAutoencoder(nn.Module):
    """Counts (B, T, N) -> latents (B, T, D) -> log rates per bin (B, T, N).

    Parameters
    ----------
    config : PoissonAutoencoderConfig
    """

    def __init__(self, config: PoissonAutoencoderConfig):
        super().__init__()
        self.config = config
        c = config
        self.scaler = NeuronScaler(c.n_neurons)  # z-scores the counts the encoder reads
        self.encoder = nn.Sequential(
            nn.Conv1d(c.n_neurons, c.channels, c.kernel_size, padding=c.kernel_size // 2),
            *[_ResidualConv(c.channels, c.kernel_size, 2**i) for i in range(c.n_layers)],
            nn.SiLU(),
            nn.Conv1d(c.channels, c.latent_dim, 1),
        )
        self.readout = nn.Linear(c.latent_dim, c.n_neurons)
        # 0 at the held-out neurons (co-smoothing), which the encoder never sees
        self.register_buffer(
            "input_keep", input_keep(c.n_neurons, c.heldout_neurons), persistent=False
        )

    @torch.no_grad()
    def set_statistics(self, stats: Mapping[str, Any]) -> None:
        """Per-neuron statistics of the training counts (``neuron_statistics``): the encoder's
        z-scoring, and the read-out bias at the log of each neuron's mean count (floored at
        1e-3), so that training starts from the mean-rate model."""
        self.scaler.load_statistics(stats)
        mean = torch.as_tensor(stats["mean"], dtype=torch.float64)
        self.readout.bias.copy_(mean.clamp_min(1e-3).log().float())

    def _encode(self, counts: torch.Tensor) -> torch.Tensor:
        if self.config.heldout_neurons:  # never seen: their input is always 0
            counts = counts * self.input_keep
        z = self.encoder(self.scaler(counts).transpose(1, 2))  # (B, D, T)
        return z.transpose(1, 2)  # (B, T, D)

    def latents(self, counts: torch.Tensor) -> torch.Tensor:
        """Latents (B, T, D) of counts (B, T, N), nothing hidden but the held-out neurons."""
        return self._encode(counts)

    def log_rates(self, z: torch.Tensor) -> torch.Tensor:
        """Log of the expected count per bin (B, T, N) of latents z (B, T, D)."""
        weight = self.readout.weight  # (N, D)
        weight = weight / weight.norm(dim=0, keepdim=True).clamp_min(1e-8)  # unit columns
        return z @ weight.T + self.readout.bias

    def rates(self, z: torch.Tensor) -> torch.Tensor:
        """Expected counts per bin (B, T, N) of latents z (B, T, D)."""
        return torch.exp(self.log_rates(z))

    def reconstruct(self, counts: torch.Tensor) -> torch.Tensor:
        """Rates per bin (B, T, N) the autoencoder infers from counts (B, T, N)."""
        return self.rates(self.latents(counts))

    def loss(
        self, counts: torch.Tensor, *, generator: torch.Generator | None = None, step: int = 0
    ):
        """Training loss for counts (B, T, N): ``{"loss", "poisson_nll", "smoothness"}``.

        In training mode a share ``coordinated_dropout`` of the entries is hidden from the
        encoder (the rest scaled up to keep the input's mean) and only those are scored; in
        evaluation mode (the validation loss) every entry is seen and scored.
        """
        del step  # the loss does not change during training
        rate = self.config.coordinated_dropout if self.training else 0.0
        scored = torch.ones_like(counts, dtype=torch.bool)
        seen = counts
        if rate > 0:
            keep = coordinated_dropout_mask(tuple(counts.shape), rate, generator=generator)
            keep = keep.to(counts.device)
            seen, scored = counts * keep / (1.0 - rate), ~keep
            if self.config.heldout_neurons:  # never seen, so always scored
                scored = scored | (self.input_keep == 0)
        z = self._encode(seen)  # (B, T, D)
        nll = poisson_nll(self.log_rates(z), counts)  # (B, T, N)
        nll = (nll * scored).sum() / scored.sum().clamp_min(1)
        smoothness = (z[:, 1:] - z[:, :-1]).pow(2).mean() if z.shape[1] > 1 else z.sum() * 0
        total = nll + self.config.smooth_weight * smoothness
        return {"loss": total, "poisson_nll": nll, "smoothness": smoothness}
