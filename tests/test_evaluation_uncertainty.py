"""Mean ± s.d. over seeds (issue 16, item 8): ddof 1, counts, NaN handling, formatting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurognocchi.evaluation import format_mean_sd, mean_and_sd


def test_mean_and_sd_of_seeds():
    assert mean_and_sd([1.0, 2.0, 3.0, 6.0]) == (3.0, pytest.approx(math.sqrt(14 / 3)), 4)
    mean, sd, n = mean_and_sd([2.5])
    assert (mean, n) == (2.5, 1) and math.isnan(sd)  # one seed: no s.d.


def test_mean_and_sd_along_an_axis():
    values = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 16.0]])  # (n_seeds, n_metrics)
    mean, sd, n = mean_and_sd(values)
    np.testing.assert_allclose(mean, [3.0, 12.0])
    np.testing.assert_allclose(sd, [2.0, math.sqrt(12.0)])
    np.testing.assert_array_equal(n, [3, 3])
    by_row = mean_and_sd(values, axis=-1)
    np.testing.assert_allclose(by_row.mean, [5.5, 6.5, 10.5])
    np.testing.assert_allclose(by_row.sd, [9 / math.sqrt(2), 7 / math.sqrt(2), 11 / math.sqrt(2)])


def test_nan_propagates_unless_ignored():
    values = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 8.0]])
    assert math.isnan(mean_and_sd(values).mean[1])
    mean, sd, n = mean_and_sd(values, ignore_nan=True)
    np.testing.assert_allclose(mean, [3.0, 6.0])
    np.testing.assert_allclose(sd, [2.0, math.sqrt(8.0)])
    np.testing.assert_array_equal(n, [3, 2])
    lone = mean_and_sd([np.nan, 2.0], ignore_nan=True)
    assert (lone.mean, lone.n) == (2.0, 1) and math.isnan(lone.sd)


def test_mean_and_sd_bad_input():
    with pytest.raises(ValueError, match="at least one axis"):
        mean_and_sd(3.0)
    with pytest.raises(ValueError, match="no repetition"):
        mean_and_sd(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="axis must be"):
        mean_and_sd(np.zeros((2, 2)), axis=2)
    with pytest.raises(ValueError, match="values must hold real numbers"):
        mean_and_sd(["a", "b"])


def test_format_mean_sd():
    assert format_mean_sd(0.7412, 0.0513, 5) == "0.74 ± 0.05 (n=5)"
    assert format_mean_sd(*mean_and_sd([1.0, 2.0, 3.0]), digits=1) == "2.0 ± 1.0 (n=3)"
    assert format_mean_sd(*mean_and_sd([1.25])) == "1.25 ± n/a (n=1)"
    assert format_mean_sd(np.float32(2.0), 0.5) == "2.00 ± 0.50"
    with pytest.raises(ValueError, match="sd must be >= 0"):
        format_mean_sd(1.0, -0.1)
    with pytest.raises(ValueError, match="digits"):
        format_mean_sd(1.0, 0.1, digits=-1)
