"""Real-data experiment: GNOCCHI, LFADS and PPCA on the DataHigh reaching recording (monkey
PMd, 7 reach conditions x 30 trials, 61 neurons; Yu et al. 2009, via the DataHigh toolbox),
on the fair protocol's terms (issue 16).

Protocol. The trials are split, stratified by condition, into training trials (every model
is fitted on them) and validation trials (never seen by any model); the split, the models'
initialisation and all sampling follow one seed (:func:`run_datahigh_seeds` repeats the run
over seeds). Three models with codes of the same size (8): GNOCCHI, LFADS and PPCA (closed-form
probabilistic PCA of the flattened trial, the linear baseline); optionally LatentGNOCCHI
(``"latent-gnocchi"``, GNOCCHI on a Poisson autoencoder's latents) and CEBRA-Time
(``models=(..., "cebra")``, the ``cebra`` extra), which cannot generate and is scored by
classification only. Reported per model:

* **code classification**: cross-validated accuracy (stratified k-fold, standardised
  multinomial logistic regression) of the reach condition from the codes: on the validation
  trials' codes only (``accuracy_valid``) and on every trial's codes (``accuracy_all``; the
  encoders saw the training trials, without their labels).
* **reconstruction R²** (``reconstruction_r2_valid``), pooled over neurons, of each validation
  trial's *conditional mean of activity* given its own code, against its smoothed activity
  (real data have no ground truth). Every model goes the same way, code -> ``generate`` via
  :func:`~neurognocchi.evaluation.generation.generate_activity`: GNOCCHI and PPCA give the
  mean of K samples (``n_samples``, default 32); LFADS gives the rates generated from its
  code (``generate(encode(valid))``, inferred inputs at their prior mean, *not* the
  posterior-mean rates of ``reconstruct``) passed through the data's own Gaussian smoothing.
* **PSTH R²** (``psth_r2_valid``): condition means of those reconstructions against the
  condition means of the real validation trials.

* **spike statistics** (models that return spikes: ``spikes_cond_*``, ``spikes_prior_*``), the
  matched halves of `evaluate`'s spike section on the validation trials, and **co-smoothing
  bits/spike** (``cosmooth_*``) for a spike model fitted with ``heldout_neurons``.

Reference rows, computed without any model:

* ``activity_baseline``: the same classifier on the whole trial's smoothed activity;
* ``pca_baseline``: the same classifier on the 8-dim PCA (fitted on the training trials'
  flattened smoothed activity) of the validation / all trials;
* ``floors``: real training trials standing in for a model. ``condition_mean_*``: each
  validation trial replaced by the mean of its condition's training trials (reconstruction
  R², and PSTH R², i.e. the PSTH ceiling of independent real trials). ``k_matched_*``: each
  validation trial replaced by the mean of min(K, available) training trials of its condition
  drawn at random (seeded); ``k_matched_n_trials`` is the smallest number averaged;
  ``spikes_*``: the spike statistics' real-vs-real floor (real half A vs real half B).
"""

from __future__ import annotations

import math
import os
import time
from types import SimpleNamespace

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurognocchi._checks import (
    InvalidArgumentError,
    check_choice,
    check_int,
    check_positive_int,
    check_real,
    check_seeds,
)
from neurognocchi.data.mat import load_mat
from neurognocchi.data.trials import Trials
from neurognocchi.estimators import CEBRA, GNOCCHI, LFADS, PPCA, LatentGNOCCHI
from neurognocchi.evaluation.cosmoothing import cosmoothing_section, cosmoothing_summary
from neurognocchi.evaluation.generation import Smoothing, generate_activity, output_kind
from neurognocchi.evaluation.metrics import condition_means, pooled_r2
from neurognocchi.evaluation.spike_section import spike_floors, spike_section, spike_summary
from neurognocchi.evaluation.uncertainty import mean_and_sd

__all__ = [
    "DATAHIGH_FILE",
    "classification_accuracy",
    "condition_means",
    "pca_baseline",
    "real_data_floors",
    "run_datahigh_experiment",
    "run_datahigh_seeds",
    "summarise_seeds",
]

DATAHIGH_FILE = "datahigh_ex1_spikecounts.mat"

# Small enough to fit in about a minute each on one CPU core (147 trials of 20 x 61).
# DDIM-50 as when docs/results.md's DataHigh tables were measured (the default is UniPC-10).
GNOCCHI_PARAMS = dict(
    code_dim=8,
    channels=32,
    max_epochs=200,
    batch_size=32,
    rec_weight=4.0,
    sampler="ddim",
    n_sample_steps=50,
)
LFADS_PARAMS = dict(code_dim=8, max_epochs=200)
LATENT_PARAMS = dict(GNOCCHI_PARAMS, latent_dim=8, ae_epochs=300)
PPCA_PARAMS = dict(code_dim=8)
CEBRA_PARAMS = dict(code_dim=8)  # CEBRA-Time: no behaviour is recorded in this file
N_SAMPLES = 32  # K: samples per code, and real trials per K-matched floor
MODELS = ("gnocchi", "lfads", "ppca")  # the default models; "cebra" (extra) may be added
CLASSES = {
    "gnocchi": GNOCCHI,
    "latent-gnocchi": LatentGNOCCHI,
    "lfads": LFADS,
    "ppca": PPCA,
    "cebra": CEBRA,
}


def classification_accuracy(features, labels, *, n_folds: int = 5, random_state: int = 0) -> float:
    """Mean accuracy of a standardised logistic regression over stratified k folds.

    ``features`` is (n_trials, ...) and is flattened per trial; ``labels`` (n_trials,).
    """
    features = np.asarray(features, dtype=np.float64).reshape(len(labels), -1)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
    return float(cross_val_score(classifier, features, labels, cv=folds).mean())


def _flat(trials: Trials) -> np.ndarray:
    return np.asarray(trials.activity, dtype=np.float64).reshape(trials.n_trials, -1)


def pca_baseline(
    train: Trials,
    valid: Trials,
    trials: Trials,
    *,
    n_components: int,
    n_folds: int = 5,
    random_state: int = 0,
) -> dict:
    """Condition accuracy of the ``n_components``-dim PCA of the flattened smoothed activity.

    The PCA is fitted on ``train`` only; ``accuracy_valid`` classifies the projections of
    ``valid``, ``accuracy_all`` those of ``trials`` (as for the models' codes).
    """
    n_components = check_positive_int(n_components, "n_components")
    pca = PCA(n_components=n_components, random_state=random_state).fit(_flat(train))
    folds = {"n_folds": n_folds, "random_state": random_state}
    return {
        "accuracy_valid": classification_accuracy(
            pca.transform(_flat(valid)), valid.info("condition"), **folds
        ),
        "accuracy_all": classification_accuracy(
            pca.transform(_flat(trials)), trials.info("condition"), **folds
        ),
    }


def real_data_floors(
    train: Trials, valid: Trials, *, n_samples: int = N_SAMPLES, random_state: int = 0
) -> dict:
    """What real training trials score in a model's place (no model involved).

    Parameters
    ----------
    train, valid : Trials
        Training and validation trials with a ``condition`` column; every condition of
        ``valid`` needs at least one training trial.
    n_samples : int
        K of the models: the K-matched floor averages min(K, available) training trials.
    random_state : int
        Seed of the K-matched draws (one independent draw per validation trial).

    Returns
    -------
    dict: ``condition_mean_reconstruction_r2_valid``, ``condition_mean_psth_r2_valid`` (the
    PSTH ceiling), ``k_matched_reconstruction_r2_valid`` and ``k_matched_n_trials``.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    rng = np.random.default_rng(check_int(random_state, "random_state", minimum=0))
    train_labels, valid_labels = train.info("condition"), valid.info("condition")
    conditions = np.unique(valid_labels)
    pools = {c: np.flatnonzero(train_labels == c) for c in conditions}
    empty = [c.item() for c in conditions if len(pools[c]) == 0]
    if empty:
        raise InvalidArgumentError(f"train has no trials of valid's condition(s) {empty}")
    activity = np.asarray(train.activity, dtype=np.float64)
    means = {c: activity[pools[c]].mean(axis=0) for c in conditions}
    condition_mean = np.stack([means[c] for c in valid_labels])
    k_matched, sizes = [], []
    for c in valid_labels:
        k = min(n_samples, len(pools[c]))
        k_matched.append(activity[rng.choice(pools[c], size=k, replace=False)].mean(axis=0))
        sizes.append(k)
    return {
        "condition_mean_reconstruction_r2_valid": pooled_r2(condition_mean, valid.activity),
        "condition_mean_psth_r2_valid": pooled_r2(
            np.stack([means[c] for c in conditions]),
            condition_means(valid.activity, valid_labels, conditions),
        ),
        "k_matched_reconstruction_r2_valid": pooled_r2(np.stack(k_matched), valid.activity),
        "k_matched_n_trials": int(min(sizes)),
    }


def _score_model(
    model,
    trials: Trials,
    valid: Trials,
    *,
    smoothing: Smoothing,
    n_samples: int,
    random_state: int,
    n_folds: int,
) -> dict:
    """Classification, reconstruction and PSTH numbers of one fitted model (classification
    only for a model that cannot generate)."""
    labels, valid_labels = trials.info("condition"), valid.info("condition")
    conditions = np.unique(labels)
    folds = {"n_folds": n_folds, "random_state": random_state}
    valid_codes = model.encode(valid)
    accuracy = {
        "accuracy_valid": classification_accuracy(valid_codes, valid_labels, **folds),
        "accuracy_all": classification_accuracy(model.encode(trials), labels, **folds),
        "fit_seconds": float(model.fit_seconds_),
    }
    if output_kind(model) == "codes":
        return accuracy  # CEBRA cannot generate: no reconstruction or PSTH numbers
    start = time.perf_counter()
    mean = generate_activity(
        model,
        valid_codes,
        n_samples=n_samples,
        random_state=random_state,
        common_noise=False,
        smoothing=smoothing,
    ).mean
    generate_seconds = time.perf_counter() - start
    return accuracy | {
        "reconstruction_r2_valid": pooled_r2(mean, valid.activity),
        "psth_r2_valid": pooled_r2(
            condition_means(mean, valid_labels, conditions),
            condition_means(valid.activity, valid_labels, conditions),
        ),
        "generate_seconds": generate_seconds,
    }


def _spike_scores(model, trials: Trials, parts, random_state: int) -> tuple[dict, dict]:
    """The model's spike statistics (matched halves of the validation trials, as in
    `evaluate`) and co-smoothing bits/spike (a model fitted with ``heldout_neurons``): its
    numbers and the real-vs-real floors; empty for what does not apply."""
    split = SimpleNamespace(train=parts[0], valid=parts[1])
    data = SimpleNamespace(
        trials=trials,
        split=split,
        codes=model.encode(trials),
        seed=random_state,
        output_kind=output_kind(model),
    )
    spikes = spike_section(model, data)
    numbers = spike_summary(spikes) | cosmoothing_summary(cosmoothing_section(model, data))
    return numbers, spike_floors(spikes)


def _params(value, name: str, defaults: dict) -> dict:
    if value is not None and not isinstance(value, dict):
        raise InvalidArgumentError(f"{name} must be a dict or None; got {type(value).__name__}")
    return defaults | (value or {})


def run_datahigh_experiment(
    path: str | os.PathLike,
    *,
    bin_size_s: float = 0.02,
    smooth_sigma_s: float = 0.05,
    valid_fraction: float = 0.3,
    gnocchi_params: dict | None = None,
    lfads_params: dict | None = None,
    latent_params: dict | None = None,
    ppca_params: dict | None = None,
    cebra_params: dict | None = None,
    models=MODELS,
    n_samples: int = N_SAMPLES,
    n_folds: int = 5,
    random_state: int = 0,
) -> dict:
    """Fit GNOCCHI, LFADS and PPCA on the DataHigh recording at ``path``; return the numbers.

    Parameters
    ----------
    path : the ``.mat`` file (see ``DATAHIGH_FILE``); read with :func:`load_mat`.
    bin_size_s, smooth_sigma_s : float
        Bin width and s.d. of the Gaussian that smooths the counts into ``activity`` (Hz);
        LFADS's rates are smoothed with the same kernel before they are scored.
    valid_fraction : float
        Fraction of trials (per condition) held back from fitting for validation.
    gnocchi_params, lfads_params, ppca_params : dict, optional
        Estimator settings, merged over ``GNOCCHI_PARAMS`` / ``LFADS_PARAMS`` /
        ``PPCA_PARAMS``. LFADS fits the binned spike counts (Poisson); GNOCCHI and PPCA fit
        the smoothed activity. ``pca_baseline`` uses PPCA's ``code_dim``.
    latent_params : dict, optional
        LatentGNOCCHI's settings (over ``LATENT_PARAMS``), fitted on the counts, when
        ``models`` includes "latent-gnocchi". Every model that returns spikes also gets the
        spike statistics of :mod:`~neurognocchi.evaluation.spike_section` (``spikes_*``; their
        real-vs-real floors in ``floors``), and one fitted with ``heldout_neurons`` the
        co-smoothing bits/spike of :mod:`~neurognocchi.evaluation.cosmoothing`.
    cebra_params : dict, optional
        Settings of CEBRA-Time (over ``CEBRA_PARAMS``), fitted on the smoothed activity when
        ``models`` includes "cebra" (needs the ``cebra`` extra). It cannot generate, so it
        gets the two accuracies and its fit time only.
    models : sequence of {"gnocchi", "latent-gnocchi", "lfads", "ppca", "cebra"}
        The models to fit, in this order (default ``MODELS``: all but CEBRA).
    n_samples : int
        K: GNOCCHI / PPCA samples averaged per code, and the K of the K-matched floor.
    n_folds : int
        Folds of the cross-validated classification.
    random_state : int
        Seed of the split, the models, the samples, the folds and the floors' draws.

    Returns
    -------
    dict, JSON-able: ``data`` (sizes and settings), ``chance``, ``activity_baseline``,
    ``pca_baseline``, ``floors``, ``gnocchi``, ``lfads``, ``ppca`` (see the module
    docstring) and ``seconds`` (the whole run).
    """
    valid_fraction = check_real(
        valid_fraction, "valid_fraction", low=0, high=1, low_open=True, high_open=True
    )
    n_samples = check_positive_int(n_samples, "n_samples")
    n_folds = check_int(n_folds, "n_folds", minimum=2)
    random_state = check_int(random_state, "random_state", minimum=0)
    if isinstance(models, str) or not models:
        raise InvalidArgumentError(f"models must be a non-empty sequence of names; got {models!r}")
    for name in models:
        check_choice(name, "models", sorted(CLASSES))
    params = {
        "gnocchi": _params(gnocchi_params, "gnocchi_params", GNOCCHI_PARAMS),
        "lfads": _params(lfads_params, "lfads_params", LFADS_PARAMS),
        "latent-gnocchi": _params(latent_params, "latent_params", LATENT_PARAMS),
        "ppca": _params(ppca_params, "ppca_params", PPCA_PARAMS),
        "cebra": _params(cebra_params, "cebra_params", CEBRA_PARAMS),
    }
    start = time.perf_counter()
    trials = load_mat(path, bin_size_s=bin_size_s, smooth_sigma_s=smooth_sigma_s)
    parts = trials.split_indices((1 - valid_fraction, valid_fraction), random_state=random_state)
    train, valid = trials[parts[0]], trials[parts[1]]
    labels, conditions = trials.info("condition"), np.unique(trials.info("condition"))
    smoothing = Smoothing(float(smooth_sigma_s or 0.0), float(bin_size_s))
    seed = {"random_state": random_state, "verbose": False}
    scores, spike_floor = {}, {}
    for name in models:
        model = CLASSES[name](**(seed | params[name])).fit(train)
        scores[name] = _score_model(
            model,
            trials,
            valid,
            smoothing=smoothing,
            n_samples=n_samples,
            random_state=random_state,
            n_folds=n_folds,
        )
        numbers, floors = _spike_scores(model, trials, parts, random_state)
        scores[name] |= numbers
        spike_floor |= floors  # the same real halves for every model
    folds = {"n_folds": n_folds, "random_state": random_state}
    data = dict(
        n_trials=trials.n_trials,
        n_train=train.n_trials,
        n_valid=valid.n_trials,
        n_time=trials.n_time,
        n_neurons=trials.n_neurons,
        n_conditions=len(conditions),
        bin_size_s=bin_size_s,
        smooth_sigma_s=smooth_sigma_s,
        n_samples=n_samples,
        n_folds=n_folds,
        random_state=random_state,
        params={name: params[name] for name in dict.fromkeys((*models, "ppca"))},
    )
    return {
        "data": data,
        "chance": float(np.bincount(labels).max() / len(labels)),
        "activity_baseline": {
            "accuracy_valid": classification_accuracy(
                valid.activity, valid.info("condition"), **folds
            ),
            "accuracy_all": classification_accuracy(trials.activity, labels, **folds),
        },
        "pca_baseline": pca_baseline(
            train, valid, trials, n_components=params["ppca"]["code_dim"], **folds
        ),
        "floors": real_data_floors(train, valid, n_samples=n_samples, random_state=random_state)
        | spike_floor,
        **scores,
        "seconds": time.perf_counter() - start,
    }


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def summarise_seeds(per_seed: list[dict]) -> dict:
    """Mean, s.d. (ddof 1, None for one seed) and count over seeds of every number.

    ``per_seed`` holds results of :func:`run_datahigh_experiment`. Each entry that is a dict
    of numbers (models, baselines, floors) gives ``{metric: {"mean", "sd", "n"}}``; the
    top-level numbers (``chance``, ``seconds``) are summarised under ``"run"``.
    """
    if not per_seed:
        raise InvalidArgumentError("per_seed must hold at least one result")
    first = per_seed[0]
    entries = {
        key: list(value)
        for key, value in first.items()
        if key != "data" and isinstance(value, dict)
    }
    entries["run"] = [key for key, value in first.items() if isinstance(value, (int, float))]
    summary = {}
    for entry, metrics in entries.items():
        summary[entry] = {}
        for metric in metrics:
            values = [r[metric] if entry == "run" else r[entry][metric] for r in per_seed]
            mean, sd, n = mean_and_sd(values)
            summary[entry][metric] = {"mean": _json_number(mean), "sd": _json_number(sd), "n": n}
    return summary


def run_datahigh_seeds(path: str | os.PathLike, *, seeds=(0, 1, 2), **options) -> dict:
    """:func:`run_datahigh_experiment` once per seed (its ``random_state``), and the summary.

    Parameters
    ----------
    path : the DataHigh ``.mat`` file.
    seeds : sequence of distinct non-negative ints
        One run per seed: a different split, model initialisation and sampling each.
    **options
        Passed to :func:`run_datahigh_experiment` (not ``random_state``).

    Returns
    -------
    dict, JSON-able: ``seeds``, ``per_seed`` (one result each) and ``summary``
    (``{entry: {metric: {"mean", "sd", "n"}}}``, s.d. over seeds, see :func:`summarise_seeds`).
    """
    if "random_state" in options:
        raise InvalidArgumentError("random_state is set per seed; pass seeds=... instead")
    seeds = check_seeds(seeds)
    per_seed = [run_datahigh_experiment(path, random_state=seed, **options) for seed in seeds]
    return {"seeds": seeds, "per_seed": per_seed, "summary": summarise_seeds(per_seed)}
