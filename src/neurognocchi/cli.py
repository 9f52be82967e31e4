"""The ``neurognocchi`` command.

User errors (bad arguments, unreadable files, a run directory that already exists) end with a
one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from neurognocchi._io import atomic_write

EXIT_USER_ERROR = 2


def _add_output_args(parser, suffix: str) -> None:
    parser.add_argument("--out", required=True, type=Path, help=f"output {suffix} file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")


def _add_size_args(parser, n_trials: int, n_neurons: int, n_time: int, time_help: str) -> None:
    parser.add_argument("--n-trials", type=int, default=n_trials)
    parser.add_argument("--n-neurons", type=int, default=n_neurons)
    parser.add_argument("--n-time", type=int, default=n_time, help=time_help)


def _add_synth(subparsers) -> None:
    synth = subparsers.add_parser("synth", help="make a synthetic dataset and save it as .npz")
    kinds = synth.add_subparsers(dest="kind", required=True, metavar="{toy,reaching,train-policy}")
    toy = kinds.add_parser("toy", help="toy reaching trials with known rates (seconds)")
    _add_output_args(toy, ".npz")
    _add_size_args(toy, 500, 50, 50, "time bins")

    reaching = kinds.add_parser(
        "reaching", help="MotorNet arm reaching to a target grid, driven by the shipped policy"
    )
    _add_output_args(reaching, ".npz")
    _add_size_args(reaching, 1000, 100, 120, "10 ms simulation steps")
    reaching.add_argument("--bin-size", type=float, default=0.01, help="bin width (s)")
    reaching.add_argument("--policy", type=Path, help="a policy file from synth train-policy")

    policy = kinds.add_parser(
        "train-policy", help="train a new reaching policy (about 30-45 min on one core)"
    )
    _add_output_args(policy, ".pt")
    policy.add_argument("--n-updates", type=int, default=2500)
    policy.add_argument("--batch-size", type=int, default=32)


def _add_demo(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="reaching data -> fit GNOCCHI and LFADS on held-in conditions -> evaluation "
        "protocol -> HTML report (about 8 min on 2 cores; --quick under 1)",
    )
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="output directory")
    demo.add_argument("--quick", action="store_true", help="smaller data and models, same pipeline")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--overwrite", action="store_true", help="replace an existing output")


def _add_fit(subparsers) -> None:
    fit = subparsers.add_parser(
        "fit", help="fit GNOCCHI or LFADS on a data file; writes a run directory"
    )
    fit.add_argument("data", type=Path, help="trials file (.npz/.npy)")
    fit.add_argument("--out", required=True, type=Path, help="run directory to create")
    fit.add_argument(
        "--model", choices=["gnocchi", "lfads"], default=None, help="model to fit (default gnocchi)"
    )
    fit.add_argument("--config", type=Path, help="JSON file of estimator parameters")
    fit.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        dest="overrides",
        help="override one estimator parameter (repeatable), e.g. --set code_dim=8",
    )
    fit.add_argument(
        "--fit-on",
        choices=["train", "heldin", "all"],
        default=None,
        help="trials to fit: the evaluation protocol's held-in training trials "
        "(default), every held-in trial, or all trials",
    )
    fit.add_argument("--resume", action="store_true", help="continue the run in --out")
    fit.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_encode(subparsers) -> None:
    encode = subparsers.add_parser("encode", help="codes of trials under a fitted model (.npy)")
    encode.add_argument("run", type=Path, help="run directory (from fit)")
    encode.add_argument("data", type=Path, help="trials file (.npz/.npy)")
    encode.add_argument("--out", required=True, type=Path, help="output .npy of codes")
    encode.add_argument("--overwrite", action="store_true", help="replace an existing file")


def _add_generate(subparsers) -> None:
    generate = subparsers.add_parser(
        "generate", help="generate trials from codes or from the prior (.npz)"
    )
    generate.add_argument("run", type=Path, help="run directory (from fit)")
    source = generate.add_mutually_exclusive_group(required=True)
    source.add_argument("--codes", type=Path, help=".npy of codes (n_codes, code_dim)")
    source.add_argument("--prior", type=int, metavar="N", help="N codes drawn from the prior")
    generate.add_argument("--out", required=True, type=Path, help="output .npz")
    generate.add_argument("--n-samples", type=int, default=1, help="samples per code")
    generate.add_argument(
        "--n-steps", type=int, default=None, help="denoising steps (GNOCCHI; default: the model's)"
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--overwrite", action="store_true", help="replace an existing file")


def _add_evaluate(subparsers) -> None:
    evaluate = subparsers.add_parser(
        "evaluate", help="run the evaluation protocol on fitted runs; metrics JSON + HTML report"
    )
    evaluate.add_argument("runs", type=Path, nargs="+", help="run directories (from fit)")
    evaluate.add_argument("--data", required=True, type=Path, help="the trials file fitted on")
    evaluate.add_argument("--out", required=True, type=Path, help="output directory")
    evaluate.add_argument("--n-samples", type=int, default=8, help="samples per code (K)")
    evaluate.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _add_convert(subparsers) -> None:
    convert = subparsers.add_parser(
        "convert",
        help="turn a recording (.nwb, .mat, .npy, .npz) into a trials .npz",
        description="Read a recording, bin and smooth its spikes into trials, optionally mark "
        "held-out conditions, and save it as a trials .npz that fit, encode and evaluate read.",
    )
    convert.add_argument("path", type=Path, help="recording: .nwb, .mat, .npy or .npz")
    convert.add_argument("--out", required=True, type=Path, help="output trials .npz")
    convert.add_argument(
        "--bin-size", type=float, default=0.02,
        help="bin width (s): NWB/.mat spikes are binned to it; plain arrays are declared at it",
    )  # fmt: skip
    convert.add_argument(
        "--smooth", type=float, default=0.04, help="NWB/.mat: Gaussian s.d. (s); 0: none"
    )
    convert.add_argument("--align", default="auto", help="NWB: trials-table column to align on")
    convert.add_argument(
        "--window", type=float, nargs=2, default=(-0.2, 0.5), metavar=("START", "STOP"),
        help="NWB: window around the alignment time (s)",
    )  # fmt: skip
    convert.add_argument("--variable", help=".mat: the variable holding the trials")
    convert.add_argument(
        "--heldout", nargs="+", metavar="VALUE", help="condition values to mark as held out"
    )
    convert.add_argument("--condition-key", default="condition", help="column --heldout reads")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurognocchi",
        description="GNOCCHI diffusion models of neural population activity.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_synth(subparsers)
    _add_fit(subparsers)
    _add_encode(subparsers)
    _add_generate(subparsers)
    _add_evaluate(subparsers)
    _add_convert(subparsers)
    _add_demo(subparsers)
    info = subparsers.add_parser("info", help="describe a trials file (.npz/.npy)")
    info.add_argument("path", type=Path)
    return parser


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass --overwrite to replace it")


def _run_synth(args) -> None:
    from neurognocchi import data

    if args.kind == "train-policy":
        _train_policy(args)
        return
    _check_suffix(args.out, ".npz")
    _refuse_existing(args.out, args.overwrite)
    if args.kind == "toy":
        trials = data.make_toy_dataset(
            args.n_trials, n_neurons=args.n_neurons, n_time=args.n_time, random_state=args.seed
        )
    else:
        trials = data.make_reaching_dataset(
            args.n_trials,
            n_neurons=args.n_neurons,
            n_time=args.n_time,
            bin_size_s=args.bin_size,
            policy_path=args.policy,
            random_state=args.seed,
        )
    trials.save(args.out)
    print(trials)
    print(f"saved {args.out}")


def _train_policy(args) -> None:
    import dataclasses

    from neurognocchi.data import train_policy
    from neurognocchi.data.policy import TrainConfig

    _check_suffix(args.out, ".pt")
    _refuse_existing(args.out, args.overwrite)
    config = dataclasses.replace(
        TrainConfig(), n_updates=args.n_updates, batch_size=args.batch_size, seed=args.seed
    )
    history = train_policy(args.out, train_config=config)
    print(
        f"policy saved to {args.out} after {len(history['loss'])} updates; final mean "
        f"distance to target {history['distance_cm'][-1]:.2f} cm"
    )


def _run_fit(args) -> None:
    from neurognocchi.runs import build_estimator, fit_run, parse_overrides, read_config

    params = read_config(args.config) | parse_overrides(args.overrides)
    if args.quiet:
        params["verbose"] = False
    if not args.resume:
        build_estimator(args.model or "gnocchi", params)  # bad parameters fail before any I/O
    model = fit_run(
        args.data,
        args.out,
        model=args.model,
        params=params,
        fit_on=args.fit_on,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    print(f"{type(model).__name__} fitted in {model.fit_seconds_:.1f} s; run saved in {args.out}")


def _check_suffix(path: Path, suffix: str) -> None:
    if path.suffix != suffix:
        raise ValueError(f"--out must end in {suffix}; got {str(path)!r}")


def _run_encode(args) -> None:
    from neurognocchi.data import load_trials
    from neurognocchi.runs import load_model

    _check_suffix(args.out, ".npy")
    _refuse_existing(args.out, args.overwrite)
    codes = load_model(args.run).encode(load_trials(args.data))
    with atomic_write(args.out) as handle:
        np.save(handle, codes)
    print(f"saved {codes.shape[0]} codes of size {codes.shape[1]} to {args.out}")


def _read_codes(path: Path) -> np.ndarray:
    if path.suffix != ".npy" or not path.is_file():
        raise ValueError(f"--codes must be an existing .npy file; got {str(path)!r}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"--codes: {str(path)!r} is not a readable .npy array ({error})") from None


def _run_generate(args) -> None:
    from neurognocchi.runs import load_model

    _check_suffix(args.out, ".npz")
    _refuse_existing(args.out, args.overwrite)
    model = load_model(args.run)
    options = {"random_state": args.seed}
    if args.n_steps is not None:
        if not hasattr(model, "n_sample_steps"):
            raise ValueError(f"--n-steps applies to GNOCCHI only; {args.run} is not GNOCCHI")
        options["n_steps"] = args.n_steps
    arrays = {}
    if args.prior is not None:
        if args.n_samples != 1:
            raise ValueError("--n-samples applies to --codes; --prior N gives N samples")
        samples = model.sample_prior(args.prior, **options)[:, None]
    else:
        arrays["codes"] = codes = _read_codes(args.codes)
        samples = model.generate(codes, n_samples=args.n_samples, **options)
    with atomic_write(args.out) as handle:
        np.savez(handle, samples=samples, **arrays)
    print(f"saved samples {samples.shape} (codes, samples, time, neurons) to {args.out}")


def _run_evaluate(args) -> None:
    from neurognocchi.runs import evaluate_runs

    outputs = [args.out / "metrics.json", args.out / "report.html"]
    for path in outputs:
        _refuse_existing(path, args.overwrite)
    comparison = evaluate_runs(args.runs, args.data, args.out, n_samples=args.n_samples)
    print(comparison["markdown"])
    print(f"metrics: {outputs[0]}\nreport: {outputs[1]}")


def _parse_value(text: str):
    """A value of a numeric condition column from the command line: an int or a float."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read_recording(args):
    from neurognocchi import data

    path, smooth = args.path, args.smooth or None
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if path.suffix == ".nwb":
        return data.load_nwb(
            path,
            align=args.align,
            window_s=tuple(args.window),
            bin_size_s=args.bin_size,
            smooth_sigma_s=smooth,
        )
    if path.suffix == ".mat":
        return data.load_mat(
            path, bin_size_s=args.bin_size, smooth_sigma_s=smooth, variable=args.variable
        )
    if path.suffix in (".npy", ".npz"):
        return data.load_trials(path, bin_size_s=args.bin_size)
    raise ValueError(f"path must be a .nwb, .mat, .npy or .npz recording; got {str(path)!r}")


def _run_convert(args) -> None:
    _check_suffix(args.out, ".npz")
    _refuse_existing(args.out, args.overwrite)
    if args.out.resolve() == args.path.resolve():
        raise ValueError("--out must differ from the input path")
    trials = _read_recording(args)
    if args.heldout:
        numeric = trials.info(args.condition_key).dtype.kind != "U"
        values = [_parse_value(text) for text in args.heldout] if numeric else args.heldout
        trials = trials.mark_heldout(values, key=args.condition_key)
    trials.save(args.out)
    print(trials)
    print(f"saved {args.out}")


def _run_info(args) -> None:
    from neurognocchi.data import load_trials

    print(load_trials(args.path))


def _run_demo(args) -> None:
    from neurognocchi.demo import run_demo

    run_demo(args.out, quick=args.quick, seed=args.seed, overwrite=args.overwrite)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurognocchi`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    runners = {
        "synth": _run_synth,
        "fit": _run_fit,
        "encode": _run_encode,
        "generate": _run_generate,
        "evaluate": _run_evaluate,
        "convert": _run_convert,
        "demo": _run_demo,
        "info": _run_info,
    }
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
