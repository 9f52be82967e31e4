"""Smoothing comparison (paper Fig. 5): GNOCCHI fed Gaussian-smoothed spikes vs LFADS-inferred
rates, scored by how well its codes predict the targets of held-out conditions.

Protocol: LFADS (when used) and GNOCCHI are fitted on held-in-condition trials only; trials of
held-out conditions are only encoded. A ridge regression code -> (target_x, target_y) is fitted
on the held-in trials' codes and applied to the held-out trials' codes (DESIGN §7.2).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import RidgeCV

from neurognocchi._checks import InvalidArgumentError, check_choice
from neurognocchi.data.preprocess import gaussian_smooth
from neurognocchi.data.trials import Trials
from neurognocchi.estimators import GNOCCHI, LFADS
from neurognocchi.evaluation.metrics import RIDGE_ALPHAS

SMOOTHERS = ("gaussian", "lfads")


def smoothed_inputs(
    trials: Trials,
    smooth: str = "gaussian",
    *,
    fit_mask=None,
    sigma_s: float = 0.04,
    lfads_params: dict | None = None,
    random_state: int = 0,
) -> tuple[Trials, LFADS | None]:
    """``trials`` with ``activity`` replaced by the rates GNOCCHI should see.

    Parameters
    ----------
    trials : Trials with ``spikes`` and ``bin_size_s``.
    smooth : {"gaussian", "lfads"}
        ``"gaussian"``: spikes smoothed with an acausal Gaussian of s.d. ``sigma_s`` (Hz).
        ``"lfads"``: rates (Hz) inferred by an LFADS model fitted to the spikes of the trials
        in ``fit_mask`` (all trials when None) and applied to every trial.
    lfads_params : dict, optional
        Keyword arguments of :class:`LFADS` (``random_state`` defaults to ``random_state``).

    Returns
    -------
    (Trials, LFADS or None): the new trials and the fitted LFADS model (None for Gaussian).
    """
    check_choice(smooth, "smooth", SMOOTHERS)
    if trials.spikes is None or trials.bin_size_s is None:
        raise InvalidArgumentError("smoothed_inputs needs trials with spikes and bin_size_s")
    if smooth == "gaussian":
        rates = gaussian_smooth(trials.spikes, sigma_s=sigma_s, bin_size_s=trials.bin_size_s)
        return trials.replace(activity=rates / trials.bin_size_s), None
    fit_trials = trials if fit_mask is None else trials[np.asarray(fit_mask, dtype=bool)]
    params = {"random_state": random_state, "verbose": False} | (lfads_params or {})
    lfads = LFADS(**(params | {"likelihood": "poisson"})).fit(fit_trials)
    return trials.replace(activity=lfads.reconstruct(trials)), lfads


def _targets(trials: Trials) -> np.ndarray:
    return np.stack([trials.info("target_x"), trials.info("target_y")], axis=1)


def grid_spacing_of(targets: np.ndarray) -> float:
    """Smallest positive distance between distinct target coordinates (the grid spacing).

    Examples
    --------
    >>> grid_spacing_of(np.array([[-3.0, 0.0], [0.0, 0.0], [3.0, 6.0]]))
    3.0
    """
    steps = [np.diff(np.unique(np.round(targets[:, axis], 9))) for axis in range(2)]
    steps = np.concatenate(steps)
    return float(steps[steps > 0].min()) if np.any(steps > 0) else float("nan")


def heldout_target_prediction(train_codes, train_targets, test_codes, test_targets) -> dict:
    """Ridge code -> target (penalty by leave-one-out on the training codes) applied to test
    codes: mean Euclidean error, the same in grid spacings (of the training targets) and R²."""
    train_targets, test_targets = np.asarray(train_targets), np.asarray(test_targets)
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(np.asarray(train_codes), train_targets)
    error = np.linalg.norm(ridge.predict(np.asarray(test_codes)) - test_targets, axis=1)
    spacing = grid_spacing_of(np.concatenate([train_targets, test_targets]))
    return {
        "mean_error": float(error.mean()),
        "mean_error_grid": float(error.mean() / spacing),
        "r2": float(ridge.score(np.asarray(test_codes), test_targets)),
    }


def compare_smoothing(
    trials: Trials,
    *,
    smooth: tuple[str, ...] = SMOOTHERS,
    sigma_s: float = 0.04,
    gnocchi_params: dict | None = None,
    lfads_params: dict | None = None,
    random_state: int = 0,
) -> dict:
    """Fit GNOCCHI on held-in trials prepared each way in ``smooth``; score held-out targets.

    ``trials`` needs ``spikes``, ``bin_size_s``, ``target_x``, ``target_y`` and a boolean
    ``heldout`` column in ``trial_info`` (e.g. the toy or reaching datasets).

    Returns
    -------
    dict (JSON-able): per smoother ``{"mean_error", "mean_error_grid", "r2",
    "gnocchi_fit_seconds", "lfads_fit_seconds"}`` plus ``n_heldin`` and ``n_heldout``.
    """
    heldout = trials.info("heldout").astype(bool)
    if heldout.all() or not heldout.any():
        raise InvalidArgumentError(
            f"trials need held-in and held-out trials; {heldout.sum()} of "
            f"{len(heldout)} are held out"
        )
    result: dict = {"n_heldin": int((~heldout).sum()), "n_heldout": int(heldout.sum())}
    for name in smooth:
        start = time.perf_counter()
        prepared, lfads = smoothed_inputs(
            trials,
            name,
            fit_mask=~heldout,
            sigma_s=sigma_s,
            lfads_params=lfads_params,
            random_state=random_state,
        )
        lfads_seconds = time.perf_counter() - start if lfads is not None else 0.0
        held_in, held_out = prepared[~heldout], prepared[heldout]
        params = {"random_state": random_state, "verbose": False} | (gnocchi_params or {})
        model = GNOCCHI(**params).fit(held_in)
        scores = heldout_target_prediction(
            model.encode(held_in), _targets(held_in), model.encode(held_out), _targets(held_out)
        )
        result[name] = scores | {
            "gnocchi_fit_seconds": float(model.fit_seconds_),
            "lfads_fit_seconds": float(lfads_seconds),
        }
    return result
