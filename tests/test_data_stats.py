"""`neuron_statistics`: per-neuron moments computed a block of trials at a time."""

from __future__ import annotations

import numpy as np
import pytest

from neurognocchi.data import make_toy_dataset
from neurognocchi.data._lazy import RowSubset
from neurognocchi.data.stats import neuron_statistics


@pytest.fixture(scope="module")
def toy():
    return make_toy_dataset(40, n_neurons=6, n_time=12, random_state=0)


def test_neuron_statistics_match_whole_array_computation(toy):
    stats = neuron_statistics(toy.activity, block_trials=7)
    flat = toy.activity.reshape(-1, toy.n_neurons).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], flat.std(0, ddof=1), rtol=1e-10)
    np.testing.assert_array_equal(stats["min"], flat.min(0))
    np.testing.assert_array_equal(stats["max"], flat.max(0))


def test_neuron_statistics_of_a_row_subset_match_the_rows(toy):
    rows = [1, 4, 7, 9, 30]
    lazy = neuron_statistics(RowSubset(toy.activity, rows), block_trials=2)
    direct = neuron_statistics(toy.activity[rows])
    for key in ("mean", "std", "min", "max"):
        np.testing.assert_allclose(lazy[key], direct[key], rtol=1e-12)
    assert lazy["count"] == direct["count"] == len(rows) * toy.n_time


def test_block_trials_must_be_a_positive_int(toy):
    with pytest.raises(ValueError, match="block_trials"):
        neuron_statistics(toy.activity, block_trials=0)
