"""Behaviour decoders for the augmentation experiment: activity (n, T, N) -> positions (n, T, D).

* ``"ridge"``: one ridge regression over time bins (every bin of every trial pooled, penalty
  by efficient leave-one-out CV), :func:`~neurognocchi.evaluation.behavior.fit_behavior_decoder`;
* ``"gru"``: a small recurrent decoder (a causal GRU of ``GRU_HIDDEN`` units and a linear read-out,
  on activity and positions z-scored by the training set; Adam, mean squared error), as a
  nonlinear decoder that uses each trial's history, seeded for repeatability.

:func:`fit_decoder` returns an object with ``decode(activity) -> positions``; :func:`scores`
gives position R² and endpoint error on test trials.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neurognocchi._checks import check_choice
from neurognocchi.evaluation.behavior import fit_behavior_decoder, start_and_end
from neurognocchi.evaluation.metrics import pooled_r2

__all__ = ["DECODERS", "GruDecoder", "fit_decoder", "scores"]

DECODERS = ("ridge", "gru")
GRU_HIDDEN = 32  # units: enough for 2-D kinematics from ~100 neurons, seconds to fit on a CPU
GRU_EPOCHS = 40
GRU_BATCH = 64
GRU_LEARNING_RATE = 5e-3


class _Gru(nn.Module):
    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.gru = nn.GRU(n_in, GRU_HIDDEN, batch_first=True)
        self.readout = nn.Linear(GRU_HIDDEN, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.gru(x)[0])


class GruDecoder:
    """A fitted causal GRU decoder (see the module docstring); ``decode`` as the ridge's."""

    def __init__(self, network: _Gru, x_stats, y_stats):
        self.network, (self.x_mean, self.x_sd), (self.y_mean, self.y_sd) = network, x_stats, y_stats

    def decode(self, activity) -> np.ndarray:
        x = torch.from_numpy(((np.asarray(activity) - self.x_mean) / self.x_sd).astype(np.float32))
        with torch.no_grad():
            out = self.network.eval()(x).numpy().astype(np.float64)
        return out * self.y_sd + self.y_mean


def _stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = values.reshape(-1, values.shape[-1])
    sd = flat.std(axis=0)
    return flat.mean(axis=0), np.where(sd > 1e-8, sd, 1.0)


def fit_gru(activity, positions, *, random_state: int) -> GruDecoder:
    """Fit :class:`GruDecoder` on activity (n, T, N) and positions (n, T, D)."""
    activity, positions = np.asarray(activity, float), np.asarray(positions, float)
    x_stats, y_stats = _stats(activity), _stats(positions)
    x = torch.from_numpy(((activity - x_stats[0]) / x_stats[1]).astype(np.float32))
    y = torch.from_numpy(((positions - y_stats[0]) / y_stats[1]).astype(np.float32))
    generator = torch.Generator().manual_seed(int(random_state))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(random_state))
        network = _Gru(x.shape[-1], y.shape[-1])
    optimiser = torch.optim.Adam(network.parameters(), lr=GRU_LEARNING_RATE)
    for _ in range(GRU_EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), GRU_BATCH):
            batch = order[start : start + GRU_BATCH]
            loss = (network(x[batch]) - y[batch]).pow(2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return GruDecoder(network, x_stats, y_stats)


def fit_decoder(kind: str, activity, positions, *, random_state: int = 0):
    """A decoder of ``kind`` (one of :data:`DECODERS`) fitted on the given trials."""
    check_choice(kind, "decoder", DECODERS)
    if kind == "ridge":
        return fit_behavior_decoder(activity, positions)
    return fit_gru(activity, positions, random_state=random_state)


def scores(decoder, activity, positions, *, window_bins: int) -> dict[str, float]:
    """``position_r2`` (pooled over the position channels, every bin) and ``endpoint_error``
    (mean distance between the decoded and the real end position, each the mean over the
    last ``window_bins`` bins) of ``decoder`` on test trials."""
    decoded = decoder.decode(activity)
    _, decoded_end = start_and_end(decoded, window_bins)
    _, real_end = start_and_end(positions, window_bins)
    return {
        "position_r2": pooled_r2(decoded, positions),
        "endpoint_error": float(np.linalg.norm(decoded_end - real_end, axis=1).mean()),
    }
