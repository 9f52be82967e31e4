"""The handlers of the ``neurognocchi`` sub-commands, one function each, listed in `COMMANDS`.

Each takes the parsed arguments and raises ``ValueError``, ``TypeError``, ``OSError`` or
``KeyError`` on a user error (``main`` prints it as one line, exit status 2). Heavy imports
(torch, the estimators, MotorNet) happen inside the handlers, so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from neurognocchi._io import atomic_write
from neurognocchi.cli import augment

__all__ = ["COMMANDS"]


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass --overwrite to replace it")


def _check_suffix(path: Path, suffix: str) -> None:
    if path.suffix != suffix:
        raise ValueError(f"--out must end in {suffix}; got {str(path)!r}")


# ---------------------------------------------------------------------- synth
def _synth(args) -> None:
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
    from neurognocchi.data.reaching.train_policy import PolicyTrainConfig, train_policy

    _check_suffix(args.out, ".pt")
    _refuse_existing(args.out, args.overwrite)
    config = PolicyTrainConfig(n_updates=args.n_updates, batch_size=args.batch_size, seed=args.seed)
    history = train_policy(args.out, train_config=config)
    print(
        f"policy saved to {args.out} after {len(history['loss'])} updates; final mean "
        f"distance to target {history['distance_cm'][-1]:.2f} cm"
    )


# ---------------------------------------------------------------------- fit, encode, generate
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


def _encode(args) -> None:
    from neurognocchi.data import load_trials
    from neurognocchi.runs.directory import load_model

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


def _generate(args) -> None:
    from neurognocchi.runs.directory import load_model

    _check_suffix(args.out, ".npz")
    _refuse_existing(args.out, args.overwrite)
    model = load_model(args.run)
    if not callable(getattr(model, "generate", None)):
        raise ValueError(f"{args.run} holds {type(model).__name__}, which cannot generate")
    options = {"random_state": args.seed, "output": args.output}
    if args.n_steps is not None:
        if not hasattr(model, "n_sample_steps"):
            raise ValueError(f"--n-steps applies to GNOCCHI only; {args.run} is not GNOCCHI")
        options["n_steps"] = args.n_steps
    if args.method is not None:
        if not hasattr(model, "sampler"):
            raise ValueError(f"--method applies to GNOCCHI only; {args.run} is not GNOCCHI")
        options["method"] = args.method
    arrays = {}
    if args.prior is not None:
        if args.n_samples != 1:
            raise ValueError("--n-samples applies to --codes; --prior N gives N samples")
        samples = model.sample_prior(args.prior, **options)[:, None]
    else:
        arrays["codes"] = codes = _read_codes(args.codes)
        samples = model.generate(codes, n_samples=args.n_samples, **options)
    # "samples" keeps its name whatever the output (export reads it); "output" says what it is.
    with atomic_write(args.out) as handle:
        np.savez(handle, samples=samples, output=np.array(args.output), **arrays)
    print(f"saved samples {samples.shape} (codes, samples, time, neurons) of {args.output} "
          f"({samples.dtype}) to {args.out}")  # fmt: skip


# ---------------------------------------------------------------------- evaluate, demo
def _evaluate(args) -> None:
    from neurognocchi.runs.directory import evaluate_runs

    outputs = [args.out / "metrics.json", args.out / "report.html"]
    for path in outputs:
        _refuse_existing(path, args.overwrite)
    comparison = evaluate_runs(
        args.runs,
        args.data,
        args.out,
        n_samples=args.n_samples,
        n_sampling_seeds=args.sampling_seeds,
    )
    print(comparison["markdown"])
    print(f"metrics: {outputs[0]}\nreport: {outputs[1]}")


def _table(args) -> None:
    from neurognocchi._io import atomic_write_text
    from neurognocchi.evaluation.comparison import seed_table, table_markdown
    from neurognocchi.runs.metrics import read_metrics

    comparisons = [read_metrics(path) for path in args.metrics]
    config = next(iter(comparisons[0]["models"].values()))["config"]
    text = (
        f"Mean ± s.d. over {len(comparisons)} evaluations ({', '.join(map(str, args.metrics))});"
        f" each evaluation's number is its mean over {config.get('n_sampling_seeds', 1)} "
        f"sampling seeds with K = {config['n_samples']}.\n\n"
        f"{table_markdown(seed_table(comparisons))}\n"
    )
    if args.out is not None:
        atomic_write_text(args.out, text)
    print(text, end="")


def _report(args) -> None:
    from neurognocchi.runs.metrics import rerender_report

    _check_suffix(args.out, ".html")
    _refuse_existing(args.out, args.overwrite)
    rerender_report(args.metrics, args.out, data=args.data)
    print(f"report: {args.out}")


def _demo(args) -> None:
    from neurognocchi.runs.demo import run_demo

    run_demo(args.out, quick=args.quick, random_state=args.seed, overwrite=args.overwrite)


def _reference(args) -> None:
    from neurognocchi.runs.demo import run_reference

    run_reference(
        args.out, seeds=args.seeds, n_sampling_seeds=args.sampling_seeds, quick=args.quick
    )


def _study(args) -> None:
    from neurognocchi.study import read_study_config, report_study, run_study, study_markdown

    config = read_study_config(args.config)  # every error before any fit
    out = args.out if args.out is not None else args.config.with_suffix("")
    n_fits = len(config.variants) * len(config.seeds)
    if config.search is not None:
        n_fits += config.search["n_variants"] * len(config.seeds)
    print(f"study {config.name!r}: {n_fits} fits ({len(config.seeds)} seeds) -> {out}")
    if args.check:
        return
    if args.report:
        results = report_study(config, out, storage=args.storage)
    else:
        results = run_study(config, out, storage=args.storage)
    print(study_markdown(results))
    for name, error in results["failed"].items():
        print(f"failed: {name}: {error} (tried again at the next start)")
    print(f"best ({results['objective']['metric']}): {results['objective']['best']}")
    tables = f", {out / 'table.md'}" if config.table else ""
    print(f"outputs: {out / 'study.csv'}, {out / 'study.json'}, {out / 'study.html'}{tables}")


# ---------------------------------------------------------------------- convert, info
def _parse_value(text: str):
    """A value of a numeric condition column from the command line: an int or a float."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read_recording(args):
    """The trials of ``args.path`` through `neurognocchi.data.load_trials`, with the options
    of the recording's reader taken from the command line."""
    from neurognocchi.data import load_trials

    path, smooth = args.path, args.smooth or None
    if path.suffix == ".nwb":
        options = {"align": args.align, "window_s": tuple(args.window), "smooth_sigma_s": smooth}
    elif path.suffix == ".mat":
        options = {"smooth_sigma_s": smooth, "variable": args.variable}
    else:
        options = {}
    return load_trials(path, bin_size_s=args.bin_size, **options)


def _convert(args) -> None:
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


def _read_samples(path: Path) -> dict | None:
    """The arrays of a generated-samples ``.npz`` (``samples`` and optionally ``codes``, as
    `_generate` writes), or None when ``path`` is not one (trials files have ``activity``)."""
    from neurognocchi.data.trials import read_npz

    if path.suffix != ".npz" or not zipfile.is_zipfile(path):
        return None  # load_trials reads (or says what is wrong with) everything else
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
    except zipfile.BadZipFile:
        return None
    if "samples" not in names or "activity" in names:
        return None
    return read_npz(path)


def _export_metadata(args) -> dict:
    """The metadata options of ``export`` as keyword arguments of the NWB writers."""
    subject = {"subject_id": args.subject_id, "species": args.species, "sex": args.sex,
               "age": args.age}  # fmt: skip
    return dict(
        experimenter=args.experimenter,
        institution=args.institution,
        lab=args.lab,
        keywords=args.keywords,
        session_description=args.session_description,
        experiment_description=args.experiment_description,
        subject={key: value for key, value in subject.items() if value is not None},
    )


def _export(args) -> None:
    _check_suffix(args.out, ".nwb")
    _refuse_existing(args.out, args.overwrite)
    if not args.input.exists():
        raise FileNotFoundError(f"no such file: {str(args.input)!r}")
    if args.out.resolve() == args.input.resolve():
        raise ValueError("--out must differ from the input path")
    samples = _read_samples(args.input)
    if samples is not None:
        _export_samples(args, samples)
    else:
        _export_trials(args)


_SAMPLE_UNITS = {"activity": "Hz", "rates": "expected spikes per bin", "spikes": "spikes per bin"}


def _export_samples(args, arrays: dict) -> None:
    from neurognocchi.data.nwb import save_samples_nwb

    if args.bin_size is None:
        raise ValueError("--bin-size is needed: a generated-samples .npz does not record it")
    samples = arrays["samples"]
    # The unit of what `generate --output` wrote (files written before it hold activity).
    unit = _SAMPLE_UNITS.get(str(arrays.get("output", "activity")), "Hz")
    options = dict(bin_size_s=args.bin_size, codes=arrays.get("codes"), unit=args.unit or unit)
    options |= _export_metadata(args)
    save_samples_nwb(samples, args.out, overwrite=args.overwrite, **options)
    print(f"saved samples {samples.shape} (codes, samples, time, neurons) to {args.out}")


def _export_trials(args) -> None:
    from neurognocchi.data import load_trials, save_nwb

    if args.unit is not None:
        raise ValueError("--unit applies to generated samples; trials are written as spikes")
    trials = load_trials(args.input, bin_size_s=args.bin_size)
    if trials.spikes is None:
        raise ValueError(f"{str(args.input)!r} has no spike counts; export writes spike times")
    if trials.bin_size_s is None:
        raise ValueError(f"--bin-size is needed: {str(args.input)!r} does not record it")
    if args.bin_size is not None and not np.isclose(args.bin_size, trials.bin_size_s):
        raise ValueError(
            f"--bin-size {args.bin_size:g} differs from the bin width of {str(args.input)!r}, "
            f"{trials.bin_size_s:g} s"
        )
    save_nwb(trials, args.out, overwrite=args.overwrite, **_export_metadata(args))
    print(trials)
    print(f"saved {args.out}")


def _info(args) -> None:
    from neurognocchi.data import load_trials

    print(load_trials(args.path))


# The handler of each sub-command (``main`` calls ``COMMANDS[args.command](args)``).
COMMANDS = {
    "synth": _synth,
    "fit": _fit,
    "encode": _encode,
    "generate": _generate,
    "evaluate": _evaluate,
    "convert": _convert,
    "export": _export,
    "demo": _demo,
    "table": _table,
    "report": _report,
    "reference": _reference,
    "study": _study,
    "augment": augment.run,
    "info": _info,
}
