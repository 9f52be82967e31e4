"""Wall time for GNOCCHI and LFADS to reach the same validation quality, in one run.

Quality is the reconstruction R² of validation trials against the toy data's ground-truth
rates (pooled over neurons), as in the evaluation protocol: GNOCCHI generates ``--samples``
trials from each trial's own code (DDIM, ``--ddim-steps`` steps, fixed seed) and is scored by
their mean (one sample carries the trial-to-trial variability it learned, not a rate
estimate); LFADS gives its posterior-mean rates. Every
``--score-every`` epochs the kept (EMA) weights are scored; scoring time is excluded from the
training clock. Defaults follow ``neurognocchi demo`` (500 toy trials, 8-number code).
The table gives the first epoch and the training seconds at which each model reaches
``--target``, plus its best R²; the ratio of the two times is printed below it.

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

import math
import time

import numpy as np
import torch

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI, LFADS
from neurognocchi.evaluation.metrics import pooled_r2
from neurognocchi.training import loop


@torch.no_grad()
def quality(model, name: str, valid, device, ddim_steps: int, n_samples: int) -> float:
    """Pooled reconstruction R² of ``valid`` against its ground truth."""
    model.eval()
    activity = torch.as_tensor(valid.activity, device=device)
    if name == "GNOCCHI":
        generator = torch.Generator(device=device).manual_seed(0)
        code = model.encode(activity).repeat_interleave(n_samples, dim=0)
        pred = model.generate(code, n_steps=ddim_steps, method="ddim", generator=generator)
        pred = pred.reshape(len(activity), n_samples, *pred.shape[1:]).mean(dim=1)
    else:
        pred = model.reconstruct(torch.as_tensor(valid.spikes, dtype=torch.float32, device=device))
    return pooled_r2(pred.cpu().numpy(), valid.truth)


def learning_curve(estimator, name, train, valid, device, args) -> list[tuple]:
    """(epoch, training seconds, R²) every ``args.score_every`` epochs of ``estimator.fit``."""
    curve, excluded = [], [0.0]
    original = loop._Trainer.end_epoch

    def scored(trainer, row):
        stop = original(trainer, row)
        last = stop or trainer.epoch == trainer.config.max_epochs
        if trainer.epoch % args.score_every and not last:
            return stop
        paused = time.perf_counter()
        r2 = quality(trainer.eval_model, name, valid, device, args.ddim_steps, args.samples)
        trainer.model.train()
        curve.append((trainer.epoch, paused - start - excluded[0], r2))
        excluded[0] += time.perf_counter() - paused
        return stop

    loop._Trainer.end_epoch = scored
    try:
        start = time.perf_counter()
        estimator.fit(train, valid=valid)
    finally:
        loop._Trainer.end_epoch = original
    return curve


def main() -> None:
    parser = benchmark_parser(__doc__)
    add_demo_arguments(parser)
    parser.add_argument("--gnocchi-epochs", type=int, default=300)
    parser.add_argument("--lfads-epochs", type=int, default=250)
    parser.add_argument("--score-every", type=int, default=5, help="score every k epochs")
    parser.add_argument("--target", type=float, default=0.45)
    parser.add_argument("--ddim-steps", type=int, default=20)
    parser.add_argument("--samples", type=int, default=8, help="GNOCCHI samples averaged")
    add_device_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.trials, args.neurons, args.time = 120, 20, 20
        args.gnocchi_epochs, args.lfads_epochs, args.channels, args.score_every = 3, 3, 16, 1
    device = device_of(args)
    trials = make_toy_dataset(args.trials, n_neurons=args.neurons, n_time=args.time)
    train, valid = trials.split((0.8, 0.2), random_state=0)
    common = dict(code_dim=args.code_dim, random_state=0, device=str(device), verbose=False)
    models = {
        "GNOCCHI": GNOCCHI(
            max_epochs=args.gnocchi_epochs, channels=args.channels, rec_weight=4.0, **common
        ),
        "LFADS": LFADS(max_epochs=args.lfads_epochs, **common),
    }
    rows, reached, curves = [], {}, {}
    for name, estimator in models.items():
        curve = curves[name] = learning_curve(estimator, name, train, valid, device, args)
        hit = next((point for point in curve if point[2] >= args.target), None)
        reached[name] = hit[1] if hit else math.inf
        best = max(curve, key=lambda point: point[2])
        rows.append(
            [
                name,
                hit[0] if hit else "not reached",
                hit[1] if hit else "-",
                best[2],
                best[0],
                curve[-1][1],
                curve[-1][1] / curve[-1][0],
            ]
        )
    columns = ["model", f"epoch R²≥{args.target}", "train s to target", "best R²"]
    columns += ["best epoch", "train s total", "s/epoch"]
    title = (
        f"Time to validation quality: {len(train)} training / {len(valid)} validation trials x "
        f"{args.time} bins x {args.neurons} neurons, scored every {args.score_every} epochs, "
        f"device "
        f"{device} ({machine(device)})"
    )
    print_table(title, columns, rows)
    for name, curve in curves.items():
        points = ", ".join(f"{epoch}: {r2:.3f}" for epoch, _, r2 in curve)
        print(f"\n{name} R² by epoch: {points}")
    if all(np.isfinite(list(reached.values()))):
        ratio = reached["GNOCCHI"] / reached["LFADS"]
        print(f"\nGNOCCHI / LFADS training time to R² ≥ {args.target}: {ratio:.3g}")
    else:
        print(
            f"\nNot every model reached R² ≥ {args.target}; raise --gnocchi-epochs / "
            "--lfads-epochs or lower --target."
        )


if __name__ == "__main__":
    main()
