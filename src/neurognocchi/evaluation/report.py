"""A self-contained HTML report of a model comparison (DESIGN §7).

The first screen answers the question: the headline numbers per model with the floors, the
best marked where it stands apart, one sentence of what they show
(:mod:`neurognocchi.evaluation.headline`), any flags, and the key figures beside them. The full
table follows, grouped and collapsible, then the other figures, the data, the models and the
run. Figures (`neurognocchi.evaluation.figures`) are embedded as base64 PNGs (or written beside
the HTML); every number is formatted from the ``compare`` result by
`neurognocchi.evaluation.comparison.format_value`, so the report shows exactly what the API
returned.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from neurognocchi._checks import InvalidArgumentError
from neurognocchi._io import atomic_write_text
from neurognocchi.evaluation.figures import (
    FIGURE_CAPTIONS,
    comparison_figures,
    figure_png,
    save_figure,
)
from neurognocchi.evaluation.headline import headline

__all__ = ["metrics_table_html", "report_html", "versions", "write_report"]

#: The figures shown beside the headline numbers; the others follow the full table.
KEY_FIGURES = ("navigation", "disentanglement", "reconstruction")
#: The full table's groups: title, and the key prefixes of its rows (the rest: "Other").
TABLE_GROUPS = (
    ("What each model is", ("output_kind", "training_labels")),
    ("Codes", ("snr_db_", "code_r2_", "condition_participation_ratio", "orthogonality_cos",
               "decoding_cos")),
    ("Held-out targets", ("heldout_",)),
    ("Reconstruction", ("reconstruction_", "bits_per_spike", "cosmooth_")),
    ("Behaviour decoder and navigation", ("decoder_r2_valid", "navigation_", "joint_")),
    ("Traversals (disentanglement)", ("unintended_", "intended_gain_", "traversal_spread_")),
    ("Sample statistics", ("unconditional_", "conditional_")),
    ("Spike statistics", ("spikes_",)),
    ("Paired comparisons", ("paired_",)),
    ("Time", ("fit_seconds", "evaluate_seconds")),
)  # fmt: skip

PACKAGES = ("neurognocchi", "numpy", "scipy", "scikit-learn", "torch", "matplotlib")
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th[scope="row"] { text-align: left; font-weight: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { background: #e8f4e8; }
details { margin: 0.4em 0; } summary { cursor: pointer; font-weight: 600; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
"""


def versions() -> dict[str, str]:
    """Python, platform and package versions of this run."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for package in PACKAGES:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _esc(value) -> str:
    return html.escape(str(value))


def _key_value_table(rows: Mapping, *, table_id: str) -> str:
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows.items())
    return f'<table id="{table_id}">{body}</table>'


def metrics_table_html(table: Mapping, *, table_id: str = "metrics") -> str:
    """The comparison table; each number cell carries ``data-key`` and ``data-model``."""
    header = "".join(f"<th>{_esc(c)}</th>" for c in table["columns"])
    models = table["columns"][1:]
    rows = []
    for row in table["rows"]:
        cells = "".join(
            f'<td class="num" data-key="{_esc(row["key"])}" data-model="{_esc(model)}">'
            f"{_esc(cell)}</td>"
            for model, cell in zip(models, row["cells"], strict=True)
        )
        rows.append(f'<tr><th scope="row">{_esc(row["label"])}</th>{cells}</tr>')
    return (
        f'<table id="{table_id}"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
    )


def _group_of(key: str) -> str:
    return next((title for title, keys in TABLE_GROUPS if key.startswith(keys)), "Other")


def grouped_metrics_html(table: Mapping) -> str:
    """The full table, one collapsible group (``<details>``) per kind of number, inside
    ``<div id="metrics">``."""
    titles = [title for title, _ in TABLE_GROUPS] + ["Other"]
    groups: dict[str, list] = {title: [] for title in titles}
    for row in table["rows"]:
        groups[_group_of(row["key"])].append(row)
    parts = [
        f"<details><summary>{_esc(title)} ({len(rows)} rows)</summary>"
        + metrics_table_html(table | {"rows": rows}, table_id=f"metrics-{i}")
        + "</details>"
        for i, (title, rows) in enumerate(groups.items())
        if rows
    ]
    return f'<div id="metrics">{"".join(parts)}</div>'


def headline_html(comparison: Mapping) -> str:
    """The headline sentence and table; the best model's cell is bold and marked ★, the
    cells of models level at the top are marked =."""
    head = headline(comparison)
    header = "".join(f"<th>{_esc(c)}</th>" for c in ["metric", *head["columns"]])
    rows = []
    for row in head["rows"]:
        cells = []
        for column, cell in zip(head["columns"], row["cells"], strict=True):
            if column in row["best"]:
                cells.append(f'<td class="num best"><strong>{_esc(cell)} ★</strong></td>')
            elif column in row["level"]:
                cells.append(f'<td class="num level">{_esc(cell)} =</td>')
            else:
                cells.append(f'<td class="num">{_esc(cell)}</td>')
        rows.append(f'<tr><th scope="row">{_esc(row["label"])}</th>{"".join(cells)}</tr>')
    legend = (
        "<p>★ best: ahead of every other model by more than the larger s.d. over sampling "
        "seeds; =: level at the top (within that margin). Floors are references, not bounds.</p>"
    )
    return (
        f'<p id="headline-sentence">{_esc(head["sentence"])}</p>'
        f'<table id="headline"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"</table>{legend}"
    )


def _metrics_intro(results: Mapping) -> str:
    config = next(iter(results.values()))["config"]
    return (
        "<p>Validation trials of held-in conditions or held-out conditions, as labelled "
        f"(DESIGN §7). Generating steps use K = {config['n_samples']} samples per code "
        f"({'shared' if config['common_noise'] else 'independent'} noise across the codes of "
        "a traversal or navigation) and show mean ± s.d. over "
        f"{config['n_sampling_seeds']} sampling seeds. Floors: the same numbers with real "
        "trials in place of samples (K of them per code, drawn from its condition) and with "
        "noise-free references (condition means of the truth, smoothed like the data, or of "
        "the activity). Code read-outs use codes whitened on the training trials, so no number "
        "depends on how a model scales its codes. n/a: undefined; —: no floor; cannot generate: "
        "the model only encodes trials (e.g. CEBRA), so only its code numbers exist.</p>"
    )


def _flags_html(results: Mapping) -> str:
    items = [
        f"<li>{_esc(name)}: {_esc(flag)}</li>"
        for name, result in results.items()
        for flag in result.get("flags", [])
    ]
    return f'<ul id="flags">{"".join(items)}</ul>' if items else ""


def _models_html(results: Mapping) -> str:
    parts = []
    for name, result in results.items():
        config = result["config"]
        parts.append(f"<h3>{_esc(name)} ({_esc(config['model'])})</h3>")
        parts.append(_key_value_table(config["model_params"], table_id=f"params-{_esc(name)}"))
    return "".join(parts)


def _data_html(results: Mapping, trials) -> str:
    config = next(iter(results.values()))["config"]
    keys = (
        "n_train",
        "n_valid",
        "n_heldout",
        "heldout_conditions",
        "bin_size_s",
        "grid_spacing",
        "position_names",
        "code_dim",
    )
    described = f"<pre>{_esc(repr(trials))}</pre>" if trials is not None else ""
    return described + _key_value_table({k: config.get(k) for k in keys}, table_id="data")


def _protocol_html(results: Mapping, run_seconds) -> str:
    config = next(iter(results.values()))["config"]
    rows = {
        "seed": config["seed"],
        "seed offsets": json.dumps(config["seed_offsets"]),
        "samples per code (K)": config["n_samples"],
        "sampling seeds": config["n_sampling_seeds"],
        "common noise": config["common_noise"],
        "data smoothing s.d. (s)": config["smoothing_sigma_s"],
        "reconstruction reference": config["reference"],
        "traversal steps": config["n_steps"],
        "start/end window (bins)": config["window_bins"],
        "run time (s)": "n/a" if run_seconds is None else f"{run_seconds:.1f}",
        "written (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }
    return _key_value_table(rows, table_id="run")


def _figures_html(figures: Mapping, figures_dir: Path | None, html_dir: Path, dpi: int) -> str:
    parts = []
    for name, fig in figures.items():
        if figures_dir is None:
            encoded = base64.b64encode(figure_png(fig, dpi=dpi)).decode("ascii")
            src = f"data:image/png;base64,{encoded}"
        else:
            path = save_figure(fig, figures_dir / f"{name}.png", dpi=dpi)
            src = os.path.relpath(path, html_dir).replace(os.sep, "/")
        parts.append(
            f'<figure id="fig-{name}"><img src="{_esc(src)}" alt="{_esc(name)}">'
            f"<figcaption>{_esc(FIGURE_CAPTIONS.get(name, name))}</figcaption></figure>"
        )
    return "".join(parts)


def report_html(
    comparison: Mapping,
    *,
    trials=None,
    title: str = "neurognocchi evaluation",
    run_seconds: float | None = None,
    figures_dir=None,
    html_dir=".",
    dpi: int = 100,
    figures: Mapping | None = None,
) -> str:
    """The report as an HTML string (see :func:`write_report`)."""
    results = comparison["models"]
    if figures is None:
        bin_size_s = next(iter(results.values()))["config"]["bin_size_s"]
        figures = comparison_figures(comparison, bin_size_s=bin_size_s)
    summaries = {name: result["summary"] for name, result in results.items()}
    where = (None if figures_dir is None else Path(figures_dir), Path(html_dir), dpi)
    key_figures = {name: fig for name, fig in figures.items() if name in KEY_FIGURES}
    other_figures = {name: fig for name, fig in figures.items() if name not in KEY_FIGURES}
    sections = [
        f"<h1>{_esc(title)}</h1>",
        "<h2>Summary</h2>",
        headline_html(comparison),
        _flags_html(results),
        _figures_html(key_figures, *where),
        "<h2>All metrics</h2>",
        _metrics_intro(results),
        grouped_metrics_html(comparison["table"]),
        "<h2>Figures</h2>",
        _figures_html(other_figures, *where),
        "<h2>Data</h2>",
        _data_html(results, trials),
        "<h2>Models</h2>",
        _models_html(results),
        "<h2>Run</h2>",
        _protocol_html(results, run_seconds),
        _key_value_table(versions(), table_id="versions"),
        '<script type="application/json" id="summary">'
        + json.dumps(summaries, allow_nan=False).replace("</", "<\\/")
        + "</script>",
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def write_report(
    comparison: Mapping,
    path: str | os.PathLike,
    *,
    trials=None,
    title: str = "neurognocchi evaluation",
    run_seconds: float | None = None,
    embed_images: bool = True,
    dpi: int = 100,
    figures: Mapping | None = None,
) -> Path:
    """Write a self-contained HTML report of a :func:`~neurognocchi.evaluation.compare` result.

    Parameters
    ----------
    comparison : dict returned by ``compare``
    path : where the ``.html`` file goes (written atomically; parent folders created)
    trials : Trials, optional; described in the data section
    title : str
    run_seconds : float, optional; total run time shown in the report
    embed_images : bool
        True: PNGs embedded as data URIs (one file). False: PNGs written atomically into
        ``<stem>_figures/`` beside the HTML and referenced by relative paths.
    dpi : int
        Resolution of the PNGs.
    figures : dict name -> matplotlib Figure, optional
        The figures to show; default
        :func:`neurognocchi.evaluation.figures.comparison_figures`.

    Returns
    -------
    Path of the HTML file.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InvalidArgumentError(f"path must end in .html; got {str(path)!r}")
    if not isinstance(comparison, Mapping) or "models" not in comparison:
        raise InvalidArgumentError("comparison must be the dict returned by compare()")
    figures_dir = None if embed_images else path.parent / f"{path.stem}_figures"
    text = report_html(
        comparison,
        trials=trials,
        title=title,
        run_seconds=run_seconds,
        figures_dir=figures_dir,
        html_dir=path.parent,
        dpi=dpi,
        figures=figures,
    )
    atomic_write_text(path, text)
    return path
