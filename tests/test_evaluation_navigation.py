"""Latent navigation (DESIGN §7.5-6): directions, cosines, navigated codes, unintended movement,
bias and spread, intended gain."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurognocchi.evaluation import (
    bias_and_spread,
    direction_cosines,
    intended_gain,
    navigated_codes,
    navigation_directions,
    unintended_movement,
    unintended_per_gain,
)
from neurognocchi.evaluation.navigation import nearest_conditions, traversal_codes


def test_navigation_directions_recover_an_exact_affine_map():
    rng = np.random.default_rng(0)
    variables = rng.normal(size=(50, 4))
    true_a = rng.normal(size=(6, 4))
    codes = variables @ true_a.T + np.arange(6.0)
    directions, offset = navigation_directions(codes, variables)
    np.testing.assert_allclose(directions, true_a, atol=1e-10)
    np.testing.assert_allclose(offset, np.arange(6.0), atol=1e-10)


def test_direction_cosines_hand_computed():
    directions = np.array([[1.0, 0.0, -2.0, 1.0], [0.0, 3.0, 0.0, 1.0]])  # (code_dim 2, 4 vars)
    cosines = direction_cosines(directions)
    assert cosines[0, 1] == pytest.approx(0.0)  # orthogonal
    assert cosines[0, 2] == pytest.approx(1.0)  # antiparallel -> |cos| 1
    assert cosines[0, 3] == pytest.approx(1 / math.sqrt(2))
    np.testing.assert_allclose(np.diag(cosines), 1.0)
    with_zero = direction_cosines(np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert math.isnan(with_zero[0, 1])  # zero direction: undefined


def test_nearest_conditions_include_ties():
    grid = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    np.testing.assert_array_equal(nearest_conditions(grid, np.array([1.0, 1.0])), [0, 1, 2])
    np.testing.assert_array_equal(nearest_conditions(grid, np.array([3.9, 4.0])), [3])


def test_navigated_codes_move_along_the_directions():
    directions = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # (code_dim 3, 2 vars)
    sources = np.zeros((2, 3))
    source_values = np.array([[0.0, 0.0], [2.0, 0.0]])
    moved = navigated_codes(sources, source_values, np.array([1.0, 1.0]), directions)
    # deltas (1, 1) and (-1, 1)
    np.testing.assert_allclose(moved, [[1.0, 2.0, 2.0], [-1.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match="goal_variables must be finite"):
        navigated_codes(sources, source_values, np.array([np.nan, 1.0]), directions)


def test_traversal_codes():
    codes = traversal_codes(np.array([1.0, 1.0]), np.array([0.0, 2.0]), np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_allclose(codes, [[1.0, -1.0], [1.0, 1.0], [1.0, 3.0]])


def test_unintended_movement_hand_computed():
    # Traversing variable 0 over three steps; variables 1 and 2 should stay fixed.
    decoded = np.array(
        [
            [0.0, 1.0, 5.0],
            [1.0, 1.5, 5.0],  # changes 0.5 + 0
            [2.0, 0.0, 6.0],  # changes 1 + 1
        ]
    )
    assert unintended_movement(decoded, 0) == pytest.approx((0.5 + 2.0) / 2)
    # traversing variable 2: fixed are 0 and 1 -> (1 + 0.5 + 2 + 1) / 2
    assert unintended_movement(decoded, 2) == pytest.approx(4.5 / 2)


def test_unintended_movement_of_disentangled_and_degenerate_input():
    decoded = np.column_stack([np.linspace(0, 1, 5), np.full(5, 3.0)])
    assert unintended_movement(decoded, 0) == 0.0
    with pytest.raises(ValueError, match="at least 2 steps"):
        unintended_movement(decoded[:1], 0)
    with pytest.raises(ValueError, match="traversed"):
        unintended_movement(decoded, 2)
    with pytest.raises(ValueError, match="decoded must be finite"):
        unintended_movement(np.full((3, 2), np.nan), 0)


# ---------------------------------------------------------------------- bias, spread, gain
def test_bias_and_spread_known_numbers():
    decoded = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # mean (1, 1)
    bias, spread = bias_and_spread(decoded, np.array([4.0, 5.0]))
    assert bias == pytest.approx(5.0)  # |(-3, -4)|
    assert spread == pytest.approx(math.sqrt(2.0))  # every sample is sqrt(2) from the mean
    assert bias_and_spread(decoded[:1], np.zeros(2)) == (0.0, 0.0)  # one sample: no spread


def test_bias_and_spread_batched_and_the_mean_squared_error_identity():
    rng = np.random.default_rng(0)
    decoded, goals = rng.normal(size=(3, 32, 2)), rng.normal(size=(3, 2))
    batched = bias_and_spread(decoded, goals)
    assert batched.bias.shape == batched.spread.shape == (3,)
    for c in range(3):
        single = bias_and_spread(decoded[c], goals[c])
        assert (batched.bias[c], batched.spread[c]) == pytest.approx(tuple(single), abs=1e-12)
        per_sample_sq = (np.linalg.norm(decoded[c] - goals[c], axis=1) ** 2).mean()
        assert single.bias**2 + single.spread**2 == pytest.approx(per_sample_sq, rel=1e-12)
    with pytest.raises(ValueError, match="goal"):
        bias_and_spread(decoded, goals[0])


def test_intended_gain_exact_constant_half_and_least_squares():
    requested = np.linspace(-2.0, 2.0, 5)
    assert intended_gain(requested + 7.0, requested) == pytest.approx(1.0)
    assert intended_gain(np.full(5, 3.0), requested) == 0.0  # output ignores the code
    assert intended_gain(0.5 * requested, requested) == pytest.approx(0.5)
    assert intended_gain(-requested, requested) == pytest.approx(-1.0)
    # slope through the origin of (1, 1) on (1, 2): (1 * 1 + 1 * 2) / (1 + 4)
    assert intended_gain([0.0, 1.0, 1.0], [0.0, 1.0, 2.0]) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="requested must change"):
        intended_gain([0.0, 1.0], [2.0, 2.0])
    with pytest.raises(ValueError, match="one value per step"):
        intended_gain([0.0, 1.0], [0.0, 1.0, 2.0])


def test_a_model_that_ignores_its_code_is_flagged_not_disentangled():
    decoded = np.tile([1.0, 2.0, 3.0, 4.0], (5, 1))  # (n_steps, n_variables), constant
    unintended = unintended_movement(decoded, 0)
    gain = intended_gain(decoded[:, 0], np.linspace(-1.0, 1.0, 5))
    assert (unintended, gain) == (0.0, 0.0)  # looks perfectly disentangled ...
    assert math.isnan(unintended_per_gain(unintended, gain))  # ... but is flagged


def test_unintended_per_gain():
    assert unintended_per_gain(0.3, 0.75) == pytest.approx(0.4)
    assert unintended_per_gain(0.3, 1.0) == 0.3  # at gain 1 it is the unintended movement
    assert math.isnan(unintended_per_gain(0.3, -0.5))  # moved the wrong way
    assert math.isnan(unintended_per_gain(0.3, 0.05))  # below min_gain = 0.1
    assert unintended_per_gain(0.3, 0.05, min_gain=0.01) == pytest.approx(6.0)
    ratios = unintended_per_gain(np.array([0.2, 0.2]), np.array([0.5, 0.0]))
    np.testing.assert_array_equal(np.isnan(ratios), [False, True])
    assert ratios[0] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="unintended must be non-negative"):
        unintended_per_gain(-0.1, 1.0)
    with pytest.raises(ValueError, match="min_gain"):
        unintended_per_gain(0.1, 1.0, min_gain=0.0)
