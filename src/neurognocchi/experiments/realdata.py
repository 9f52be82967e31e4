"""Real-data experiment: GNOCCHI and LFADS on the DataHigh reaching recording (monkey PMd,
7 reach conditions x 30 trials, 61 neurons; Yu et al. 2009, via the DataHigh toolbox).

Protocol. The trials are split once, stratified by condition, into training trials (both
models are fitted on them) and validation trials (never seen by either model). Reported:

* **code classification**: cross-validated accuracy (stratified k-fold, standardised
  multinomial logistic regression) of the reach condition from the codes: on the validation
  trials' codes only (``accuracy_valid``) and on every trial's codes (``accuracy_all``; the
  encoders saw the training trials, without their labels). The same classifier on the whole
  trial's smoothed activity gives a reference (``activity_baseline``).
* **reconstruction R²** on validation trials against their smoothed activity (pooled over
  neurons): GNOCCHI generates from each trial's own code (mean of ``n_samples`` DDIM samples,
  fixed seed); LFADS runs its generator from the trial's ``g0`` (its posterior-mean rates).
* **PSTH R²**: condition means of those generated validation trials against the condition
  means of the real validation trials. ``psth_r2_ceiling`` is the R² of the training trials'
  condition means against the same target: how well independent real trials do.
"""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurognocchi.data.mat import load_mat
from neurognocchi.data.trials import Trials
from neurognocchi.estimators import GNOCCHI, LFADS
from neurognocchi.evaluation.metrics import pooled_r2

DATAHIGH_FILE = "datahigh_ex1_spikecounts.mat"

# Small enough to fit in about a minute each on one CPU core (147 trials of 20 x 61).
GNOCCHI_PARAMS = dict(code_dim=8, channels=32, max_epochs=200, batch_size=32, rec_weight=4.0)
LFADS_PARAMS = dict(code_dim=8, max_epochs=200)


def classification_accuracy(features, labels, *, n_folds: int = 5, random_state: int = 0) -> float:
    """Mean accuracy of a standardised logistic regression over stratified k folds.

    ``features`` is (n_trials, ...) and is flattened per trial; ``labels`` (n_trials,).
    """
    features = np.asarray(features, dtype=np.float64).reshape(len(labels), -1)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
    return float(cross_val_score(classifier, features, labels, cv=folds).mean())


def condition_means(activity: np.ndarray, labels: np.ndarray, conditions) -> np.ndarray:
    """Mean over the trials of each condition: (n_conditions, n_time, n_neurons)."""
    return np.stack([activity[labels == condition].mean(axis=0) for condition in conditions])


def _score_model(model, generated_valid, trials: Trials, valid: Trials, **folds) -> dict:
    """Classification, reconstruction and PSTH numbers of one fitted model."""
    labels, valid_labels = trials.info("condition"), valid.info("condition")
    conditions = np.unique(labels)
    return {
        "accuracy_valid": classification_accuracy(model.encode(valid), valid_labels, **folds),
        "accuracy_all": classification_accuracy(model.encode(trials), labels, **folds),
        "reconstruction_r2_valid": pooled_r2(generated_valid, valid.activity),
        "psth_r2_valid": pooled_r2(
            condition_means(generated_valid, valid_labels, conditions),
            condition_means(valid.activity, valid_labels, conditions),
        ),
        "fit_seconds": float(model.fit_seconds_),
    }


def run_datahigh_experiment(
    path: str | os.PathLike,
    *,
    bin_size_s: float = 0.02,
    smooth_sigma_s: float = 0.05,
    valid_fraction: float = 0.3,
    gnocchi_params: dict | None = None,
    lfads_params: dict | None = None,
    n_samples: int = 4,
    n_folds: int = 5,
    random_state: int = 0,
) -> dict:
    """Fit GNOCCHI and LFADS on the DataHigh recording at ``path``; return the numbers.

    Parameters
    ----------
    path : the ``.mat`` file (see ``DATAHIGH_FILE``); read with :func:`load_mat`.
    bin_size_s, smooth_sigma_s : float
        Bin width and s.d. of the Gaussian that smooths the counts into ``activity`` (Hz).
    valid_fraction : float
        Fraction of trials (per condition) held back from fitting for validation.
    gnocchi_params, lfads_params : dict, optional
        Estimator settings, merged over ``GNOCCHI_PARAMS`` / ``LFADS_PARAMS``. LFADS fits the
        binned spike counts (Poisson); GNOCCHI fits the smoothed activity.
    n_samples : int
        GNOCCHI samples averaged per code for reconstruction and PSTHs.

    Returns
    -------
    dict, JSON-able: ``data`` (sizes and settings), ``chance``, ``activity_baseline``,
    ``psth_r2_ceiling``, ``gnocchi`` and ``lfads`` (see the module docstring).
    """
    trials = load_mat(path, bin_size_s=bin_size_s, smooth_sigma_s=smooth_sigma_s)
    train, valid = trials.split((1 - valid_fraction, valid_fraction), random_state=random_state)
    labels, conditions = trials.info("condition"), np.unique(trials.info("condition"))
    seed = {"random_state": random_state, "verbose": False}
    start = time.perf_counter()
    gnocchi = GNOCCHI(**(seed | GNOCCHI_PARAMS | (gnocchi_params or {}))).fit(train)
    lfads = LFADS(**(seed | LFADS_PARAMS | (lfads_params or {}))).fit(train)
    generated = gnocchi.generate(gnocchi.encode(valid), n_samples=n_samples,
                                 random_state=random_state).mean(axis=1)  # fmt: skip
    valid_labels = valid.info("condition")
    data = dict(
        n_trials=trials.n_trials, n_train=train.n_trials, n_valid=valid.n_trials,
        n_time=trials.n_time, n_neurons=trials.n_neurons, n_conditions=len(conditions),
        bin_size_s=bin_size_s, smooth_sigma_s=smooth_sigma_s, gnocchi_samples=n_samples,
    )  # fmt: skip
    folds = {"n_folds": n_folds, "random_state": random_state}
    baseline = {
        "accuracy_valid": classification_accuracy(valid.activity, valid_labels, **folds),
        "accuracy_all": classification_accuracy(trials.activity, labels, **folds),
    }
    ceiling = pooled_r2(
        condition_means(train.activity, train.info("condition"), conditions),
        condition_means(valid.activity, valid_labels, conditions),
    )
    return {
        "data": data,
        "chance": float(np.bincount(labels).max() / len(labels)),
        "activity_baseline": baseline,
        "psth_r2_ceiling": ceiling,
        "gnocchi": _score_model(gnocchi, generated, trials, valid, **folds),
        "lfads": _score_model(lfads, lfads.reconstruct(valid), trials, valid, **folds),
        "seconds": time.perf_counter() - start,
    }
