"""The model commands: ``fit`` (a run directory), ``encode`` (codes of trials), ``generate``
(trials from codes or from the prior) and ``params`` (each model's parameters, their defaults
and the reasons for them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurognocchi._checks import InvalidArgumentError
from neurognocchi._io import atomic_write
from neurognocchi.cli.options import check_suffix, refuse_existing

__all__ = ["add_parsers"]

# Choices written out, so that parsing and --help load no torch; tests/test_cli_flags.py checks
# them against diffusion.METHODS, estimators.outputs.OUTPUTS and runs.registry.MODELS.
SAMPLERS = ("ddim", "ddpm", "dpm-solver++", "unipc")
MODEL_NAMES = ("gnocchi", "latent-gnocchi", "lfads", "ppca", "cebra")  # runs.registry.MODELS
OUTPUTS = ("activity", "rates", "spikes")


def add_parsers(subparsers) -> None:
    """Register the sub-commands fit, encode, generate, params with their handlers."""
    _add_fit(subparsers)
    _add_encode(subparsers)
    _add_generate(subparsers)
    _add_params(subparsers)


def _add_fit(subparsers) -> None:
    fit = subparsers.add_parser(
        "fit",
        help="fit GNOCCHI (activity or latent), LFADS, PPCA or CEBRA; writes a run directory",
    )
    fit.add_argument("data", type=Path, help="trials file (.npz/.npy) or save_memmap directory")
    fit.add_argument("--out", required=True, type=Path, help="run directory to create")
    fit.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default=None,
        help="model to fit (default gnocchi; latent-gnocchi fits the spike counts)",
    )
    fit.add_argument(
        "--preset",
        choices=["default", "long", "paper"],
        default=None,
        help="GNOCCHI's named settings (see the guide), under --config and --set",
    )
    fit.add_argument("--config", type=Path, help="JSON file of estimator parameters")
    fit.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        dest="overrides",
        help="override one estimator parameter (repeatable), e.g. --set code_dim=8; "
        "`neurognocchi params --model M` lists them with their defaults",
    )
    fit.add_argument(
        "--fit-on",
        choices=["train", "heldin", "all"],
        default=None,
        help="trials to fit: the evaluation protocol's held-in training trials "
        "(default), every held-in trial, or all trials",
    )
    fit.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default=None,
        help="training arithmetic (GNOCCHI, LFADS; bf16 needs CUDA); as --set precision=...",
    )
    fit.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="run the training loss through torch.compile (GNOCCHI, LFADS; compiling takes "
        "minutes on CPU)",
    )
    fit.add_argument(
        "--mmap",
        action="store_true",
        help="memory-map the data (.npy or save_memmap directory) instead of reading it",
    )
    fit.add_argument("--resume", action="store_true", help="continue the run in --out")
    fit.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(handler=_fit)


def _fit_model_name(args) -> str:
    """The model ``fit`` trains: ``--model``, else the resumed run's, else GNOCCHI."""
    from neurognocchi.runs.directory import RUN_FILE

    record = args.out / RUN_FILE
    if args.model is None and args.resume and record.is_file():
        return str(json.loads(record.read_text()).get("model"))
    return args.model or "gnocchi"


def _fit(args) -> None:
    from neurognocchi.cli.params import flag_params, parse_overrides, preset_params, read_config
    from neurognocchi.runs.directory import fit_run
    from neurognocchi.runs.registry import build_estimator

    params = preset_params(args.preset, _fit_model_name(args))
    params |= read_config(args.config) | parse_overrides(args.overrides)
    if args.quiet:
        params["verbose"] = False
    flags = {"precision": args.precision, "compile": args.compile}
    params = flag_params(_fit_model_name(args), flags, params)
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
        mmap=args.mmap,
    )
    print(f"{type(model).__name__} fitted in {model.fit_seconds_:.1f} s; run saved in {args.out}")


def _add_encode(subparsers) -> None:
    encode = subparsers.add_parser("encode", help="codes of trials under a fitted model (.npy)")
    encode.add_argument("run", type=Path, help="run directory (from fit)")
    encode.add_argument("data", type=Path, help="trials file (.npz/.npy)")
    encode.add_argument("--out", required=True, type=Path, help="output .npy of codes")
    encode.add_argument("--overwrite", action="store_true", help="replace an existing file")
    encode.set_defaults(handler=_encode)


def _encode(args) -> None:
    from neurognocchi.data import load_trials
    from neurognocchi.runs.directory import load_model

    check_suffix(args.out, ".npy")
    refuse_existing(args.out, args.overwrite)
    codes = load_model(args.run).encode(load_trials(args.data))
    with atomic_write(args.out) as handle:
        np.save(handle, codes)
    print(f"saved {codes.shape[0]} codes of size {codes.shape[1]} to {args.out}")


def _read_codes(path: Path) -> np.ndarray:
    if path.suffix != ".npy" or not path.is_file():
        raise InvalidArgumentError(f"--codes must be an existing .npy file; got {str(path)!r}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InvalidArgumentError(
            f"--codes: {str(path)!r} is not a readable .npy array ({error})"
        ) from None


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
        choices=SAMPLERS,
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
    generate.set_defaults(handler=_generate)


def _generate(args) -> None:
    from neurognocchi.runs.directory import load_model

    check_suffix(args.out, ".npz")
    refuse_existing(args.out, args.overwrite)
    model = load_model(args.run)
    if not callable(getattr(model, "generate", None)):
        raise InvalidArgumentError(
            f"{args.run} holds {type(model).__name__}, which cannot generate"
        )
    options = {"random_state": args.seed, "output": args.output}
    if args.n_steps is not None:
        if not hasattr(model, "n_sample_steps"):
            raise InvalidArgumentError(
                f"--n-steps applies to GNOCCHI only; {args.run} is not GNOCCHI"
            )
        options["n_steps"] = args.n_steps
    if args.method is not None:
        if not hasattr(model, "sampler"):
            raise InvalidArgumentError(
                f"--method applies to GNOCCHI only; {args.run} is not GNOCCHI"
            )
        options["method"] = args.method
    arrays = {}
    if args.prior is not None:
        if args.n_samples != 1:
            raise InvalidArgumentError("--n-samples applies to --codes; --prior N gives N samples")
        samples = model.sample_prior(args.prior, **options)[:, None]
    else:
        arrays["codes"] = codes = _read_codes(args.codes)
        samples = model.generate(codes, n_samples=args.n_samples, **options)
    # "samples" keeps its name whatever the output (export reads it); "output" says what it is.
    with atomic_write(args.out) as handle:
        np.savez(handle, samples=samples, output=np.array(args.output), **arrays)
    print(
        f"saved samples {samples.shape} (codes, samples, time, neurons) of {args.output} "
        f"({samples.dtype}) to {args.out}"
    )


def _add_params(subparsers) -> None:
    params = subparsers.add_parser(
        "params",
        help="list a model's parameters (--set and --config keys) with their defaults",
    )
    params.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default=None,
        help="one model (default: every model)",
    )
    params.add_argument(
        "--markdown",
        action="store_true",
        help="a Markdown table per model with the reason for each default (docs/parameters.md)",
    )
    params.set_defaults(handler=_params)


def _params(args) -> None:
    from neurognocchi.estimators.parameters import markdown_table, text_listing
    from neurognocchi.runs.registry import MODELS, PARAMETERS

    names = [args.model] if args.model else list(PARAMETERS)
    blocks = []
    for name in names:
        title = f"{MODELS[name].__name__} (--model {name})"
        if args.markdown:
            blocks.append(f"## {title}\n\n{markdown_table(PARAMETERS[name])}")
        else:
            blocks.append(f"{title}\n{text_listing(PARAMETERS[name])}")
    print("\n\n".join(blocks))
