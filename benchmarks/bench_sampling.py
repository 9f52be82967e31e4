"""Sampling speed against quality: DDIM with 10/20/50/100 steps against 1000-step DDPM.

One GNOCCHI model is trained on toy trials (or loaded with ``--model DIR``); ``--samples``
trials are then generated from each validation trial's own code with each sampler, from the
same starting noise. Scores: pooled reconstruction R² of the mean of the samples against the
ground-truth rates (the protocol's reconstruction metric), R² of a single sample (which carries
the learned trial-to-trial variability), and the RMSE between the pairwise-correlation matrices
of single samples and of the data. The table gives wall time per generated trial and the
speed-up over DDPM.

Run: ``python benchmarks/bench_sampling.py [--quick] [--model DIR] [--device auto]``.
"""

from __future__ import annotations

from _common import (
    add_demo_arguments,
    add_device_arguments,
    benchmark_parser,
    device_of,
    machine,
    print_table,
    timed,
)

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI
from neurognocchi.evaluation.metrics import pooled_r2, sample_statistics


def timed_generate(model: GNOCCHI, codes, method: str, n_steps: int, repeats: int, n_samples):
    """Best-of-``repeats`` wall time and the samples of ``generate``."""

    def generate():
        return model.generate(
            codes, n_samples=n_samples, method=method, n_steps=n_steps, random_state=0
        )

    best = float("inf")
    for _ in range(repeats):
        seconds, samples = timed(generate, model.device_)
        best = min(best, seconds)
    return best, samples


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", default=None, help="a saved GNOCCHI directory to use")
    add_demo_arguments(parser)  # and rec_weight 4, as `neurognocchi demo`
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8, help="samples per trial")
    add_device_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.trials, args.neurons, args.time, args.epochs, args.repeats = 100, 20, 20, 2, 1
        args.channels, args.samples = 16, 2
    device = device_of(args)
    trials = make_toy_dataset(args.trials, n_neurons=args.neurons, n_time=args.time)
    train, valid = trials.split((0.8, 0.2), random_state=0)
    if args.model:
        model = GNOCCHI.load(args.model, device=str(device))
    else:
        model = GNOCCHI(
            code_dim=args.code_dim,
            channels=args.channels,
            rec_weight=4.0,
            max_epochs=args.epochs,
            random_state=0,
            device=str(device),
            verbose=False,
        )
        model.fit(train, valid=valid)
    model.verbose = False
    codes = model.encode(valid)
    k = args.samples
    ddpm_seconds, ddpm = timed_generate(model, codes, "ddpm", model.n_train_steps, 1, k)
    rows = []
    for method, n_steps in [("ddim", 10), ("ddim", 20), ("ddim", 50), ("ddim", 100)]:
        seconds, samples = timed_generate(model, codes, method, n_steps, args.repeats, k)
        rows.append([f"DDIM {n_steps}", seconds, samples, ddpm_seconds / seconds])
    rows.append([f"DDPM {model.n_train_steps}", ddpm_seconds, ddpm, 1.0])
    table = [
        [
            name,
            1e3 * seconds / (len(valid) * k),
            seconds,
            speedup,
            pooled_r2(samples.mean(axis=1), valid.truth),
            pooled_r2(samples[:, 0], valid.truth),
            sample_statistics(samples[:, 0], valid.activity)["corr_rmse"],
        ]
        for name, seconds, samples, speedup in rows
    ]
    columns = ["sampler", "ms / sample", "total s", "speed-up vs DDPM"]
    columns += [f"R² mean of {k} vs truth", "R² 1 sample vs truth", "corr. RMSE vs data"]
    title = (
        f"Sampling: {len(valid)} validation trials x {args.time} bins x {args.neurons} neurons, "
        f"each from its own code; device {device} ({machine(device)})"
    )
    print_table(title, columns, table)


if __name__ == "__main__":
    main()
