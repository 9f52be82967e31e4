"""Training throughput of GNOCCHI and LFADS on the same data and machine, in one run.

Both estimators, at their default architectures, train for ``--epochs`` epochs on the same toy
trials; the table gives time per epoch (mean over the epochs after the first, which pays
one-off costs) and training trials per second. ``--compile`` and ``--bf16`` (CUDA only) add
rows with those options, to measure whether they pay on this machine; ``--widths 48 32`` adds
GNOCCHI rows with narrower U-Nets (``channels``). Below the table: each GNOCCHI row's seconds
per epoch divided by LFADS's.

Run: ``python benchmarks/bench_training.py [--quick] [--device auto] [--compile] [--bf16]``.
"""

from __future__ import annotations

import time

from _common import (
    add_device_arguments,
    add_shape_arguments,
    benchmark_parser,
    device_of,
    machine,
    print_table,
    timed,
)

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI, LFADS
from neurognocchi.training import loop


class EpochClock:
    """Records the wall time of each training epoch (validation excluded) by wrapping
    the training loop's ``train_epoch``."""

    def __init__(self):
        self.times: list[float] = []
        self.original = loop._Trainer.train_epoch

    def __enter__(self):
        clock = self

        def timed_epoch(trainer):
            seconds, row = timed(lambda: clock.original(trainer), trainer.device)
            clock.times.append(seconds)
            return row

        loop._Trainer.train_epoch = timed_epoch
        return self

    def __exit__(self, *exc):
        loop._Trainer.train_epoch = self.original


def variants(args, device) -> list[tuple[str, object]]:
    common = dict(max_epochs=args.epochs, random_state=0, device=str(device), verbose=False)
    common |= dict(valid_fraction=0.0)
    out = [("GNOCCHI", GNOCCHI(**common)), ("LFADS", LFADS(**common))]
    out += [
        (f"GNOCCHI channels={width}", GNOCCHI(channels=width, **common)) for width in args.widths
    ]
    if args.compile:
        out += [("GNOCCHI compile", GNOCCHI(compile=True, **common))]
        out += [("LFADS compile", LFADS(compile=True, **common))]
    if args.bf16:
        out += [("GNOCCHI bf16", GNOCCHI(precision="bf16", **common))]
        out += [("LFADS bf16", LFADS(precision="bf16", **common))]
    return out


def main() -> None:
    parser = benchmark_parser(__doc__)
    add_shape_arguments(parser, trials=1000, neurons=50, time=50)
    parser.add_argument("--epochs", type=int, default=4)
    add_device_arguments(parser)
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    parser.add_argument("--bf16", action="store_true", help="add bf16 autocast rows (CUDA)")
    parser.add_argument("--widths", type=int, nargs="*", default=[], help="narrower U-Nets")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.neurons, args.time, args.epochs = 100, 20, 20, 2
    device = device_of(args)
    trials = make_toy_dataset(args.trials, n_neurons=args.neurons, n_time=args.time)
    rows = []
    for name, estimator in variants(args, device):
        with EpochClock() as clock:
            start = time.perf_counter()
            estimator.fit(trials)
            total = time.perf_counter() - start
        steady = clock.times[1:] or clock.times
        per_epoch = sum(steady) / len(steady)
        rows.append(
            [name, estimator.batch_size, clock.times[0], per_epoch, args.trials / per_epoch, total]
        )
    columns = ["model", "batch", "first epoch s", "epoch s", "trials/s", "fit total s"]
    title = (
        f"Training throughput: {args.trials} trials x {args.time} bins x {args.neurons} "
        f"neurons, {args.epochs} epochs, device {device} ({machine(device)})"
    )
    print_table(title, columns, rows)
    lfads = next(row[3] for row in rows if row[0] == "LFADS")
    for row in rows:
        if row[0].startswith("GNOCCHI"):
            print(f"{row[0]} / LFADS seconds per epoch: {row[3] / lfads:.2f}")


if __name__ == "__main__":
    main()
