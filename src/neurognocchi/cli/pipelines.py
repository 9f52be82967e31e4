"""The pipelines: ``demo`` (reaching data -> GNOCCHI, LFADS and PPCA -> the protocol -> one
report), ``reference`` (the demo over several seeds) and ``study`` (variants × seeds on an
Optuna storage).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["add_parsers"]


def add_parsers(subparsers) -> None:
    """Register the sub-commands demo, reference, study with their handlers."""
    _add_demo(subparsers)
    _add_reference(subparsers)
    _add_study(subparsers)


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
    demo.set_defaults(handler=_demo)


def _demo(args) -> None:
    from neurognocchi.runs.demo import run_demo

    run_demo(
        args.out, quick=args.quick, random_state=args.seed, overwrite=args.overwrite, echo=print
    )


def _add_reference(subparsers) -> None:
    reference = subparsers.add_parser(
        "reference",
        help="the README's reference table: the demo for several seeds, mean ± s.d. "
        "(resumable; about 20 min per seed on 2 cores)",
    )
    reference.add_argument("--out", type=Path, default=Path("reference_output"))
    reference.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    reference.add_argument("--sampling-seeds", type=int, default=5)
    reference.add_argument("--quick", action="store_true", help="the quick demo's settings")
    reference.set_defaults(handler=_reference)


def _reference(args) -> None:
    from neurognocchi.runs.demo import run_reference

    run_reference(
        args.out,
        seeds=args.seeds,
        n_sampling_seeds=args.sampling_seeds,
        quick=args.quick,
        echo=print,
    )


def _add_study(subparsers) -> None:
    study = subparsers.add_parser(
        "study",
        help="variants of estimator parameters × training seeds, each fitted and scored with "
        "the protocol; resumable (Optuna storage); CSV + JSON + HTML",
        description="Run (or resume, or join as a worker) the study a JSON config describes; "
        "see the guide's 'Studies' section for the file.",
    )
    study.add_argument("config", type=Path, help="study config (JSON)")
    study.add_argument(
        "--out", type=Path, default=None, help="output folder (default: CONFIG without .json)"
    )
    study.add_argument(
        "--storage",
        help="SQLAlchemy URL of the Optuna storage shared by workers, e.g. "
        "postgresql://user@host/db (default: sqlite:///OUT/study.db)",
    )
    study.add_argument("--check", action="store_true", help="check the config; fit nothing")
    study.add_argument(
        "--report",
        action="store_true",
        help="write the outputs of the variants finished so "
        "far (e.g. while workers run); fit nothing",
    )
    study.set_defaults(handler=_study)


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
