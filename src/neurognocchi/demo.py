"""The toy demo: toy data -> GNOCCHI and LFADS fitted on held-in conditions -> metrics on
unseen trials, side by side.

It stands in for the full reference demo (reaching data, full protocol, HTML report) until
those parts exist; every number it prints is computed on trials the models were not fitted on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurognocchi.data import Trials, make_toy_dataset
from neurognocchi.estimators import GNOCCHI, LFADS
from neurognocchi.evaluation import code_regression_r2, pooled_r2, sample_statistics

VARIABLES = ("target_x", "target_y", "start_x", "start_y")

# Both models get the same code size; epochs are each model's budget on 2 CPU cores.
DEMO_SETTINGS = {
    "full": {"n_trials": 500, "code_dim": 8, "gnocchi_epochs": 300, "channels": 64,
             "lfads_epochs": 250},
    "quick": {"n_trials": 250, "code_dim": 8, "gnocchi_epochs": 100, "channels": 32,
              "lfads_epochs": 60},
}  # fmt: skip


def reconstruction_r2(model, trials: Trials, *, n_samples: int = 8, seed: int = 0) -> dict:
    """Pooled R^2 of the mean of ``n_samples`` generations from each trial's own code against
    the trials' ground truth (``truth`` when present, else ``activity``), and the same with the
    codes shuffled across trials (a control that keeps the codes' distribution)."""
    target = trials.truth if trials.truth is not None else trials.activity
    codes = model.encode(trials)
    own = model.generate(codes, n_samples=n_samples, random_state=seed).mean(axis=1)
    shuffled_codes = codes[np.random.default_rng(seed).permutation(len(codes))]
    shuffled = model.generate(shuffled_codes, n_samples=n_samples, random_state=seed).mean(axis=1)
    return {"own_code": pooled_r2(own, target), "shuffled_code": pooled_r2(shuffled, target)}


def heldout_target_error(train_codes, train_trials, test_codes, test_trials) -> dict:
    """Ridge code -> (target_x, target_y) fitted on held-in trials, applied to held-out ones:
    mean Euclidean error (data units) and R^2."""
    from sklearn.linear_model import RidgeCV

    from neurognocchi.evaluation.metrics import RIDGE_ALPHAS

    def targets(trials):
        return np.stack([trials.info("target_x"), trials.info("target_y")], axis=1)

    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(train_codes, targets(train_trials))
    predicted = ridge.predict(test_codes)
    error = np.linalg.norm(predicted - targets(test_trials), axis=1)
    return {
        "mean_error": float(error.mean()),
        "r2": float(ridge.score(test_codes, targets(test_trials))),
    }


def build_models(settings: dict, seed: int) -> dict:
    """The two models of the demo, unfitted, with equal code dimension."""
    return {
        "GNOCCHI": GNOCCHI(
            code_dim=settings["code_dim"],
            max_epochs=settings["gnocchi_epochs"],
            channels=settings["channels"],
            rec_weight=4.0,
            random_state=seed,
        ),
        "LFADS": LFADS(
            code_dim=settings["code_dim"], max_epochs=settings["lfads_epochs"], random_state=seed
        ),
    }


def evaluate_on_toy(model, train: Trials, valid: Trials, held_out: Trials, seed: int) -> dict:
    """The demo's metrics for one fitted model (validation and held-out trials only)."""
    train_codes, valid_codes = model.encode(train), model.encode(valid)
    return {
        "fit_seconds": model.fit_seconds_,
        "code_r2_valid": {
            name: code_regression_r2(train_codes, train.info(name), valid_codes, valid.info(name))
            for name in VARIABLES
        },
        "heldout_targets": heldout_target_error(
            train_codes, train, model.encode(held_out), held_out
        ),
        "reconstruction_r2_valid": reconstruction_r2(model, valid, seed=seed),
        "prior_sample_statistics": sample_statistics(
            model.sample_prior(valid.n_trials, random_state=seed), valid.activity
        ),
    }


def run_toy_demo(
    *, quick: bool = False, seed: int = 0, out_dir: str | Path = "demo_output"
) -> dict:
    """Run the toy pipeline; save the fitted models in ``out_dir/<model>``; print and return
    the metrics of each model."""
    settings = DEMO_SETTINGS["quick" if quick else "full"]
    trials = make_toy_dataset(settings["n_trials"], random_state=seed)
    held_in, held_out = trials.split_by_condition()
    train, valid = held_in.split((0.8, 0.2), random_state=seed)
    print(f"toy data: {trials.n_trials} trials; fitting on {train.n_trials} held-in trials")
    results = {}
    for name, model in build_models(settings, seed).items():
        print(f"fitting {name} ...")
        model.fit(train)
        model.save(Path(out_dir) / name.lower())
        results[name] = evaluate_on_toy(model, train, valid, held_out, seed)
    _print_results(results)
    return results


# (label, path into one model's results, number format)
TABLE = [
    ("fit time (s)", ("fit_seconds",), ".0f"),
    *[(f"code R^2 {name}", ("code_r2_valid", name), ".3f") for name in VARIABLES],
    ("held-out target error (cm)", ("heldout_targets", "mean_error"), ".2f"),
    ("held-out target R^2", ("heldout_targets", "r2"), ".3f"),
    ("reconstruction R^2", ("reconstruction_r2_valid", "own_code"), ".3f"),
    ("  with shuffled codes", ("reconstruction_r2_valid", "shuffled_code"), ".3f"),
    ("prior: mean error", ("prior_sample_statistics", "mean_rel_error"), ".1%"),
    ("prior: s.d. error", ("prior_sample_statistics", "sd_rel_error"), ".1%"),
    ("prior: correlation RMSE", ("prior_sample_statistics", "corr_rmse"), ".3f"),
]


def _lookup(results: dict, path: tuple[str, ...]) -> float:
    for key in path:
        results = results[key]
    return results


def _print_results(results: dict) -> None:
    """One side-by-side table; metrics on validation or held-out trials."""
    names = list(results)
    print("\n" + f"{'metric':30s}" + "".join(f"{name:>10s}" for name in names))
    for label, path, fmt in TABLE:
        values = [_lookup(results[name], path) for name in names]
        print(f"{label:30s}" + "".join(f"{value:>10{fmt}}" for value in values))
