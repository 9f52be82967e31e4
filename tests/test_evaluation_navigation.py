"""Latent navigation (DESIGN §7.5-6): directions, cosines, navigated codes, unintended movement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurognocchi.evaluation import (
    direction_cosines,
    navigated_codes,
    navigation_directions,
    unintended_movement,
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
