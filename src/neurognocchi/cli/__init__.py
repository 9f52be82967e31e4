"""The ``neurognocchi`` command: its parser and entry point.

`main` parses the command line and runs one handler of `neurognocchi.cli.commands`, which
calls the library: run directories, the model registry and the ``demo`` pipeline are in
`neurognocchi.runs`, studies in `neurognocchi.study`. The command line only parses and prints.

User errors (bad arguments, unreadable files, a run directory that already exists) end with a
one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from neurognocchi.cli import augment
from neurognocchi.cli.commands import COMMANDS
from neurognocchi.diffusion.sampling import METHODS
from neurognocchi.estimators.outputs import OUTPUTS

__all__ = ["EXIT_USER_ERROR", "build_parser", "main"]

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
        help="reaching data -> fit GNOCCHI, LFADS and PPCA on held-in conditions -> evaluation "
        "protocol -> HTML report (about 12 min on 2 cores; --quick under 1)",
    )
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="output directory")
    demo.add_argument("--quick", action="store_true", help="smaller data and models, same pipeline")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--overwrite", action="store_true", help="replace an existing output")
    reference = subparsers.add_parser(
        "reference",
        help="the README's reference table: the demo for several seeds, mean ± s.d. "
        "(resumable; about 20 min per seed on 2 cores)",
    )
    reference.add_argument("--out", type=Path, default=Path("reference_output"))
    reference.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    reference.add_argument("--sampling-seeds", type=int, default=5)
    reference.add_argument("--quick", action="store_true", help="the quick demo's settings")
    study = subparsers.add_parser(
        "study",
        help="variants of estimator parameters × training seeds, each fitted and scored with "
        "the protocol; resumable (Optuna storage); CSV + JSON + HTML",
        description="Run (or resume, or join as a worker) the study a JSON config describes; "
        "see the guide's 'Studies' section for the file.",
    )
    study.add_argument("config", type=Path, help="study config (JSON)")
    study.add_argument("--out", type=Path, default=None, help="output folder (default: CONFIG "
                       "without .json)")  # fmt: skip
    study.add_argument(
        "--storage",
        help="SQLAlchemy URL of the Optuna storage shared by workers, e.g. "
        "postgresql://user@host/db (default: sqlite:///OUT/study.db)",
    )
    study.add_argument("--check", action="store_true", help="check the config; fit nothing")
    study.add_argument(
        "--report", action="store_true", help="write the outputs of the variants finished so "
        "far (e.g. while workers run); fit nothing",
    )  # fmt: skip


def _add_fit(subparsers) -> None:
    fit = subparsers.add_parser(
        "fit",
        help="fit GNOCCHI (activity or latent), LFADS, PPCA or CEBRA; writes a run directory",
    )
    fit.add_argument("data", type=Path, help="trials file (.npz/.npy) or save_memmap directory")
    fit.add_argument("--out", required=True, type=Path, help="run directory to create")
    fit.add_argument(
        "--model",
        choices=["gnocchi", "latent-gnocchi", "lfads", "ppca", "cebra"],
        default=None,
        help="model to fit (default gnocchi; latent-gnocchi fits the spike counts)",
    )
    fit.add_argument(
        "--preset", choices=["default", "long", "paper"], default=None,
        help="GNOCCHI's named settings (see the guide), under --config and --set",
    )  # fmt: skip
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
    fit.add_argument(
        "--precision", choices=["fp32", "bf16"], default=None,
        help="training arithmetic (GNOCCHI, LFADS; bf16 needs CUDA); as --set precision=...",
    )  # fmt: skip
    fit.add_argument(
        "--compile", action="store_true", default=None,
        help="run the training loss through torch.compile (GNOCCHI, LFADS; compiling takes "
        "minutes on CPU)",
    )  # fmt: skip
    fit.add_argument(
        "--mmap", action="store_true",
        help="memory-map the data (.npy or save_memmap directory) instead of reading it",
    )  # fmt: skip
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
    generate.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        help="sampler (GNOCCHI; default: the model's `sampler`)",
    )
    generate.add_argument(
        "--output",
        choices=OUTPUTS,
        default="activity",
        help="activity (data units), rates (expected counts per bin) or spikes (integer counts)",
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
    evaluate.add_argument("--n-samples", type=int, default=32, help="samples per code (K)")
    evaluate.add_argument(
        "--sampling-seeds",
        type=int,
        default=5,
        help="repeats of every generating step (mean ± s.d.)",
    )
    evaluate.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    table = subparsers.add_parser(
        "table",
        help="one table of mean ± s.d. from several evaluate outputs (e.g. one per training seed)",
    )
    table.add_argument("metrics", type=Path, nargs="+", help="metrics.json files of evaluate")
    table.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    report = subparsers.add_parser(
        "report", help="write the HTML report of an evaluate (or demo) metrics.json again"
    )
    report.add_argument("metrics", type=Path, help="metrics.json of evaluate or demo")
    report.add_argument("--out", required=True, type=Path, help="output .html file")
    report.add_argument("--data", type=Path, help="the evaluated trials file: adds its description")
    report.add_argument("--overwrite", action="store_true", help="replace an existing file")


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


def _add_export(subparsers) -> None:
    export = subparsers.add_parser(
        "export",
        help="write trials (.npz of synth/convert) or generated samples (.npz of generate) to "
        "an NWB file",
        description="Write a trials file (spike counts -> NWB units, trials and behaviour, as "
        "save_nwb) or the samples of `neurognocchi generate` (-> an NWB TimeSeries and a trials "
        "table, as save_samples_nwb) to an NWB file with session and subject metadata.",
    )
    export.add_argument("input", type=Path, help="trials file or generated-samples .npz")
    export.add_argument("--out", required=True, type=Path, help="output .nwb file")
    export.add_argument("--overwrite", action="store_true", help="replace an existing file")
    export.add_argument(
        "--bin-size", type=float, help="bin width (s): needed for generated samples and for "
        "trials that do not record it",
    )  # fmt: skip
    export.add_argument("--unit", help="generated samples: their unit (default Hz; spikes or "
                        "counts per bin for generate --output spikes / rates)")  # fmt: skip
    export.add_argument("--experimenter", action="append", help='"Last, First" (repeatable)')
    export.add_argument("--institution")
    export.add_argument("--lab")
    export.add_argument("--keywords", nargs="+", help="replace the default keywords")
    export.add_argument("--session-description")
    export.add_argument("--experiment-description")
    export.add_argument("--subject-id")
    export.add_argument("--species", help='e.g. "Macaca mulatta" (Latin binomial)')
    export.add_argument("--sex", choices=["M", "F", "U", "O"])
    export.add_argument("--age", help='ISO 8601 duration, e.g. "P8Y"')


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``neurognocchi`` command line, one sub-command per handler.

    Examples
    --------
    >>> build_parser().parse_args(["info", "trials.npz"]).command
    'info'
    """
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
    augment.add_parser(subparsers)
    _add_convert(subparsers)
    _add_export(subparsers)
    _add_demo(subparsers)
    info = subparsers.add_parser("info", help="describe a trials file (.npz/.npy)")
    info.add_argument("path", type=Path)
    return parser


def _one_line_warning(command: str):
    """A ``warnings.showwarning`` that prints ``neurognocchi <command>: warning: ...`` as one
    line (no source file and line: they are the package's, not the user's)."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"neurognocchi {command}: warning: {text}", file=file or sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurognocchi`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on a user error (one line on stderr), 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():  # restores the caller's warning display afterwards
            warnings.showwarning = _one_line_warning(args.command)
            COMMANDS[args.command](args)
    except (ValueError, TypeError, OSError, KeyError, ImportError) as error:  # ImportError:
        # an optional extra is missing (e.g. cebra); its message says what to install
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        message = " ".join(str(message).split())  # one line, whatever a library printed
        print(f"neurognocchi {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("neurognocchi: interrupted", file=sys.stderr)
        return 130
    return 0
