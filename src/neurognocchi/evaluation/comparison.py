"""Side-by-side evaluation of several models: one protocol run each, one table."""

from __future__ import annotations

import math

from neurognocchi._checks import check_random_state
from neurognocchi._deprecation import renamed_keywords
from neurognocchi.evaluation.protocol import RENAMED, VARIABLES, evaluate

# (summary key, label, format): the rows of the comparison table, in order.
TABLE_ROWS = [
    *[(f"snr_db_{v}", f"code SNR {v} (dB)", ".2f") for v in VARIABLES],
    *[(f"code_r2_{v}", f"code → {v} linear R² (validation)", ".3f") for v in VARIABLES],
    ("heldout_error", "held-out target error (data units)", ".3f"),
    ("heldout_error_grid", "held-out target error (grid spacings)", ".3f"),
    ("heldout_r2", "held-out target R²", ".3f"),
    ("reconstruction_r2", "reconstruction R² (pooled, valid)", ".3f"),
    ("reconstruction_median_neuron_r2", "reconstruction R² (median neuron)", ".3f"),
    ("decoder_r2_valid", "behaviour decoder R² (real, valid)", ".3f"),
    ("orthogonality_cos", "abs. cosine, target_x vs target_y directions", ".3f"),
    ("navigation_endpoint_error", "navigation endpoint error (data units)", ".3f"),
    ("navigation_endpoint_error_grid", "navigation endpoint error (grid spacings)", ".3f"),
    ("navigation_start_error", "navigation decoded start error (data units)", ".3f"),
    ("navigation_psth_r2", "navigation PSTH R² (held-out conditions)", ".3f"),
    *[(f"unintended_{v}", f"unintended movement, traversing {v}", ".3f") for v in VARIABLES],
    *[
        (f"{kind}_{key}", f"{label}: {name}", fmt)
        for kind, label in (
            ("unconditional", "unconditional"),
            ("conditional", "conditional"),
            ("unconditional_spikes", "unconditional spikes"),
            ("conditional_spikes", "conditional spikes"),
        )
        for key, name, fmt in (
            ("mean_rel_error", "mean error (relative)", ".3f"),
            ("sd_rel_error", "s.d. error (relative)", ".3f"),
            ("corr_rmse", "correlation RMSE", ".3f"),
        )
    ],
    ("fit_seconds", "fit time (s)", ".1f"),
    ("evaluate_seconds", "evaluation time (s)", ".1f"),
]


def format_value(value, fmt: str) -> str:
    """How a summary number is displayed: ``format(value, fmt)``, "n/a" for None/NaN.

    Examples
    --------
    >>> format_value(0.12345, ".3f"), format_value(None, ".3f"), format_value(float("nan"), ".1f")
    ('0.123', 'n/a', 'n/a')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, fmt)


def summary_table(results: dict[str, dict]) -> dict:
    """Rows of the side-by-side table from each model's ``evaluate`` result.

    Returns ``{"columns": ["metric", *models], "rows": [{"key", "label", "format",
    "cells"}]}``; a row appears when at least one model's summary has its key.
    """
    names = list(results)
    rows = []
    for key, label, fmt in TABLE_ROWS:
        if not any(key in results[name]["summary"] for name in names):
            continue
        cells = [format_value(results[name]["summary"].get(key), fmt) for name in names]
        rows.append({"key": key, "label": label, "format": fmt, "cells": cells})
    return {"columns": ["metric", *names], "rows": rows}


def table_markdown(table: dict) -> str:
    """The table as GitHub Markdown.

    Examples
    --------
    >>> print(table_markdown(summary_table({"m": {"summary": {"heldout_r2": 0.5}}})))
    | metric | m |
    |---|---:|
    | held-out target R² | 0.500 |
    """
    lines = [
        "| " + " | ".join(table["columns"]) + " |",
        "|---" + "|---:" * (len(table["columns"]) - 1) + "|",
    ]
    lines += ["| " + " | ".join([row["label"], *row["cells"]]) + " |" for row in table["rows"]]
    return "\n".join(lines)


@renamed_keywords(**RENAMED)
def compare(models: dict, trials, **options) -> dict:
    """Evaluate each fitted model with the same split and seeds; one table.

    Parameters
    ----------
    models : dict of name -> fitted model (e.g. ``{"GNOCCHI": m1, "LFADS": m2}``)
    trials : Trials
    **options : passed to :func:`evaluate` (``split``, ``random_state``, ``n_samples``,
        ``n_traversal_steps``, ...); the old names ``seed`` and ``n_steps`` are accepted until
        0.3 with a DeprecationWarning.

    Returns
    -------
    dict with ``models`` (name -> ``evaluate`` result), ``table`` (see
    :func:`summary_table`) and ``markdown`` (the table as text).
    """
    if not isinstance(models, dict) or not models:
        raise ValueError(f"models must be a non-empty dict of name -> model; got {models!r}")
    # One seed for all models (None draws it once), so that every model sees the same split.
    options["random_state"] = check_random_state(options.get("random_state", 0))
    results = {str(name): evaluate(model, trials, **options) for name, model in models.items()}
    table = summary_table(results)
    return {"models": results, "table": table, "markdown": table_markdown(table)}
