"""NLB bits/spike (issue 16, item 10): hand-computed, null, Poisson oracle, floors, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurognocchi.evaluation import bits_per_spike
from neurognocchi.evaluation.spikes import RATE_FLOOR


def test_bits_per_spike_hand_computed():
    spikes = np.array([2, 0]).reshape(1, 2, 1)  # null rate = mean count = 1
    rates = np.array([2.0, 0.5]).reshape(1, 2, 1)
    expected = (2 * math.log(2) - 1 + 0.5) / (2 * math.log(2))
    assert bits_per_spike(rates, spikes) == pytest.approx(expected, rel=1e-12)


def test_rates_equal_to_the_null_score_zero():
    rng = np.random.default_rng(0)
    spikes = rng.poisson(0.7, size=(6, 5, 4))
    null = np.broadcast_to(spikes.mean(axis=(0, 1)), spikes.shape)
    assert bits_per_spike(null, spikes) == 0.0
    psth = spikes.mean(axis=0)  # a given null of shape (n_time, n_neurons)
    assert bits_per_spike(np.broadcast_to(psth, spikes.shape), spikes, null_rates=psth) == 0.0
    assert bits_per_spike(null, spikes, null_rates=psth) < 0  # the PSTH null is the better one


def _poisson_data(rng, shape=(400, 50, 10)):
    time_profile = np.exp(1.5 * np.sin(np.linspace(0, 3, shape[1])))[None, :, None]
    neuron_gain = rng.uniform(0.05, 0.6, size=shape[2])[None, None, :]
    rates = time_profile * neuron_gain * rng.lognormal(0.0, 0.5, size=(shape[0], 1, 1))
    return rates, rng.poisson(rates)


def test_true_poisson_rates_score_the_analytic_expectation():
    rates, spikes = _poisson_data(np.random.default_rng(1))
    null = rates.mean(axis=(0, 1))
    # E[sum y log(r / r0) - (r - r0)] / (E[sum y] ln 2) with y ~ Poisson(r); the sampling
    # s.d. of the score is about 0.6 % here (30 seeds), so the tolerances are > 8 s.d.
    expected = (rates * np.log(rates / null) - (rates - null)).sum() / (rates.sum() * math.log(2))
    assert expected > 0.2
    assert bits_per_spike(rates, spikes, null_rates=null) == pytest.approx(expected, rel=0.05)
    assert bits_per_spike(rates, spikes) == pytest.approx(expected, rel=0.06)  # empirical null
    assert bits_per_spike(rates * 3.0, spikes) < bits_per_spike(rates, spikes)


def test_zero_rate_where_a_spike_occurred_is_floored_not_minus_inf():
    spikes = np.array([1, 0, 1, 2]).reshape(1, 4, 1)
    rates = np.array([0.0, 0.5, 1.0, 2.0]).reshape(1, 4, 1)
    score = bits_per_spike(rates, spikes)
    assert math.isfinite(score) and score < -3  # log(1e-9) = -20.7 for one of 4 spikes
    floored = rates.copy()
    floored[0, 0, 0] = RATE_FLOOR
    assert score == bits_per_spike(floored, spikes)
    tiny = rates.copy()
    tiny[0, 0, 0] = 1e-15  # below the floor too
    assert score == bits_per_spike(tiny, spikes)
    null = 1.0  # = 4 spikes / 4 bins
    gain = 1 * (math.log(RATE_FLOOR) - 0) - (RATE_FLOOR - null)
    gain += -(0.5 - null) + 0.0 + 2 * math.log(2.0) - (2.0 - null)
    assert score == pytest.approx(gain / (4 * math.log(2)), rel=1e-12)


@pytest.mark.parametrize(
    ("rates", "spikes", "kwargs", "message"),
    [
        (-np.ones((1, 2, 1)), np.ones((1, 2, 1)), {}, "rates must be non-negative"),
        (np.ones((1, 2, 1)), np.full((1, 2, 1), 0.5), {}, "spikes must be non-negative integer"),
        (np.ones((1, 2, 1)), -np.ones((1, 2, 1)), {}, "spikes must be non-negative integer"),
        (np.ones((1, 2, 2)), np.ones((1, 2, 1)), {}, "rates must have the shape of spikes"),
        (np.ones((1, 2, 1)), np.zeros((1, 2, 1)), {}, "holds no spike"),
        (np.ones((1, 2, 1)), np.ones((2, 1)), {}, "spikes must have 3 dimensions"),
        (np.full((1, 2, 1), np.nan), np.ones((1, 2, 1)), {}, "rates contains 2 NaN"),
        (np.ones((1, 2, 1)), np.ones((1, 2, 1)), {"null_rates": [-1.0]}, "null_rates must be non"),
        (np.ones((1, 2, 1)), np.ones((1, 2, 1)), {"null_rates": [1.0, 2.0, 3.0]}, "broadcast"),
    ],
)
def test_bits_per_spike_rejects_bad_input(rates, spikes, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bits_per_spike(rates, spikes, **kwargs)
