"""Side-by-side evaluation of several models: one protocol run each, one table."""

from __future__ import annotations

import math

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_random_state
from neurognocchi.evaluation.cosmoothing import TABLE_ROWS as COSMOOTHING_ROWS
from neurognocchi.evaluation.joint import TABLE_ROWS as JOINT_ROWS
from neurognocchi.evaluation.paired import paired_fraction
from neurognocchi.evaluation.protocol import CODE_ONLY_VARIABLES, VARIABLES, evaluate
from neurognocchi.evaluation.sections import CANNOT_GENERATE
from neurognocchi.evaluation.spike_section import TABLE_ROWS as SPIKE_ROWS
from neurognocchi.evaluation.uncertainty import mean_and_sd

# (summary key, label, format): the rows of the comparison table, in order.
CODE_VARIABLES = (*VARIABLES, *CODE_ONLY_VARIABLES)
TABLE_ROWS = [
    *[(f"snr_db_{v}", f"code SNR {v} (dB)", ".2f") for v in CODE_VARIABLES],
    *[(f"code_r2_{v}", f"code → {v} linear R² (validation)", ".3f") for v in CODE_VARIABLES],
    ("condition_participation_ratio", "participation ratio of condition-mean codes", ".2f"),
    ("orthogonality_cos", "|cos| target_x vs target_y, encoding directions", ".3f"),
    ("decoding_cos", "|cos| target_x vs target_y, decoding directions", ".3f"),
    ("heldout_error", "held-out target error (data units)", ".3f"),
    ("heldout_error_grid", "held-out target error (grid spacings)", ".3f"),
    ("heldout_r2", "held-out target R²", ".3f"),
    ("reconstruction_r2", "reconstruction R² vs reference (valid)", ".3f"),
    ("reconstruction_r2_data", "reconstruction R² vs activity (valid)", ".3f"),
    ("reconstruction_median_neuron_r2", "reconstruction R² vs reference (median neuron)", ".3f"),
    ("bits_per_spike", "bits/spike (rate models, valid)", ".3f"),
    *COSMOOTHING_ROWS,
    ("decoder_r2_valid", "behaviour decoder R² (real, valid)", ".3f"),
    ("navigation_bias", "navigation bias ‖mean endpoint − goal‖ (data units)", ".3f"),
    ("navigation_bias_grid", "navigation bias (grid spacings)", ".3f"),
    ("navigation_spread", "navigation spread of sample endpoints (data units)", ".3f"),
    ("navigation_start_bias", "navigation decoded start bias (data units)", ".3f"),
    ("navigation_psth_r2", "navigation PSTH R² (held-out conditions)", ".3f"),
    *JOINT_ROWS,
    *[
        row
        for v in VARIABLES
        for row in (
            (f"unintended_{v}", f"unintended movement, traversing {v}", ".3f"),
            (f"intended_gain_{v}", f"intended gain, traversing {v}", ".2f"),
            (f"unintended_per_gain_{v}", f"unintended movement per unit gain, {v}", ".3f"),
            (f"traversal_spread_{v}", f"sample spread of endpoints, traversing {v}", ".3f"),
        )
    ],
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
    *SPIKE_ROWS,
    ("paired_neurons", "paired: fraction of neurons where {first} reconstructs better", ".2f"),
    ("paired_trials", "paired: fraction of held-out trials where {first} is closer", ".2f"),
    ("fit_seconds", "fit time (s)", ".1f"),
    ("evaluate_seconds", "evaluation time (s)", ".1f"),
]
# Summary keys made by the generating steps (DESIGN §7.3, 7.5-7.7 and Fig. 4D's pairing): a
# model that cannot generate (output_kind "codes", e.g. CEBRA) shows CANNOT_GENERATE there.
GENERATED_PREFIXES = (
    "reconstruction_",
    "bits_per_spike",
    "navigation_",
    "unintended_",
    "intended_gain_",
    "traversal_spread_",
    "unconditional_",
    "conditional_",
    "spikes_",
    "paired_neurons",
    "cosmooth_",
    "joint_",
)
FLOOR_COLUMNS = {
    "single_trial": "floor: real trials (K-matched)",
    "noise_free": "floor: noise-free",
}


def format_value(value, fmt: str, sd=None) -> str:
    """How a summary number is displayed: ``format(value, fmt)``, "n/a" for None/NaN, and
    ``"value ± sd"`` when an s.d. (over seeds) is given.

    Examples
    --------
    >>> format_value(0.12345, ".3f"), format_value(None, ".3f"), format_value(float("nan"), ".1f")
    ('0.123', 'n/a', 'n/a')
    >>> format_value(0.5, ".2f", sd=0.04)
    '0.50 ± 0.04'
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if sd is None or (isinstance(sd, float) and not math.isfinite(sd)):
        return format(value, fmt)
    return f"{format(value, fmt)} ± {format(sd, fmt)}"


def _columns(results: dict[str, dict]) -> dict[str, dict]:
    """Summary of each column: the models, then the floors of the first generating model's
    evaluation (every model is scored on the same split and seeds, so the floors are shared;
    a model that cannot generate has none)."""
    columns = {name: result["summary"] for name, result in results.items()}
    having = [result for result in results.values() if result.get("floor_summaries")]
    first = having[0] if having else next(iter(results.values()))
    floors = first.get("floor_summaries", {})
    source = first.get("floors", {}).get("noise_free_source", "")
    for kind, label in FLOOR_COLUMNS.items():
        if kind in floors:
            columns[f"{label} ({source})" if kind == "noise_free" else label] = floors[kind]
    return columns


def summary_table(results: dict[str, dict]) -> dict:
    """Rows of the side-by-side table from each model's ``evaluate`` result (with
    :func:`paired_summaries` merged in by :func:`compare`), plus floor columns.

    Returns ``{"columns": ["metric", *models, *floors], "rows": [{"key", "label", "format",
    "cells"}]}``; a row appears when at least one model's summary has its key.
    """
    columns = _columns(results)
    names, first = list(columns), next(iter(results))
    configs = {name: result.get("config", {}) for name, result in results.items()}
    rows = model_rows(configs, names)
    for key, label, fmt in TABLE_ROWS:
        if not any(key in results[name]["summary"] for name in results):
            continue
        cells = [
            CANNOT_GENERATE
            if _cannot_generate(configs.get(name), key)
            else format_value(columns[name][key], fmt, columns[name].get(f"{key}_sd"))
            if key in columns[name]
            else "—"  # not measured for this column (e.g. a floor of a code read-out)
            for name in names
        ]
        rows.append({"key": key, "label": label.format(first=first), "format": fmt, "cells": cells})
    return {"columns": ["metric", *names], "rows": rows}


def _cannot_generate(config: dict | None, key: str) -> bool:
    """Whether ``key`` is a generation number of a model that cannot generate."""
    codes_only = config is not None and config.get("output_kind") == "codes"
    return codes_only and key.startswith(GENERATED_PREFIXES)


def model_rows(configs: dict[str, dict], names: list[str]) -> list[dict]:
    """Text rows that say what some models are, shown only when it matters: which cannot
    generate (``output_kind`` "codes") and which were trained on behaviour labels
    (supervised, ``config["training_labels"]``). ``names``: every column (floors get "—")."""
    kinds = {name: config.get("output_kind", "samples") for name, config in configs.items()}
    labels = {name: config.get("training_labels") or [] for name, config in configs.items()}
    rows = []
    if "codes" in kinds.values():
        said = {
            "samples": "yes (samples)",
            "rates": "yes (rates)",
            "codes": f"no: codes only ({CANNOT_GENERATE})",
        }
        rows.append(
            (
                "output_kind",
                "generates activity",
                [said[kinds[n]] if n in kinds else "—" for n in names],
            )
        )
    if any(labels.values()):
        cells = [
            (
                "—"
                if n not in labels
                else "no (unsupervised)"
                if not labels[n]
                else "yes: " + ", ".join(labels[n])
            )
            for n in names
        ]
        rows.append(("training_labels", "trained on behaviour labels (supervised)", cells))
    return [
        {"key": key, "label": label, "format": "s", "cells": cells} for key, label, cells in rows
    ]


def paired_summaries(results: dict[str, dict]) -> dict[str, dict]:
    """The paper's paired comparisons of the first model against each other model: fraction
    of neurons where its reconstruction R² is higher (Fig. 4D) and of held-out trials where
    its predicted target is closer (Fig. 4F); ties count one half. The neurons' fraction is
    left out when either model cannot generate (no reconstruction)."""
    names = list(results)
    first = results[names[0]]
    out = {}
    for name in names[1:]:
        other = results[name]
        trials = paired_fraction(
            _array(first["heldout_targets"]["errors"]),
            _array(other["heldout_targets"]["errors"]),
            higher_is_better=False,
        )
        out[name] = {"paired_trials": trials._asdict()}
        if "reconstruction" in first and "reconstruction" in other:
            neurons = paired_fraction(
                _array(first["reconstruction"]["per_neuron_r2"]),
                _array(other["reconstruction"]["per_neuron_r2"]),
            )
            out[name] = {"paired_neurons": neurons._asdict()} | out[name]
    return out


def _array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


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
    lines += [
        "| " + " | ".join([row["label"].replace("|", "\\|"), *row["cells"]]) + " |"
        for row in table["rows"]
    ]  # a "|" in a label (|cos|) is escaped so that it does not split the row
    return "\n".join(lines)


def compare(models: dict, trials, **options) -> dict:
    """Evaluate each fitted model with the same split and seeds; one table.

    Parameters
    ----------
    models : dict of name -> fitted model (e.g. ``{"GNOCCHI": m1, "LFADS": m2}``)
    trials : Trials
    **options : passed to :func:`evaluate` (``split``, ``random_state``, ``n_samples``,
        ``n_traversal_steps``, ``progress``: one bar per model, named by its key, ...).

    Returns
    -------
    dict with ``models`` (name -> ``evaluate`` result), ``table`` (see
    :func:`summary_table`) and ``markdown`` (the table as text).
    """
    if not isinstance(models, dict) or not models:
        raise InvalidArgumentError(
            f"models must be a non-empty dict of name -> model; got {models!r}"
        )
    # One seed for all models (None draws it once), so that every model sees the same split.
    options["random_state"] = check_random_state(options.get("random_state", 0))
    progress = options.pop("progress", False)
    results = {
        str(name): evaluate(model, trials, progress=bool(progress) and str(name), **options)
        for name, model in models.items()
    }
    paired = paired_summaries(results)
    for name, fractions in paired.items():
        summary = results[name]["summary"]
        summary |= {key: value["fraction"] for key, value in fractions.items()}
    table = summary_table(results)
    return {"models": results, "paired": paired, "table": table, "markdown": table_markdown(table)}


def seed_table(comparisons: list[dict]) -> dict:
    """One table from several :func:`compare` results of the same models (e.g. one per
    training seed): each cell is the mean ± s.d. over the results of the per-result numbers
    (themselves means over sampling seeds), with the floors' columns likewise.

    Returns the :func:`summary_table` layout plus ``n_seeds``; ``markdown`` is not included
    (use :func:`table_markdown`). A number missing (None) in some results is averaged over
    the others.
    """
    if not comparisons:
        raise InvalidArgumentError("comparisons must hold at least one compare() result")
    per_result = [_columns(comparison["models"]) for comparison in comparisons]
    names = list(per_result[0])
    if any(list(columns) != names for columns in per_result):
        raise InvalidArgumentError(
            "every comparison must have the same models (and floors), in order"
        )
    first = names[0]
    configs = {name: result.get("config", {}) for name, result in comparisons[0]["models"].items()}
    rows = model_rows(configs, names)
    for key, label, fmt in TABLE_ROWS:
        if not any(key in columns[name] for columns in per_result for name in names):
            continue
        cells = []
        for name in names:
            values = _array([columns[name].get(key) for columns in per_result])
            if _cannot_generate(configs.get(name), key):
                cells.append(CANNOT_GENERATE)
                continue
            if np.all(np.isnan(values)):
                cells.append("—" if key not in per_result[0][name] else "n/a")
                continue
            stats = mean_and_sd(values, ignore_nan=True)
            cells.append(format_value(stats.mean, fmt, stats.sd if stats.n > 1 else None))
        rows.append({"key": key, "label": label.format(first=first), "format": fmt, "cells": cells})
    return {"columns": ["metric", *names], "rows": rows, "n_seeds": len(comparisons)}
