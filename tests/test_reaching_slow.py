"""Quality of the default reaching dataset made with the shipped policy (about a minute)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kruskal
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

pytest.importorskip("motornet")

from neurognocchi.data import make_reaching_dataset
from neurognocchi.data.reaching.dataset import endpoint_error_cm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trials():
    return make_reaching_dataset(1000, random_state=0)


def _position_r2(trials, features: np.ndarray) -> float:
    """Per-bin ridge decoder features -> hand (x, y): fit on 800 trials, R² on the other 200."""
    position = trials.behavior[..., :2]
    n_fit = 800

    def flat(x):
        return x.reshape(-1, x.shape[-1])

    decoder = Ridge(alpha=1.0).fit(flat(features[:n_fit]), flat(position[:n_fit]))
    return r2_score(flat(position[n_fit:]), decoder.predict(flat(features[n_fit:])))


def test_policy_reaches_every_grid_target(trials):
    error = endpoint_error_cm(trials)  # last 100 ms of each 1.2 s trial
    condition = trials.info("condition")
    per_target = np.array([error[condition == c].mean() for c in np.unique(condition)])
    assert len(per_target) == 25
    assert per_target.mean() < 1.0, per_target
    assert per_target.max() < 2.0, per_target


def test_hand_position_is_decodable(trials):
    assert _position_r2(trials, trials.truth) >= 0.9
    assert _position_r2(trials, trials.activity) >= 0.7


def test_most_neurons_are_tuned_to_target(trials):
    """Kruskal-Wallis test over the 25 targets of spike counts in the 400 ms after go."""
    go_bin = np.round(trials.info("go_time") / trials.bin_size_s).astype(int)
    counts = np.stack([trials.spikes[i, g : g + 40].sum(axis=0) for i, g in enumerate(go_bin)])
    condition = trials.info("condition")
    groups = [counts[condition == c] for c in np.unique(condition)]
    p_values = np.array(
        [kruskal(*[group[:, n] for group in groups]).pvalue for n in range(trials.n_neurons)]
    )
    assert np.mean(p_values < 0.01) >= 0.5


def test_firing_rates_are_realistic(trials):
    mean_rate = trials.truth.mean(axis=(0, 1))
    assert 1.0 < np.median(mean_rate) < 30.0
    assert 20.0 < np.percentile(trials.truth, 99.9) < 90.0
