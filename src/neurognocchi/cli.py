"""The ``neurognocchi`` command.

User errors (bad arguments, unreadable files, a run directory that already exists) end with a
one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from neurognocchi._io import atomic_write_text

EXIT_USER_ERROR = 2


def _add_synth(subparsers) -> None:
    synth = subparsers.add_parser("synth", help="make a synthetic dataset and save it as .npz")
    kinds = synth.add_subparsers(dest="kind", required=True, metavar="{toy}")
    toy = kinds.add_parser("toy", help="toy reaching trials with known rates (seconds)")
    toy.add_argument("--out", required=True, type=Path, help="output .npz file")
    toy.add_argument("--n-trials", type=int, default=500)
    toy.add_argument("--n-neurons", type=int, default=50)
    toy.add_argument("--n-time", type=int, default=50)
    toy.add_argument("--seed", type=int, default=0)
    toy.add_argument("--overwrite", action="store_true", help="replace an existing file")


def _add_demo(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="toy data -> fit GNOCCHI on held-in conditions -> evaluate (minutes)"
    )
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="output directory")
    demo.add_argument("--quick", action="store_true", help="smaller data and model (< 1 min)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--overwrite", action="store_true", help="replace an existing output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurognocchi",
        description="GNOCCHI diffusion models of neural population activity.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_synth(subparsers)
    _add_demo(subparsers)
    info = subparsers.add_parser("info", help="describe a trials file (.npz/.npy)")
    info.add_argument("path", type=Path)
    return parser


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass --overwrite to replace it")


def _run_synth(args) -> None:
    from neurognocchi.data import make_toy_dataset

    if args.out.suffix != ".npz":
        raise ValueError(f"--out must end in .npz; got {str(args.out)!r}")
    _refuse_existing(args.out, args.overwrite)
    trials = make_toy_dataset(
        args.n_trials, n_neurons=args.n_neurons, n_time=args.n_time, random_state=args.seed
    )
    trials.save(args.out)
    print(trials)
    print(f"saved {args.out}")


def _run_info(args) -> None:
    from neurognocchi.data import load_trials

    print(load_trials(args.path))


def _run_demo(args) -> None:
    from neurognocchi.demo import run_toy_demo

    _refuse_existing(args.out / "results.json", args.overwrite)
    results = run_toy_demo(quick=args.quick, seed=args.seed, out_dir=args.out)
    atomic_write_text(args.out / "results.json", json.dumps(results, indent=2))
    print(f"results written to {args.out / 'results.json'}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurognocchi`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    runners = {"synth": _run_synth, "demo": _run_demo, "info": _run_info}
    try:
        runners[args.command](args)
    except (ValueError, TypeError, OSError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"neurognocchi {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("neurognocchi: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
