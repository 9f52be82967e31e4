"""Training-quality tests of GNOCCHI on the toy dataset (marked slow; minutes on 2 cores).

One model is fitted on 80 % of the held-in trials; every number is measured on the other 20 %
(validation trials of held-in conditions), which the model never saw. Numbers measured on a
2-core CPU machine when the thresholds were set are given next to each assertion.
"""

import numpy as np
import pytest

from neurognocchi import GNOCCHI
from neurognocchi.data import make_toy_dataset
from neurognocchi.evaluation import code_regression_r2, pooled_r2, sample_statistics

pytestmark = pytest.mark.slow

VARIABLES = ("target_x", "target_y", "start_x", "start_y")


@pytest.fixture(scope="module")
def fitted():
    trials = make_toy_dataset(500, random_state=0)
    held_in, _ = trials.split_by_condition()
    train, valid = held_in.split((0.8, 0.2), random_state=0)
    # ~340 training trials: the small-data setting, for which the guide advises "mean_max"
    # (the thresholds below were measured with it). With the "flatten" default this fit gives
    # target_x / target_y / start_x R^2 0.921 / 0.920 / 0.896 (seed 0), under the 0.9 bar.
    model = GNOCCHI(
        code_dim=8, max_epochs=300, random_state=0, verbose=False, encoder_pooling="mean_max"
    )  # defaults else
    return model.fit(train), train, valid


# The acceptance bar. Measured (defaults: rec_weight 4, mmd_weight 0.01, codes whitened)
# for target_x, target_y, start_x, start_y: seed 0 (this test) 0.926, 0.909, 0.914, 0.918;
# seed 1 0.925, 0.925, 0.907, 0.909. With mmd_weight 1 (the old default) seed 0 gave 0.915,
# 0.895, 0.831, 0.869: pulling codes towards N(0, I) bent the code -> variable map. For scale, a
# ridge regression from the whole trial's smoothed activity (2500 features, not 8) reaches 0.94,
# 0.94, 0.91, 0.91 on the same split.
CODE_R2_FLOOR = 0.9


def test_codes_recover_trial_variables_on_validation_trials(fitted):
    model, train, valid = fitted
    train_codes, valid_codes = model.encode(train), model.encode(valid)
    for name in VARIABLES:
        r2 = code_regression_r2(train_codes, train.info(name), valid_codes, valid.info(name))
        print(f"code -> {name} R^2 on validation trials: {r2:.3f}")
        assert r2 >= CODE_R2_FLOOR, f"{name}: code -> variable R^2 {r2:.3f} on validation"


def test_generation_from_own_code_beats_shuffled_codes(fitted):
    model, _, valid = fitted
    codes = model.encode(valid)
    own = model.generate(codes, n_samples=8, random_state=0).mean(axis=1)
    shuffled = codes[np.random.default_rng(0).permutation(len(codes))]
    control = model.generate(shuffled, n_samples=8, random_state=0).mean(axis=1)
    r2_own, r2_control = pooled_r2(own, valid.truth), pooled_r2(control, valid.truth)
    # Measured (seed 0): 0.653 with the own code, -0.799 with shuffled codes. (A single trial's
    # smoothed spikes reach -1.11 against its true rates: the data are dominated by Poisson noise.)
    print(f"reconstruction R^2: own code {r2_own:.3f}, shuffled codes {r2_control:.3f}")
    assert r2_own >= 0.5, r2_own
    assert r2_own - r2_control >= 0.5, (r2_own, r2_control)


def test_unconditional_samples_match_data_moments(fitted):
    model, train, valid = fitted
    samples = model.sample_prior(valid.n_trials, random_state=0)
    stats = sample_statistics(samples, valid.activity)
    # Reference: two disjoint sets of real trials of the same size differ by this much.
    reference = sample_statistics(train.activity[: valid.n_trials], valid.activity)
    print(f"prior samples: {stats}; real vs real: {reference}")
    # Measured (seed 0): per-neuron mean error 4.5 % (real vs real 4.0 %), s.d. error 10.3 %
    # (real vs real 4.1 %), correlation RMSE 0.060 (real vs real 0.054).
    assert stats["mean_rel_error"] <= 0.06, stats
    assert stats["sd_rel_error"] <= 0.20, stats
    assert stats["corr_rmse"] <= reference["corr_rmse"] + 0.03, (stats, reference)
