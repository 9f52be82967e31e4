"""Wall time for GNOCCHI and LFADS to reach the same validation quality, in one run.

Both models train on the held-in training trials of toy data (the protocol's split: four
held-out target conditions, 20 % of held-in trials for validation) and every ``--score-every``
epochs their kept (EMA) weights are scored the way the evaluation protocol scores them
(DESIGN §7; scoring time is excluded from the training clock):

* **reconstruction R²** of validation trials: the conditional mean of each trial's activity
  given its own code (GNOCCHI: the mean of ``--samples`` samples, DDIM ``--ddim-steps`` steps,
  common noise; LFADS: its rates smoothed like the data) against the ground-truth rates
  smoothed like the data (pooled over neurons);
* **held-out target error**: a ridge from whitened codes to the reach target, fitted on the
  held-in trials and applied to the held-out conditions' trials (data units, lower is better).

The table gives, per model, the training seconds to reach ``--target`` R² and to bring the
held-out error under ``--target-error``, the best of each, and seconds per epoch; the ratios
GNOCCHI / LFADS of the times come below it, with both curves over wall time. Defaults follow
``neurognocchi demo`` (500 toy trials, 8-number code).

Run: ``python benchmarks/bench_time_to_quality.py [--quick] [--target 0.5] [--device auto]``.
"""

from __future__ import annotations

# isort: off
# First, before torch loads: neurognocchi's OpenMP wait policy (see _common).
from _common import (
    add_demo_arguments,
    add_device_arguments,
    benchmark_parser,
    device_of,
    machine,
    print_table,
)
# isort: on

import time
from typing import NamedTuple

import numpy as np
import torch

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI, LFADS
from neurognocchi.evaluation.codes import whiten_codes
from neurognocchi.evaluation.generation import generate_activity, infer_smoothing
from neurognocchi.evaluation.metrics import pooled_r2, target_prediction
from neurognocchi.evaluation.protocol import protocol_split
from neurognocchi.training import loop


class Scoring(NamedTuple):
    """What every score needs: the trials, the protocol's split, the reference of
    conditional means (truth smoothed like the data), the reach targets, K and the data's
    smoothing (inferred once)."""

    trials: object
    split: object
    reference: np.ndarray
    targets: np.ndarray
    n_samples: int
    smoothing: object


def scoring_for(args) -> Scoring:
    trials = make_toy_dataset(args.trials, n_neurons=args.neurons, n_time=args.time)
    split = protocol_split(trials, valid_fraction=0.2, random_state=0)
    smoothing = infer_smoothing(trials)
    reference = trials.truth if smoothing is None else smoothing.apply(trials.truth)
    targets = np.column_stack([trials.info("target_x"), trials.info("target_y")])
    return Scoring(trials, split, reference, targets, args.samples, smoothing)


@torch.no_grad()
def scores(estimator, model, scoring: Scoring) -> tuple[float, float]:
    """(reconstruction R², held-out target error) of ``estimator`` with ``model`` (the
    weights being trained) in place of its fitted model."""
    fitted = getattr(estimator, "model_", None)
    estimator.model_ = model
    model.eval()
    try:
        split, trials = scoring.split, scoring.trials
        codes = estimator.encode(trials)  # (n_trials, L)
        generated = generate_activity(
            estimator,
            codes[split.valid],
            n_samples=scoring.n_samples,
            random_state=0,
            smoothing=scoring.smoothing,
        )
        r2 = pooled_r2(generated.mean, scoring.reference[split.valid])
        heldin = np.concatenate([split.train, split.valid])
        white = whiten_codes(codes, codes[heldin])
        error = target_prediction(
            white[heldin],
            scoring.targets[heldin],
            white[split.heldout],
            scoring.targets[split.heldout],
        )["mean_error"]
    finally:
        estimator.model_ = fitted
        model.train()
    return r2, error


def learning_curve(estimator, scoring: Scoring, score_every: int) -> list[tuple]:
    """(epoch, training seconds, R², held-out error) every ``score_every`` epochs of a fit."""
    curve, excluded = [], [0.0]
    original = loop._Trainer.end_epoch

    def scored(trainer, row):
        stop = original(trainer, row)
        last = stop or trainer.epoch == trainer.config.max_epochs
        if trainer.epoch % score_every and not last:
            return stop
        paused = time.perf_counter()
        r2, error = scores(estimator, trainer.eval_model, scoring)
        curve.append((trainer.epoch, paused - start - excluded[0], r2, error))
        excluded[0] += time.perf_counter() - paused
        return stop

    loop._Trainer.end_epoch = scored
    try:
        start = time.perf_counter()
        split, trials = scoring.split, scoring.trials
        estimator.fit(trials[split.train], valid=trials[split.valid])
    finally:
        loop._Trainer.end_epoch = original
    return curve


def first_time(curve, better) -> tuple:
    """(epoch, seconds) of the first point of ``curve`` where ``better(point)``, or None."""
    hit = next((point for point in curve if better(point)), None)
    return (hit[0], hit[1]) if hit else None


def main() -> None:
    parser = benchmark_parser(__doc__)
    add_demo_arguments(parser)
    parser.add_argument("--gnocchi-epochs", type=int, default=300)
    parser.add_argument("--lfads-epochs", type=int, default=250)
    parser.add_argument("--score-every", type=int, default=10, help="score every k epochs")
    parser.add_argument("--target", type=float, default=0.5, help="reconstruction R² to reach")
    parser.add_argument("--target-error", type=float, default=1.2, help="held-out error to reach")
    parser.add_argument("--ddim-steps", type=int, default=20)
    parser.add_argument("--samples", type=int, default=32, help="K: GNOCCHI samples averaged")
    add_device_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.trials, args.neurons, args.time, args.samples = 200, 20, 20, 4
        args.gnocchi_epochs, args.lfads_epochs, args.channels, args.score_every = 3, 3, 16, 1
    device = device_of(args)
    scoring = scoring_for(args)
    common = dict(code_dim=args.code_dim, random_state=0, device=str(device), verbose=False)
    models = {
        "GNOCCHI": GNOCCHI(
            max_epochs=args.gnocchi_epochs,
            channels=args.channels,
            rec_weight=4.0,
            sampler="ddim",
            n_sample_steps=args.ddim_steps,
            **common,
        ),
        "LFADS": LFADS(max_epochs=args.lfads_epochs, **common),
    }
    curves = {
        name: learning_curve(model, scoring, args.score_every) for name, model in models.items()
    }
    report(curves, scoring, args, device)


def report(curves: dict, scoring: Scoring, args, device) -> None:
    """Print the table, the GNOCCHI / LFADS ratios and the curves."""
    goals = {
        f"R² ≥ {args.target}": lambda point: point[2] >= args.target,
        f"held-out error ≤ {args.target_error}": lambda point: point[3] <= args.target_error,
    }
    reached = {
        name: {goal: first_time(curve, better) for goal, better in goals.items()}
        for name, curve in curves.items()
    }
    rows = []
    for name, curve in curves.items():
        cells = [
            f"{hit[1]:.0f} s (epoch {hit[0]})" if hit else "not reached"
            for hit in reached[name].values()
        ]
        best_r2 = max(point[2] for point in curve)
        best_error = min(point[3] for point in curve)
        seconds = curve[-1][1]
        rows.append([name, *cells, best_r2, best_error, seconds, seconds / curve[-1][0]])
    columns = ["model", *(f"train s to {goal}" for goal in goals), "best R²"]
    columns += ["best held-out error", "train s total", "s/epoch"]
    split = scoring.split
    title = (
        f"Time to validation quality: {len(split.train)} training / {len(split.valid)} validation"
        f" / {len(split.heldout)} held-out trials x {args.time} bins x {args.neurons} neurons, "
        f"K = {args.samples}, scored every {args.score_every} epochs, device {device} "
        f"({machine(device)})"
    )
    print_table(title, columns, rows)
    for goal in goals:
        times = [reached[name][goal] for name in ("GNOCCHI", "LFADS")]
        if all(times):
            print(f"\nGNOCCHI / LFADS training time to {goal}: {times[0][1] / times[1][1]:.3g}")
        else:
            print(f"\nNot every model reached {goal} (raise the epochs or relax the target).")
    seconds_per_epoch = [curves[name][-1][1] / curves[name][-1][0] for name in ("GNOCCHI", "LFADS")]
    print(f"GNOCCHI / LFADS seconds per epoch: {seconds_per_epoch[0] / seconds_per_epoch[1]:.3g}")
    for name, curve in curves.items():
        points = ", ".join(f"{s:.0f} s: {r2:.3f} / {e:.2f}" for _, s, r2, e in curve)
        print(f"\n{name} (train seconds: R² / held-out error): {points}")


if __name__ == "__main__":
    main()
