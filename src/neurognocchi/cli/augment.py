"""``neurognocchi augment RUN [RUN ...] --data FILE --out DIR``: the decoder augmentation
experiment (:func:`neurognocchi.experiments.augment.augment_decoder`) on fitted runs.

Every check comes before any work and anything is written: the runs (one seed, fitted on the
protocol's training trials of FILE), the data (behaviour, ``heldout``), the options and the
output folder (refused when it holds results, unless ``--overwrite``). ``DIR/augment.json``
and ``DIR/augment.md`` (the five-way table) are written atomically at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

from neurognocchi._checks import InvalidArgumentError

__all__ = ["add_parsers", "run"]

OUTPUTS = ("augment.json", "augment.md")
# Written out, so that parsing loads no torch (tests/test_cli_flags.py checks it against
# experiments.decoders.DECODERS).
DECODERS = ("ridge", "gru")


def add_parsers(subparsers) -> None:
    """Register the ``augment`` sub-command with its handler (:func:`run`)."""
    augment = subparsers.add_parser(
        "augment",
        help="train behaviour decoders on real held-in trials plus trials each run synthesises "
        "for the held-out conditions; test on real held-out trials (JSON + Markdown table)",
    )
    augment.add_argument("runs", type=Path, nargs="+", help="run directories (from fit)")
    augment.add_argument("--data", required=True, type=Path, help="the trials file fitted on")
    augment.add_argument("--out", required=True, type=Path, help="output directory")
    augment.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="repetitions (synthesis draws, GRU seeds)",
    )
    augment.add_argument(
        "--multiples",
        type=int,
        nargs="+",
        default=[1, 3],
        help="synthetic trials per held-out condition (x real ones)",
    )
    augment.add_argument("--decoders", nargs="+", default=list(DECODERS), choices=DECODERS)
    augment.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    augment.set_defaults(handler=run)


def _check_options(args) -> None:
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        raise InvalidArgumentError(f"--seeds must be distinct non-negative ints; got {args.seeds}")
    if min(args.multiples) < 1 or len(set(args.multiples)) != len(args.multiples):
        raise InvalidArgumentError(
            f"--multiples must be distinct positive ints; got {args.multiples}"
        )
    for name in OUTPUTS:
        if (args.out / name).exists() and not args.overwrite:
            raise FileExistsError(f"{args.out / name} exists; pass --overwrite to replace it")


def _check_data(trials) -> None:
    if trials.behavior is None:
        raise InvalidArgumentError("--data: the trials have no behaviour to decode")
    for key in ("heldout", "condition", "target_x", "target_y", "start_x", "start_y"):
        if key not in trials.trial_info:
            raise InvalidArgumentError(f"--data: trial_info has no {key!r} column")


def run(args) -> None:
    """The handler: check everything, run the experiment, write the outputs."""
    from neurognocchi._io import atomic_writes
    from neurognocchi.data import load_trials
    from neurognocchi.experiments.augment import augment_decoder, augment_markdown
    from neurognocchi.runs.directory import scorable_runs

    _check_options(args)
    for run_dir in args.runs:
        if not Path(run_dir).is_dir():
            raise FileNotFoundError(f"{str(run_dir)!r} is not a run directory")
    _check_data(load_trials(args.data))  # before any model is loaded
    trials, _, seed, models = scorable_runs(args.runs, args.data)
    for model in models.values():
        model.set_params(verbose=False)
    result = augment_decoder(
        models,
        trials,
        random_state=seed,
        seeds=args.seeds,
        multiples=args.multiples,
        decoders=args.decoders,
    )
    table = augment_markdown(result) + "\n\nDifferences from (i), paired by seed:\n\n"
    table += augment_markdown(result, paired=True)
    with atomic_writes() as writes:  # both files or neither
        writes.write_text(args.out / OUTPUTS[0], json.dumps(result, indent=1, allow_nan=False))
        writes.write_text(args.out / OUTPUTS[1], table + "\n")
    print(table)
    print("share of the R² gap between (i) and (v) closed:", json.dumps(result["gap_closed"]))
    print(f"outputs: {args.out / OUTPUTS[0]}, {args.out / OUTPUTS[1]}")
