"""Metrics of the evaluation protocol (DESIGN §7), each a plain function of arrays."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def _check_same_shape(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim < 2:
        raise ValueError(
            f"pred and truth must have one shape (..., n_neurons); got {pred.shape}, {truth.shape}"
        )
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(truth))):
        raise ValueError("pred and truth must be finite (found NaN or inf)")
    return pred.reshape(-1, pred.shape[-1]), truth.reshape(-1, truth.shape[-1])


def pooled_r2(pred, truth) -> float:
    """R^2 pooled over neurons: ``1 - SSE / SST`` with SST about each neuron's own mean.

    Arrays have shape ``(..., n_neurons)`` (e.g. trials x time x neurons). NaN when the truth
    is constant for every neuron (SST = 0).
    """
    pred, truth = _check_same_shape(pred, truth)
    sst = ((truth - truth.mean(axis=0)) ** 2).sum()
    return float("nan") if sst == 0 else float(1.0 - ((pred - truth) ** 2).sum() / sst)


def per_neuron_r2(pred, truth) -> np.ndarray:
    """R^2 of each neuron, shape (n_neurons,); NaN for a neuron whose truth is constant."""
    pred, truth = _check_same_shape(pred, truth)
    sst = ((truth - truth.mean(axis=0)) ** 2).sum(axis=0)
    sse = ((pred - truth) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)


def code_regression_r2(train_codes, train_values, test_codes, test_values) -> float:
    """R^2 on test trials of a ridge regression code -> value fitted on training trials.

    The ridge penalty is chosen by leave-one-out cross-validation on the training trials only.
    """
    model = RidgeCV(alphas=RIDGE_ALPHAS).fit(np.asarray(train_codes), np.asarray(train_values))
    return float(model.score(np.asarray(test_codes), np.asarray(test_values)))


def sample_statistics(generated, real) -> dict[str, float]:
    """How well generated trials match real ones in first and second moments.

    ``generated`` and ``real`` have shape (n_trials, n_time, n_neurons), any trial counts.
    Returns the mean absolute error over neurons of the per-neuron mean and s.d. (over trials
    and time), each also relative to the real values' average, and the RMSE between the
    neurons' pairwise correlation matrices (off-diagonal entries).
    """
    generated = np.asarray(generated, dtype=np.float64)
    real = np.asarray(real, dtype=np.float64)
    if generated.ndim != 3 or real.ndim != 3 or generated.shape[2] != real.shape[2]:
        raise ValueError(
            f"generated and real must be (n_trials, n_time, n_neurons) with equal n_neurons; "
            f"got {generated.shape}, {real.shape}"
        )
    gen_flat, real_flat = generated.reshape(-1, generated.shape[2]), real.reshape(-1, real.shape[2])
    mean_error = np.abs(gen_flat.mean(0) - real_flat.mean(0)).mean()
    sd_error = np.abs(gen_flat.std(0) - real_flat.std(0)).mean()
    return {
        "mean_abs_error": float(mean_error),
        "mean_rel_error": _ratio(mean_error, np.abs(real_flat.mean(0)).mean()),
        "sd_abs_error": float(sd_error),
        "sd_rel_error": _ratio(sd_error, real_flat.std(0).mean()),
        "corr_rmse": correlation_rmse(gen_flat, real_flat),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


def correlation_rmse(generated, real) -> float:
    """RMSE between the off-diagonal pairwise correlations of two (n_samples, n_neurons) arrays.

    Pairs involving a constant neuron (undefined correlation) are left out; NaN when no pair
    is left (e.g. a single neuron).
    """
    n_neurons = real.shape[1]
    if n_neurons < 2:
        return float("nan")
    off_diagonal = ~np.eye(n_neurons, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr_gen = np.corrcoef(generated, rowvar=False)[off_diagonal]
        corr_real = np.corrcoef(real, rowvar=False)[off_diagonal]
    valid = np.isfinite(corr_gen) & np.isfinite(corr_real)
    if not valid.any():
        return float("nan")
    return float(np.sqrt(np.mean((corr_gen[valid] - corr_real[valid]) ** 2)))
