"""The toy demo: toy data -> GNOCCHI fitted on held-in conditions -> metrics on unseen trials.

It stands in for the full reference demo (reaching data, GNOCCHI vs LFADS, HTML report) until
those parts exist; every number it prints is computed on trials the model was not fitted on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurognocchi.data import Trials, make_toy_dataset
from neurognocchi.estimators import GNOCCHI
from neurognocchi.evaluation import code_regression_r2, pooled_r2, sample_statistics

VARIABLES = ("target_x", "target_y", "start_x", "start_y")

DEMO_SETTINGS = {
    "full": {"n_trials": 500, "max_epochs": 300, "channels": 64},
    "quick": {"n_trials": 250, "max_epochs": 30, "channels": 32},
}


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


def run_toy_demo(
    *, quick: bool = False, seed: int = 0, out_dir: str | Path = "demo_output"
) -> dict:
    """Run the toy pipeline; save the fitted model in ``out_dir/model``; print and return
    the metrics."""
    settings = DEMO_SETTINGS["quick" if quick else "full"]
    trials = make_toy_dataset(settings["n_trials"], random_state=seed)
    held_in, held_out = trials.split_by_condition()
    train, valid = held_in.split((0.8, 0.2), random_state=seed)
    print(f"toy data: {trials.n_trials} trials; fitting on {train.n_trials} held-in trials")
    model = GNOCCHI(
        code_dim=8,
        max_epochs=settings["max_epochs"],
        channels=settings["channels"],
        rec_weight=4.0,
        random_state=seed,
    ).fit(train)
    model.save(Path(out_dir) / "model")
    train_codes, valid_codes = model.encode(train), model.encode(valid)
    results = {
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
    _print_results(results)
    return results


def _print_results(results: dict) -> None:
    print(f"\nfit time: {results['fit_seconds']:.0f} s")
    print("code -> variable ridge R^2 on validation trials:")
    for name, value in results["code_r2_valid"].items():
        print(f"  {name:10s} {value:6.3f}")
    heldout = results["heldout_targets"]
    print(
        f"held-out targets from codes: mean error {heldout['mean_error']:.2f} cm, "
        f"R^2 {heldout['r2']:.3f}"
    )
    rec = results["reconstruction_r2_valid"]
    print(
        f"reconstruction R^2 vs true rates: own code {rec['own_code']:.3f}, "
        f"shuffled codes {rec['shuffled_code']:.3f}"
    )
    stats = results["prior_sample_statistics"]
    print(
        f"prior samples: per-neuron mean error {stats['mean_rel_error']:.1%}, "
        f"s.d. error {stats['sd_rel_error']:.1%}, correlation RMSE {stats['corr_rmse']:.3f}"
    )
