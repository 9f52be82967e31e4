"""K real trials per condition for the single-trial floor (issue 16, item 5a)."""

from __future__ import annotations

import numpy as np
import pytest

from neurognocchi.evaluation import resample_trials

POOLS = [np.arange(10, 18), np.arange(20, 26), np.arange(30, 35)]


def test_draws_k_distinct_trials_of_each_condition():
    for common in (True, False):
        draws = resample_trials(POOLS, 5, random_state=0, common=common)
        assert draws.shape == (3, 5) and draws.dtype == np.int64
        for pool, row in zip(POOLS, draws, strict=True):
            assert set(row) <= set(pool) and len(set(row)) == 5
        np.testing.assert_array_equal(
            draws,
            resample_trials(POOLS, 5, random_state=0, common=common),  # reproducible
        )
    assert not np.array_equal(draws, resample_trials(POOLS, 5, random_state=1, common=False))


def test_common_random_numbers_same_trials_same_draw_independent_of_others():
    draws = resample_trials([POOLS[0], POOLS[1], POOLS[0]], 3, random_state=4)
    np.testing.assert_array_equal(draws[0], draws[2])  # one real condition, two steps
    alone = resample_trials([POOLS[1]], 3, random_state=4)
    np.testing.assert_array_equal(alone[0], draws[1])  # adding conditions changes nothing


def test_every_trial_is_equally_likely():
    counts = np.zeros(4)
    for seed in range(4000):
        counts[resample_trials([np.arange(4)], 1, random_state=seed)[0, 0]] += 1
    np.testing.assert_allclose(counts / 4000, 0.25, atol=0.03)


def test_small_conditions_need_replacement():
    with pytest.raises(ValueError, match=r"at least 6 trials .*\(2, 5\)"):
        resample_trials(POOLS, 6, random_state=0)
    draws = resample_trials(POOLS, 12, random_state=0, replace=True)
    assert draws.shape == (3, 12) and set(draws[2]) <= set(POOLS[2])
    with pytest.raises(ValueError, match="at least 1 trials"):
        resample_trials([POOLS[0], []], 2, random_state=0, replace=True)


def test_resample_trials_bad_input():
    with pytest.raises(ValueError, match="at least one condition"):
        resample_trials([], 2, random_state=0)
    with pytest.raises(ValueError, match=r"indices_by_condition\[1\] must be a 1-D array"):
        resample_trials([POOLS[0], [0.5, 1.5]], 1, random_state=0)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        resample_trials(POOLS, 0, random_state=0)
    with pytest.raises(ValueError, match="random_state must be an int or None"):
        resample_trials(POOLS, 1, random_state=0.5)
