"""Metrics of the evaluation protocol (DESIGN §7), each a plain function of arrays."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

from neurognocchi._checks import InvalidArgumentError, as_finite

RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def _check_same_shape(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim < 2:
        raise InvalidArgumentError(
            f"pred and truth must have one shape (..., n_neurons); got {pred.shape}, {truth.shape}"
        )
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(truth))):
        raise InvalidArgumentError("pred and truth must be finite (found NaN or inf)")
    return pred.reshape(-1, pred.shape[-1]), truth.reshape(-1, truth.shape[-1])


def pooled_r2(pred, truth) -> float:
    """R^2 pooled over neurons: ``1 - SSE / SST`` with SST about each neuron's own mean.

    Arrays have shape ``(..., n_neurons)`` (e.g. trials x time x neurons). NaN when the truth
    is constant for every neuron (SST = 0).

    Examples
    --------
    >>> truth = np.array([[0.0, 0.0], [2.0, 4.0]])  # (samples, neurons)
    >>> pooled_r2(np.array([[1.0, 1.0], [1.0, 3.0]]), truth)  # 1 - 4 / 10
    0.6
    """
    pred, truth = _check_same_shape(pred, truth)
    if not np.ptp(truth, axis=0).any():  # exact test: the mean of equal floats may round
        return float("nan")
    sst = ((truth - truth.mean(axis=0)) ** 2).sum()
    return float(1.0 - ((pred - truth) ** 2).sum() / sst)


def per_neuron_r2(pred, truth) -> np.ndarray:
    """R^2 of each neuron, shape (n_neurons,); NaN for a neuron whose truth is constant.

    Examples
    --------
    >>> truth = np.array([[0.0, 0.0], [2.0, 4.0]])
    >>> per_neuron_r2(np.array([[1.0, 1.0], [1.0, 3.0]]), truth)
    array([0.  , 0.75])
    """
    pred, truth = _check_same_shape(pred, truth)
    varies = np.ptp(truth, axis=0) > 0
    sst = np.where(varies, ((truth - truth.mean(axis=0)) ** 2).sum(axis=0), 1.0)
    sse = ((pred - truth) ** 2).sum(axis=0)
    return np.where(varies, 1.0 - sse / sst, np.nan)


def condition_means(activity, labels, conditions) -> np.ndarray:
    """Mean over the trials of each condition: ``(n_conditions, ...)`` for ``activity``
    ``(n_trials, ...)``, ``labels`` (n_trials,) and the ``conditions`` in output order.

    Examples
    --------
    >>> condition_means(np.array([1.0, 3.0, 10.0]), np.array([0, 0, 1]), [1, 0]).tolist()
    [10.0, 2.0]
    """
    activity, labels = np.asarray(activity), np.asarray(labels)
    return np.stack([activity[labels == condition].mean(axis=0) for condition in conditions])


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
        raise InvalidArgumentError(
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


# ---------------------------------------------------------------------- input checks
def check_lengths(**arrays) -> None:
    """Raise InvalidArgumentError unless every array (keyword name -> array) has one length
    per trial.

    Examples
    --------
    >>> check_lengths(codes=np.zeros((3, 2)), values=np.zeros(3))
    >>> check_lengths(codes=np.zeros((3, 2)), values=np.zeros(4))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    neurognocchi._checks.errors.InvalidArgumentError: ... got lengths {'codes': 3, 'values': 4}
    """
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidArgumentError(f"arrays must have one length per trial; got lengths {lengths}")


# ---------------------------------------------------------------------- code SNR (§7.1)
def condition_snr(projection, conditions) -> float:
    """Signal-to-noise ratio of a 1-D projection across conditions.

    ``SNR = var_c(m_c) / mean_c(var_i(p_i | c))``: the variance across conditions of the
    condition means ``m_c`` divided by the mean over conditions of the within-condition
    variance (both population variances, ddof 0; every condition weighs the same).

    Returns NaN with fewer than two conditions or when the projection is constant, and inf
    when every condition is constant but the means differ.

    Examples
    --------
    >>> condition_snr([0.0, 2.0, 10.0, 12.0], ["a", "a", "b", "b"])  # 25 / 1
    25.0
    """
    projection = as_finite(projection, "projection", 1)
    conditions = np.asarray(conditions)
    check_lengths(projection=projection, conditions=conditions)
    labels, inverse = np.unique(conditions, return_inverse=True)
    if len(labels) < 2 or np.ptp(projection) == 0:
        return float("nan")
    counts = np.bincount(inverse).astype(np.float64)
    means = np.bincount(inverse, weights=projection) / counts
    within = np.bincount(inverse, weights=(projection - means[inverse]) ** 2) / counts
    # Exact tests of constancy: the mean of equal floats may round, leaving ~1e-33 variances.
    highest, lowest = np.full(len(labels), -np.inf), np.full(len(labels), np.inf)
    np.maximum.at(highest, inverse, projection)
    np.minimum.at(lowest, inverse, projection)
    within[highest == lowest] = 0.0
    signal, noise = float(means.var()), float(within.mean())
    if noise == 0:
        return float("inf") if signal > 0 else float("nan")
    return signal / noise


def code_snr(codes, values, conditions) -> float:
    """Code SNR of one variable (DESIGN §7.1).

    A ridge regression code -> value (penalty by leave-one-out CV) gives a weight vector
    ``w``; the codes are projected on ``w / |w|`` and :func:`condition_snr` of the projection
    across ``conditions`` is returned. NaN when ``w = 0`` (e.g. a constant variable).

    Parameters
    ----------
    codes : array (n_trials, code_dim)
    values : array (n_trials,)
    conditions : array (n_trials,) of condition labels (e.g. grid targets)
    """
    codes, values = as_finite(codes, "codes", 2), as_finite(values, "values", 1)
    check_lengths(codes=codes, values=values, conditions=np.asarray(conditions))
    weights = RidgeCV(alphas=RIDGE_ALPHAS).fit(codes, values).coef_
    norm = np.linalg.norm(weights)
    if norm == 0:
        return float("nan")
    return condition_snr(codes @ (weights / norm), conditions)


def to_db(ratio: float) -> float:
    """``10 log10(ratio)``; NaN for NaN, -inf for 0, inf for inf.

    Examples
    --------
    >>> to_db(100.0), to_db(0.0)
    (20.0, -inf)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(10.0 * np.log10(ratio))


# ---------------------------------------------------------------------- held-out targets (§7.2)
def infer_grid_spacing(target_x, target_y) -> float:
    """Smallest positive difference between distinct target coordinates (NaN if none).

    Examples
    --------
    >>> infer_grid_spacing([-2.0, 0.0, 2.0, 2.0], [1.0, 1.0, 4.0, 4.0])
    2.0
    """
    gaps = [np.diff(np.unique(np.asarray(axis, dtype=np.float64))) for axis in (target_x, target_y)]
    gaps = np.concatenate(gaps)
    gaps = gaps[gaps > 1e-9]
    return float(gaps.min()) if gaps.size else float("nan")


def target_prediction(
    train_codes, train_targets, test_codes, test_targets, *, grid_spacing: float = float("nan")
) -> dict:
    """Targets of test trials predicted from codes by a ridge fitted on training trials.

    Returns ``predicted`` (n_test, n_targets), per-trial Euclidean ``errors`` (n_test,),
    their mean ``mean_error`` (data units) and ``mean_error_grid`` (divided by
    ``grid_spacing``), and ``r2`` = :func:`pooled_r2` of predicted vs true targets (NaN when
    the test targets are all equal, e.g. one held-out condition).
    """
    train_codes = as_finite(train_codes, "train_codes", 2)
    test_codes = as_finite(test_codes, "test_codes", 2)
    train_targets = as_finite(train_targets, "train_targets", 2)
    test_targets = as_finite(test_targets, "test_targets", 2)
    check_lengths(train_codes=train_codes, train_targets=train_targets)
    check_lengths(test_codes=test_codes, test_targets=test_targets)
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(train_codes, train_targets)
    predicted = ridge.predict(test_codes)
    errors = np.linalg.norm(predicted - test_targets, axis=1)
    return {
        "predicted": predicted,
        "errors": errors,
        "mean_error": float(errors.mean()),
        "mean_error_grid": _ratio(float(errors.mean()), grid_spacing),
        "r2": pooled_r2(predicted, test_targets),
    }


# ---------------------------------------------------------------------- spikes (§7.7)
def poisson_counts(rates, *, bin_size_s: float | None, random_state: int = 0) -> np.ndarray:
    """Poisson counts with mean ``max(rates, 0) * bin_size_s`` (rates per bin when None)."""
    rates = as_finite(rates, "rates", 3)
    scale = 1.0 if bin_size_s is None else float(bin_size_s)
    return np.random.default_rng(random_state).poisson(np.clip(rates, 0, None) * scale)
