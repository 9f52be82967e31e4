"""Tests of neurognocchi.nn.scaler (the per-neuron normaliser)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurognocchi.data.stats import neuron_statistics
from neurognocchi.nn import NeuronScaler


def data(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (3.0 + 2.0 * rng.normal(size=(20, 6, 4))).astype(np.float32)  # (n_trials, T, N)


def test_starts_as_the_identity():
    scaler = NeuronScaler(4)
    x = torch.randn(2, 6, 4)
    assert torch.equal(scaler(x), x) and torch.equal(scaler.inverse(x), x)


def test_loaded_statistics_z_score_each_neuron_and_invert():
    x = data()
    scaler = NeuronScaler(4)
    scaler.load_statistics(neuron_statistics(x))
    flat = x.reshape(-1, 4).astype(np.float64)
    torch.testing.assert_close(scaler.mean, torch.from_numpy(flat.mean(0)).float())
    torch.testing.assert_close(scaler.std, torch.from_numpy(flat.std(0, ddof=1)).float())
    z = scaler(torch.from_numpy(x))
    torch.testing.assert_close(z.reshape(-1, 4).mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaler.inverse(z), torch.from_numpy(x))


def test_silent_neuron_gets_unit_std_and_extremes_use_it():
    x = data()
    x[:, :, 1] = 7.0
    stats = neuron_statistics(x)
    scaler = NeuronScaler(4)
    scaler.load_statistics(stats)
    assert scaler.std[1] == 1.0 and scaler.mean[1] == 7.0
    extreme = NeuronScaler.max_abs_normalized(stats)  # (N,) float64
    assert extreme.dtype == torch.float64 and extreme[1] == 0.0
    z = scaler(torch.from_numpy(x)).abs().amax(dim=(0, 1)).double()
    torch.testing.assert_close(extreme, z, rtol=1e-5, atol=0)


def test_buffers_travel_in_the_state_dict():
    scaler = NeuronScaler(3)
    assert list(scaler.state_dict()) == ["mean", "std"]


@pytest.mark.parametrize("bad", [0, 2.5, True])
def test_bad_n_neurons(bad):
    with pytest.raises(ValueError, match="n_neurons"):
        NeuronScaler(bad)
