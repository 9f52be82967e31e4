"""Paired comparisons (issue 16, item 9; the paper's Fig. 4D / 4F): ties, NaN pairs, direction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurognocchi.evaluation import paired_fraction


def test_paired_fraction_counts_ties_half_and_drops_nan_pairs():
    result = paired_fraction([0.9, 0.5, 0.7, np.nan, 0.2], [0.8, 0.6, 0.7, 0.1, np.nan])
    assert result == (pytest.approx(0.5), 3, 2)  # (1 + 0 + 0.5) / 3
    assert paired_fraction([1.0, 1.0], [1.0, 1.0]).fraction == 0.5  # identical models


def test_lower_is_better_for_errors():
    errors_a, errors_b = [1.0, 3.0, 2.0, 0.5], [2.0, 2.0, 2.5, 0.4]
    assert paired_fraction(errors_a, errors_b, higher_is_better=False).fraction == 0.5
    assert paired_fraction(errors_a, errors_b).fraction == 0.5  # here both readings give 2/4
    assert paired_fraction([1.0, 1.0, 1.0], [2.0, 2.0, 0.0], higher_is_better=False) == (
        pytest.approx(2 / 3),
        3,
        0,
    )


def test_paired_fraction_is_complementary_and_handles_infinities():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, size=200).astype(float), rng.integers(0, 4, size=200).astype(float)
    forward, backward = paired_fraction(a, b), paired_fraction(b, a)
    assert forward.fraction + backward.fraction == pytest.approx(1.0)
    expected = ((a > b).sum() + 0.5 * (a == b).sum()) / 200
    assert forward.fraction == pytest.approx(expected)
    assert paired_fraction([-np.inf, 0.5], [0.0, np.inf]).fraction == 0.0  # R2 of -inf loses


def test_paired_fraction_degenerate_and_bad_input():
    nothing = paired_fraction([np.nan, 1.0], [0.0, np.nan])
    assert math.isnan(nothing.fraction) and (nothing.n_pairs, nothing.n_dropped) == (0, 2)
    with pytest.raises(ValueError, match="one value per pair"):
        paired_fraction([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="a must be 1-D"):
        paired_fraction([[1.0]], [[1.0]])
    with pytest.raises(ValueError, match="higher_is_better must be True or False"):
        paired_fraction([1.0], [1.0], higher_is_better=1)
