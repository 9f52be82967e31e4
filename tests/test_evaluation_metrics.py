"""Evaluation metrics (DESIGN §7): R^2, code regression and sample statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurognocchi._checks import as_finite
from neurognocchi.evaluation import (
    code_regression_r2,
    code_snr,
    condition_snr,
    per_neuron_r2,
    poisson_counts,
    pooled_r2,
    sample_statistics,
    target_prediction,
)
from neurognocchi.evaluation.metrics import infer_grid_spacing, to_db

TRUTH = np.array([[0.0, 0.0], [2.0, 4.0]])  # (samples, neurons)
PRED = np.array([[1.0, 1.0], [1.0, 3.0]])


# ---------------------------------------------------------------------- R^2
def test_r2_hand_computed_example():
    # residuals all +-1: SSE 2 per neuron; SST 2 (neuron 0) and 8 (neuron 1)
    assert pooled_r2(PRED, TRUTH) == pytest.approx(1 - 4 / 10)
    np.testing.assert_allclose(per_neuron_r2(PRED, TRUTH), [0.0, 0.75])


def test_r2_of_perfect_prediction_is_one():
    truth = np.random.default_rng(0).normal(size=(4, 5, 3))
    assert pooled_r2(truth, truth) == 1.0
    np.testing.assert_array_equal(per_neuron_r2(truth, truth), np.ones(3))


def test_r2_of_per_neuron_mean_is_zero():
    truth = np.random.default_rng(1).normal(loc=[0.0, 5.0, -3.0], size=(4, 5, 3))
    mean = np.broadcast_to(truth.reshape(-1, 3).mean(0), truth.shape)
    assert pooled_r2(mean, truth) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(per_neuron_r2(mean, truth), 0.0, atol=1e-12)
    # a worse-than-mean prediction is negative
    assert pooled_r2(mean + 1.0, truth) < 0


def test_r2_uses_each_neurons_own_mean():
    # Neurons with very different offsets: a pooled mean would inflate SST.
    truth = np.array([[0.0, 100.0], [1.0, 101.0]])
    pred = np.array([[0.5, 100.5], [0.5, 100.5]])
    assert pooled_r2(pred, truth) == pytest.approx(0.0)


def test_r2_of_constant_truth_is_nan():
    truth = np.full((3, 4, 2), 2.0)
    assert math.isnan(pooled_r2(truth + 1, truth))
    truth[:, :, 1] = np.arange(12).reshape(3, 4)
    r2 = per_neuron_r2(truth, truth)
    assert math.isnan(r2[0]) and r2[1] == 1.0
    assert pooled_r2(truth, truth) == 1.0  # SST > 0 over the pool


@pytest.mark.parametrize("metric", [pooled_r2, per_neuron_r2])
def test_r2_rejects_shape_mismatch_and_rank(metric):
    with pytest.raises(ValueError, match="shape"):
        metric(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="shape"):
        metric(np.zeros(3), np.zeros(3))


@pytest.mark.parametrize("metric", [pooled_r2, per_neuron_r2])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_r2_rejects_non_finite_values(metric, bad):
    x = np.ones((3, 2))
    y = x.copy()
    y[1, 1] = bad
    with pytest.raises(ValueError, match="finite"):
        metric(x, y)
    with pytest.raises(ValueError, match="finite"):
        metric(y, x)


# ---------------------------------------------------------------------- code regression
def test_code_regression_r2_near_one_for_linear_relation():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(80, 4))
    values = codes @ np.array([1.0, -2.0, 0.5, 0.0]) + 3.0
    assert code_regression_r2(codes[:60], values[:60], codes[60:], values[60:]) > 0.99


def test_code_regression_r2_near_or_below_zero_for_noise():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(100, 4))
    values = rng.normal(size=100)
    r2 = code_regression_r2(codes[:70], values[:70], codes[70:], values[70:])
    assert r2 < 0.1


def test_code_regression_r2_accepts_lists():
    codes = [[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]]
    values = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert code_regression_r2(codes, values, codes, values) > 0.99


# ---------------------------------------------------------------------- sample statistics
def _real(seed: int = 0, n_neurons: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 5.0 + rng.normal(size=(6, 10, n_neurons))  # positive means


def test_sample_statistics_of_identical_data_are_zero():
    real = _real()
    stats = sample_statistics(real, real)
    assert set(stats) == {
        "mean_abs_error",
        "mean_rel_error",
        "sd_abs_error",
        "sd_rel_error",
        "corr_rmse",
    }
    for key, value in stats.items():
        assert value == pytest.approx(0.0, abs=1e-12), key


def test_sample_statistics_of_shifted_data_report_the_shift():
    real = _real()
    stats = sample_statistics(real + 2.0, real)
    assert stats["mean_abs_error"] == pytest.approx(2.0)
    real_means = real.reshape(-1, 3).mean(0)
    assert stats["mean_rel_error"] == pytest.approx(2.0 / np.abs(real_means).mean())
    assert stats["sd_abs_error"] == pytest.approx(0.0, abs=1e-12)
    assert stats["corr_rmse"] == pytest.approx(0.0, abs=1e-12)


def test_sample_statistics_of_scaled_data_report_the_sd_error():
    real = _real()
    centred = real - real.mean(axis=(0, 1))
    stats = sample_statistics(2.0 * centred + real.mean(axis=(0, 1)), real)
    sd = real.reshape(-1, 3).std(0)
    assert stats["sd_abs_error"] == pytest.approx(sd.mean())
    assert stats["sd_rel_error"] == pytest.approx(1.0)
    assert stats["mean_abs_error"] == pytest.approx(0.0, abs=1e-12)


def test_sample_statistics_correlation_rmse_by_hand():
    x = np.random.default_rng(2).normal(size=(4, 5, 1))
    real = np.concatenate([x, x, -x], axis=2) + 10.0  # correlations (0,1)=1, (0,2)=(1,2)=-1
    generated = np.concatenate([x, x, x], axis=2) + 10.0  # all correlations 1
    # off-diagonal differences: 0, 0, 2, 2, 2, 2 -> RMSE sqrt(16 / 6)
    stats = sample_statistics(generated, real)
    assert stats["corr_rmse"] == pytest.approx(math.sqrt(16 / 6))


def test_sample_statistics_accepts_different_trial_counts():
    stats = sample_statistics(_real(1)[:2], _real(2))
    assert all(np.isfinite(value) for value in stats.values())


@pytest.mark.parametrize(
    "generated, real",
    [
        (np.zeros((10, 3)), np.zeros((2, 10, 3))),
        (np.zeros((2, 10, 3)), np.zeros((2, 10, 3, 1))),
        (np.zeros((2, 10, 3)), np.zeros((2, 10, 4))),
    ],
    ids=["2-d", "4-d", "neurons"],
)
def test_sample_statistics_rejects_wrong_rank_or_neurons(generated, real):
    with pytest.raises(ValueError, match="n_neurons"):
        sample_statistics(generated, real)


def test_sample_statistics_of_a_single_neuron():
    real = _real(n_neurons=1)
    stats = sample_statistics(real + 1.0, real)
    assert stats["mean_abs_error"] == pytest.approx(1.0)
    assert stats["sd_abs_error"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(stats["corr_rmse"]) or stats["corr_rmse"] == 0.0  # no neuron pairs


# ---------------------------------------------------------------------- input checks
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_as_finite_names_the_argument(bad):
    with pytest.raises(ValueError, match="codes must be finite"):
        as_finite([[0.0, bad]], "codes", 2)
    with pytest.raises(ValueError, match="codes must have rank 2"):
        as_finite([0.0, 1.0], "codes", 2)
    with pytest.raises(ValueError, match="codes is empty"):
        as_finite(np.zeros((0, 2)), "codes", 2)


# ---------------------------------------------------------------------- code SNR (§7.1)
def test_condition_snr_hand_computed():
    # condition a: 0, 2 (mean 1, var 1); condition b: 4, 8 (mean 6, var 4)
    # var of means = 6.25; mean within-condition var = 2.5 -> SNR 2.5
    projection = [0.0, 2.0, 4.0, 8.0]
    assert condition_snr(projection, ["a", "a", "b", "b"]) == pytest.approx(2.5)
    assert to_db(2.5) == pytest.approx(10 * math.log10(2.5))


def test_condition_snr_degenerate_cases():
    assert math.isnan(condition_snr([1.0, 2.0, 3.0], [0, 0, 0]))  # one condition
    assert math.isnan(condition_snr([1.0, 1.0, 1.0, 1.0], [0, 0, 1, 1]))  # constant
    assert condition_snr([1.0, 1.0, 2.0, 2.0], [0, 0, 1, 1]) == math.inf  # no noise
    assert to_db(0.0) == -math.inf and math.isnan(to_db(float("nan")))
    with pytest.raises(ValueError, match="projection must be finite"):
        condition_snr([1.0, np.nan], [0, 1])
    with pytest.raises(ValueError, match="length"):
        condition_snr([1.0, 2.0], [0, 1, 1])


def test_code_snr_uses_the_ridge_direction():
    # Code dimension 0 carries the variable (+ noise), dimension 1 is pure noise ten times
    # larger: the SNR of the regression direction is close to that of dimension 0 alone.
    rng = np.random.default_rng(0)
    conditions = np.repeat(np.arange(5), 40)
    values = conditions.astype(float)
    codes = np.column_stack([values + 0.5 * rng.normal(size=200), 10 * rng.normal(size=200)])
    along_signal = condition_snr(codes[:, 0], conditions)
    assert code_snr(codes, values, conditions) == pytest.approx(along_signal, rel=0.05)
    assert condition_snr(codes[:, 1], conditions) < 0.1 * along_signal


def test_code_snr_is_nan_for_a_constant_variable_and_checks_input():
    codes = np.random.default_rng(1).normal(size=(20, 3))
    assert math.isnan(code_snr(codes, np.ones(20), np.arange(20) % 4))
    with pytest.raises(ValueError, match="values must be finite"):
        code_snr(codes, np.full(20, np.nan), np.arange(20) % 4)
    with pytest.raises(ValueError, match="length"):
        code_snr(codes, np.ones(19), np.arange(19) % 4)


# ---------------------------------------------------------------------- held-out targets (§7.2)
def test_infer_grid_spacing():
    assert infer_grid_spacing([-2.0, 0.0, 2.0, 2.0], [-2.0, -2.0, 0.0, 2.0]) == 2.0
    assert math.isnan(infer_grid_spacing([1.0, 1.0], [1.0, 1.0]))


def test_target_prediction_of_an_exact_linear_code():
    rng = np.random.default_rng(0)
    targets = rng.uniform(-4, 4, size=(60, 2))
    codes = targets @ np.array([[1.0, 0.5, 0.0], [0.0, 2.0, -1.0]])  # (60, 3), full column rank
    result = target_prediction(codes[:40], targets[:40], codes[40:], targets[40:], grid_spacing=2.0)
    assert result["mean_error"] < 0.01
    assert result["mean_error_grid"] == pytest.approx(result["mean_error"] / 2.0)
    assert result["r2"] > 0.999
    assert result["predicted"].shape == (20, 2) and result["errors"].shape == (20,)


def test_target_prediction_hand_computed_error_and_one_condition():
    # Codes carry no information: the prediction is the training mean, (0, 0).
    train_codes = np.zeros((4, 1))
    train_targets = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
    test_targets = np.array([[3.0, 4.0], [3.0, 4.0]])  # one held-out condition
    result = target_prediction(train_codes, train_targets, np.zeros((2, 1)), test_targets)
    assert result["mean_error"] == pytest.approx(5.0)
    assert math.isnan(result["r2"])  # constant test targets
    assert math.isnan(result["mean_error_grid"])  # no grid spacing given


# ---------------------------------------------------------------------- Poisson samples (§7.7)
def test_poisson_counts_clip_negative_rates_and_scale_by_bin_size():
    rates = np.zeros((2, 3, 4))
    rates[0] = -5.0  # negative rates are silent
    assert poisson_counts(rates, bin_size_s=0.01).sum() == 0
    big = np.full((20, 50, 2), 100.0)
    counts = poisson_counts(big, bin_size_s=0.02, random_state=3)
    assert counts.mean() == pytest.approx(2.0, rel=0.05)
    np.testing.assert_array_equal(counts, poisson_counts(big, bin_size_s=0.02, random_state=3))
    assert poisson_counts(np.full((1, 1, 1), 7.0), bin_size_s=None).dtype.kind == "i"
    with pytest.raises(ValueError, match="rates must be finite"):
        poisson_counts(np.full((1, 1, 1), np.nan), bin_size_s=0.01)


def test_sample_statistics_of_constant_activity():
    real = np.full((3, 4, 2), 5.0)
    stats = sample_statistics(real + 1.0, real)
    assert stats["mean_abs_error"] == pytest.approx(1.0)
    assert math.isnan(stats["sd_rel_error"])  # real s.d. is 0
    assert math.isnan(stats["corr_rmse"])  # correlations undefined
