"""Tiny models and data shared by the tests of neurognocchi.training (not a test module)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neurognocchi.data.stats import neuron_statistics
from neurognocchi.models import GnocchiConfig, GnocchiModel

GNOCCHI_CONFIG = GnocchiConfig(
    n_neurons=6,
    n_time=12,
    code_dim=3,
    channels=8,
    channel_mults=(1, 2),
    encoder_dim=8,
    n_train_steps=50,
)


def toy_arrays(n: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (2.0 + rng.normal(size=(n, 12, 6))).astype(np.float32)  # (n_trials, T, N)


def gnocchi_model(data: np.ndarray) -> GnocchiModel:
    torch.manual_seed(0)
    model = GnocchiModel(GNOCCHI_CONFIG)
    model.set_statistics(neuron_statistics(data))
    return model


class Quadratic(nn.Module):
    """loss = sum((w - mean(batch))^2): training pulls w towards the mean of the data.

    In eval mode (validation), it records a copy of w, so tests can see each epoch's weights.
    """

    def __init__(self, nan_from_step: int | None = None):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))
        self.nan_from_step = nan_from_step
        self.seen_in_eval: list[torch.Tensor] = []

    def loss(self, batch, *, generator=None, step=0):
        if not self.training:
            self.seen_in_eval.append(self.w.detach().clone())
        loss = (self.w - batch.mean()).pow(2).sum()
        if self.nan_from_step is not None and step >= self.nan_from_step:
            loss = loss * float("nan")
        return {"loss": loss, "w0": self.w[0].detach()}


def constant_data(value: float, n: int = 8) -> np.ndarray:
    return np.full((n, 1, 1), value, dtype=np.float32)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
