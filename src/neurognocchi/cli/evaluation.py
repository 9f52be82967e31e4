"""The evaluation commands: ``evaluate`` (the protocol on fitted runs: metrics + HTML report),
``table`` (mean ± s.d. over several evaluations) and ``report`` (the HTML report again).
"""

from __future__ import annotations

from pathlib import Path

from neurognocchi.cli.options import check_suffix, refuse_existing

__all__ = ["add_parsers"]


def add_parsers(subparsers) -> None:
    """Register the sub-commands evaluate, table, report with their handlers."""
    _add_evaluate(subparsers)
    _add_table(subparsers)
    _add_report(subparsers)


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
    evaluate.set_defaults(handler=_evaluate)


def _evaluate(args) -> None:
    from neurognocchi.runs.directory import evaluate_runs

    outputs = [args.out / "metrics.json", args.out / "report.html"]
    for path in outputs:
        refuse_existing(path, args.overwrite)
    comparison = evaluate_runs(
        args.runs,
        args.data,
        args.out,
        n_samples=args.n_samples,
        n_sampling_seeds=args.sampling_seeds,
    )
    print(comparison["markdown"])
    print(f"metrics: {outputs[0]}\nreport: {outputs[1]}")


def _add_table(subparsers) -> None:
    table = subparsers.add_parser(
        "table",
        help="one table of mean ± s.d. from several evaluate outputs (e.g. one per training seed)",
    )
    table.add_argument("metrics", type=Path, nargs="+", help="metrics.json files of evaluate")
    table.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    table.set_defaults(handler=_table)


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


def _add_report(subparsers) -> None:
    report = subparsers.add_parser(
        "report", help="write the HTML report of an evaluate (or demo) metrics.json again"
    )
    report.add_argument("metrics", type=Path, help="metrics.json of evaluate or demo")
    report.add_argument("--out", required=True, type=Path, help="output .html file")
    report.add_argument("--data", type=Path, help="the evaluated trials file: adds its description")
    report.add_argument("--overwrite", action="store_true", help="replace an existing file")
    report.set_defaults(handler=_report)


def _report(args) -> None:
    from neurognocchi.runs.metrics import rerender_report

    check_suffix(args.out, ".html")
    refuse_existing(args.out, args.overwrite)
    rerender_report(args.metrics, args.out, data=args.data)
    print(f"report: {args.out}")
