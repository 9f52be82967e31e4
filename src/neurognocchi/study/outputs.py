"""A study's results from its storage, and the files it writes: CSV, JSON and HTML.

``study.csv`` has one row per fit (variant × seed) and one column per number of the protocol
(floors as ``floor.<kind>.<key>``); ``study.json`` has every variant's mean, s.d. and per-seed
values, the floors, and the config; ``study.html`` has the headline table and one figure per
metric (inline SVG: mean ± s.d. over seeds per variant, seeds as dots, floors as lines).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path

import numpy as np

from neurognocchi._io import atomic_write_text
from neurognocchi.evaluation.comparison import TABLE_ROWS, format_value

__all__ = [
    "HEADLINE_METRICS",
    "metric_markdown",
    "study_markdown",
    "study_results",
    "table_rows",
    "write_outputs",
]

#: The columns of the study table (README, HTML): the issue's "measure for every variant".
HEADLINE_METRICS = (
    "unintended_target_x",
    "unintended_target_y",
    "intended_gain_target_x",
    "intended_gain_target_y",
    "navigation_bias",
    "navigation_spread",
    "orthogonality_cos",
    "decoding_cos",
    "code_r2_target_x",
    "code_r2_start_x",
    "code_r2_start_y",
    "code_r2_go_time",
    "condition_participation_ratio",
    "reconstruction_r2",
    "heldout_error",
    "conditional_sd_rel_error",
    "fit_seconds",
)
FORMATS = {key: fmt for key, _, fmt in TABLE_ROWS}
LABELS = {key: label for key, label, _ in TABLE_ROWS}


def _stats(values: list) -> dict:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return {"mean": None, "sd": None, "n": 0, "values": values}
    sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else None
    return {"mean": float(np.mean(finite)), "sd": sd, "n": len(finite), "values": values}


def _variant_entry(trial, seeds: list[str]) -> dict:
    per_seed = trial.user_attrs["metrics"]
    keys = list(dict.fromkeys(k for s in seeds for k in per_seed.get(s, {})))
    keys = [key for key in keys if not key.startswith("evaluation.")]  # settings, not results
    metrics = {key: _stats([per_seed.get(s, {}).get(key) for s in seeds]) for key in keys}
    value = trial.value if trial.value is not None and math.isfinite(trial.value) else None
    return {
        "name": trial.user_attrs["variant"],
        "model": trial.user_attrs["model"],
        "params": trial.user_attrs["params"],
        "input": trial.user_attrs.get("input", "activity"),
        "objective": value,
        "seconds": trial.user_attrs.get("seconds"),
        "metrics": {k: v for k, v in metrics.items() if not k.startswith("floor.")},
        "floors": {k: v for k, v in metrics.items() if k.startswith("floor.")},
    }


def study_results(study, config) -> dict:
    """Every finished variant of ``study`` (config order, then search proposals), the
    floors (shared by every variant of a seed: same data, split and plans) and the best."""
    from optuna.trial import TrialState

    seeds = [str(s) for s in config.seeds]
    trials = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        trials.setdefault(trial.user_attrs.get("variant"), trial)
    order = [v.name for v in config.variants if v.name in trials]
    order += sorted(
        (n for n in trials if n and n.startswith("search-")), key=lambda n: trials[n].number
    )
    variants = [_variant_entry(trials[name], seeds) for name in order]
    failed = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        name = trial.user_attrs.get("variant")
        if name not in trials and "error" in trial.user_attrs:
            failed[name] = trial.user_attrs["error"]  # the latest try's reason
    scored = [v for v in variants if v["objective"] is not None]
    pick = min if config.direction == "minimize" else max
    best = pick(scored, key=lambda v: v["objective"])["name"] if scored else None
    return {
        "name": config.name,
        "objective": {"metric": config.metric, "direction": config.direction, "best": best},
        "seeds": config.seeds,
        "data": config.data,
        "evaluation": {"n_samples": config.n_samples, "n_sampling_seeds": config.n_sampling_seeds},
        "variants": variants,
        "floors": variants[0]["floors"] if variants else {},
        "failed": failed,
        "config": config.raw,
    }


# ---------------------------------------------------------------------- files
def _csv_text(results: dict) -> str:
    rows = []
    for variant in results["variants"]:
        for i, seed in enumerate(results["seeds"]):
            row = {"variant": variant["name"], "model": variant["model"], "seed": seed}
            for part in ("metrics", "floors"):
                row |= {key: stats["values"][i] for key, stats in variant[part].items()}
            rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def table_rows(results: dict, metrics=HEADLINE_METRICS) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the study table: one row per variant (mean ± s.d. over seeds), then
    the floors' rows; a metric no variant has is left out."""
    present = [m for m in metrics if any(m in v["metrics"] for v in results["variants"])]
    header = ["variant", "model", *present]
    rows = []
    for variant in results["variants"]:
        cells = [variant["metrics"].get(m, {}) for m in present]
        rows.append(
            [
                variant["name"],
                variant["model"],
                *(
                    format_value(c.get("mean"), FORMATS.get(m, ".3f"), c.get("sd"))
                    for m, c in zip(present, cells, strict=True)
                ),
            ]
        )
    for kind in ("single_trial", "noise_free"):
        cells = [results["floors"].get(f"floor.{kind}.{m}") for m in present]
        if any(c and c["mean"] is not None for c in cells):
            rows.append(
                [
                    f"floor: {kind.replace('_', ' ')}",
                    "",
                    *(
                        format_value(c["mean"], FORMATS.get(m, ".3f"), c["sd"]) if c else "—"
                        for m, c in zip(present, cells, strict=True)
                    ),
                ]
            )
    return header, rows


def study_markdown(results: dict, metrics=HEADLINE_METRICS) -> str:
    """The study table as Markdown (for README and the terminal)."""
    header, rows = table_rows(results, metrics)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def metric_markdown(results: dict, metrics) -> str:
    """The study as Markdown with one row per metric (its table label) and one column per
    variant (mean ± s.d. over seeds), then the floors'; "n/a" where a variant has no value."""
    kinds = [
        k
        for k in ("single_trial", "noise_free")
        if any(f"floor.{k}.{m}" in results["floors"] for m in metrics)
    ]
    header = [
        "metric",
        *(v["name"] for v in results["variants"]),
        *(f"floor: {k.replace('_', ' ')}" for k in kinds),
    ]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for metric in metrics:
        fmt = FORMATS.get(metric, ".3f")
        cells = [variant["metrics"].get(metric, {}) for variant in results["variants"]]
        cells += [results["floors"].get(f"floor.{kind}.{metric}") or {} for kind in kinds]
        row = [
            LABELS.get(metric, metric),
            *(format_value(c.get("mean"), fmt, c.get("sd")) for c in cells),
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def _axis(results: dict, key: str, variants: list) -> tuple[float, float]:
    values = [x for v in variants for x in v["metrics"][key]["values"] if x is not None]
    for kind in ("single_trial", "noise_free"):
        floor = results["floors"].get(f"floor.{kind}.{key}")
        if floor and floor["mean"] is not None:
            values.append(floor["mean"])
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = 0.05 * (high - low) if high > low else 0.5 * abs(low) or 1.0
    return low - pad, high + pad


def _metric_figure(results: dict, key: str) -> str:
    """One metric as an inline SVG: a grey dot per seed, mean ± s.d. per variant (blue), the
    floors as red lines (dashed: real trials, dotted: noise-free). Drawn directly, not with
    matplotlib: a study has ~90 metrics and the page is written after every run."""
    variants = [v for v in results["variants"] if key in v["metrics"]]
    left, width, row_h = 170, 380, 18
    height = row_h * len(variants) + 40
    low, high = _axis(results, key, variants)

    def x(value: float) -> float:
        return left + width * (value - low) / (high - low)

    esc, parts = html.escape, []
    for row, variant in enumerate(variants):
        y, stats = 14 + row * row_h, variant["metrics"][key]
        parts.append(
            f"<text x='{left - 6}' y='{y + 4}' text-anchor='end'>{esc(variant['name'])}</text>"
        )
        for value in (v for v in stats["values"] if v is not None):
            parts.append(f"<circle cx='{x(value):.1f}' cy='{y}' r='2.5' fill='#999'/>")
        if stats["mean"] is not None:
            sd = stats["sd"] or 0.0
            parts.append(
                f"<line x1='{x(stats['mean'] - sd):.1f}' x2='{x(stats['mean'] + sd):.1f}'"
                f" y1='{y}' y2='{y}' stroke='#1f77b4' stroke-width='2'/>"
                f"<rect x='{x(stats['mean']) - 3:.1f}' y='{y - 3}' width='6' height='6'"
                " fill='#1f77b4'/>"
            )
    bottom = height - 26
    for kind, dash in (("single_trial", "5,3"), ("noise_free", "2,2")):
        floor = results["floors"].get(f"floor.{kind}.{key}")
        if floor and floor["mean"] is not None:
            parts.append(
                f"<line x1='{x(floor['mean']):.1f}' x2='{x(floor['mean']):.1f}' y1='4' "
                f"y2='{bottom}' stroke='#d62728' stroke-dasharray='{dash}'>"
                f"<title>floor: {kind}</title></line>"
            )
    parts.append(
        f"<line x1='{left}' x2='{left + width}' y1='{bottom}' y2='{bottom}' stroke='#333'/>"
        f"<text x='{left}' y='{bottom + 14}'>{low:.3g}</text><text x='{left + width}' "
        f"y='{bottom + 14}' text-anchor='end'>{high:.3g}</text>"
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 20}' "
        f"height='{height}' font-size='11' font-family='sans-serif'>{''.join(parts)}</svg>"
    )


def _failed_html(results: dict) -> str:
    if not results["failed"]:
        return ""
    items = "".join(
        f"<li>{html.escape(str(name))}: {html.escape(error)}</li>"
        for name, error in results["failed"].items()
    )
    return f"<p>Variants that failed (tried again at the next start):</p><ul>{items}</ul>"


def _html_text(results: dict) -> str:
    header, rows = table_rows(results)
    esc = html.escape
    table = "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"
    table += (
        "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        + "</table>"
    )
    keys = list(dict.fromkeys(k for v in results["variants"] for k in v["metrics"]))
    keys = [k for k in keys if k != "flags"]
    figures = "".join(
        f"<h3 id='{esc(k)}'>{esc(LABELS.get(k, k))}</h3>{_metric_figure(results, k)}" for k in keys
    )
    objective = results["objective"]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(results['name'])}"
        "</title><style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;"
        "padding:2px 6px;font-size:12px}table{border-collapse:collapse}</style></head><body>"
        f"<h1>Study {esc(results['name'])}</h1><p>Seeds {results['seeds']}; data "
        f"{esc(json.dumps(results['data']))}; evaluation {esc(json.dumps(results['evaluation']))}"
        f"; objective {esc(objective['metric'])} ({objective['direction']}), best: "
        f"{esc(str(objective['best']))}. Mean ± s.d. over seeds. Figures: grey dots are seeds, "
        "blue the mean ± s.d., red lines the floors (dashed: K-matched real trials; dotted: "
        f"noise-free).</p>{_failed_html(results)}{table}{figures}"
        "</body></html>"
    )


def write_outputs(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write ``study.csv``, ``study.json`` and ``study.html`` into ``out_dir`` (atomically),
    and ``table.md`` (:func:`metric_markdown`) when the config lists ``table`` metrics;
    return their paths."""
    out_dir = Path(out_dir)
    paths = {name: out_dir / f"study.{name}" for name in ("csv", "json", "html")}
    atomic_write_text(paths["csv"], _csv_text(results))
    atomic_write_text(paths["json"], json.dumps(results, indent=1, allow_nan=False))
    atomic_write_text(paths["html"], _html_text(results))
    table = results.get("config", {}).get("table")
    if table:
        paths["table"] = out_dir / "table.md"
        atomic_write_text(paths["table"], metric_markdown(results, table) + "\n")
    return paths
