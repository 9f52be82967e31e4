"""Training-quality test of LFADS on the toy dataset (minutes; run with ``pytest -m slow``).

Measured with the settings below on the 2-core CPU machine (one torch thread, which is faster
than two for these small recurrent networks), on the 100 validation trials:

* inferred rates vs ``truth``: pooled R^2 = 0.874 (threshold 0.75); for scale, the smoothed
  spikes (``activity``) score -1.15 and the true per-condition mean rates 0.52;
* 0.0995 bits/spike over each neuron's mean rate (threshold 0.05);
* ridge code -> variable, fitted on training trials, R^2 on validation trials: target_x 0.941,
  target_y 0.912, start_x 0.925, start_y 0.917 (threshold 0.8 each);
* fit: 135 s for 250 epochs of 360 trials (12 batches of 32 + validation on 40 trials each);
  the whole test about 2.5 min.

The thresholds leave a margin for floating-point differences between machines: a
mathematically equivalent change of summation order moved the rates R^2 by about 0.015.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import gammaln

from neurognocchi import LFADS
from neurognocchi.data import make_toy_dataset
from neurognocchi.evaluation.metrics import code_regression_r2, pooled_r2

pytestmark = pytest.mark.slow

VARIABLES = ("target_x", "target_y", "start_x", "start_y")
SETTINGS = dict(
    code_dim=16,
    max_epochs=250,
    batch_size=32,
    learning_rate=1e-2,
    kl_warmup_steps=300,
    l2_warmup_steps=300,
    random_state=0,
    device="cpu",
    verbose=False,
)
R2_THRESHOLD = 0.75
BPS_THRESHOLD = 0.05
CODE_THRESHOLDS = dict.fromkeys(VARIABLES, 0.8)


def poisson_log_likelihood(rate_per_bin: np.ndarray, spikes: np.ndarray) -> float:
    return float((spikes * np.log(rate_per_bin) - rate_per_bin - gammaln(spikes + 1)).sum())


def bits_per_spike(rate_per_bin: np.ndarray, spikes: np.ndarray) -> float:
    """Log-likelihood gain over each neuron's mean rate on the same trials, in bits per spike
    (the Neural Latents Benchmark convention)."""
    null = np.broadcast_to(spikes.mean(axis=(0, 1)), spikes.shape)
    gain = poisson_log_likelihood(rate_per_bin, spikes) - poisson_log_likelihood(null, spikes)
    return gain / (spikes.sum() * np.log(2.0))


@pytest.fixture(scope="module")
def fitted():
    trials = make_toy_dataset(500, random_state=0)
    train, valid = trials.split((0.8, 0.2), random_state=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small recurrent nets: one thread is faster than two
    try:
        model = LFADS(**SETTINGS).fit(train)
    finally:
        torch.set_num_threads(threads)
    return model, train, valid


def test_inferred_rates_match_the_truth(fitted):
    model, _, valid = fitted
    rates = model.reconstruct(valid)  # spikes/s, like valid.truth
    assert pooled_r2(rates, valid.truth) > R2_THRESHOLD
    assert bits_per_spike(rates * valid.bin_size_s, valid.spikes) > BPS_THRESHOLD


def test_codes_recover_the_trial_variables(fitted):
    model, train, valid = fitted
    train_codes, valid_codes = model.encode(train), model.encode(valid)
    for name in VARIABLES:
        r2 = code_regression_r2(train_codes, train.info(name), valid_codes, valid.info(name))
        assert r2 > CODE_THRESHOLDS[name], name
