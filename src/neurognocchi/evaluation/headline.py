"""The first screen of a comparison: a handful of headline numbers per model with their
floors, the best marked only where it stands apart, and one sentence saying what they show.

The headline metrics answer the protocol's questions in one row each: held-out error (does
the code carry the task to conditions never seen?), reconstruction, navigation to held-out
conditions, disentanglement (unintended movement, orthogonal target codes) and sample
realism. Unintended movement is per unit of intended gain: an output that barely follows the
code moves little either way, and is not disentangled for it. A model is marked best on a row
only when its number is better than every other model's by more than the larger of their
s.d.s over sampling seeds (the numbers of one fit); otherwise the models within that margin
are "level". Every cell is the full table's cell
(:func:`~neurognocchi.evaluation.comparison.summary_table`), so both show the same text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["HEADLINE", "headline"]

#: (summary key, row label, which way is better, what the best model has, for the sentence)
HEADLINE = (
    ("heldout_error", "held-out target error (data units)", "lower",
     "the lowest held-out target error"),
    ("reconstruction_r2", "reconstruction R² vs reference (valid)", "higher",
     "the highest reconstruction R²"),
    ("navigation_bias", "navigation bias to held-out conditions (data units)", "lower",
     "the lowest navigation bias"),
    ("unintended_per_gain_target_x", "unintended movement per unit gain, target_x", "lower",
     "the least unintended movement per unit gain along target_x"),
    ("unintended_per_gain_target_y", "unintended movement per unit gain, target_y", "lower",
     "the least unintended movement per unit gain along target_y"),
    ("orthogonality_cos", "|cos| target_x vs target_y, encoding directions", "lower",
     "the most orthogonal target directions"),
    ("unconditional_sd_rel_error", "unconditional samples: s.d. error (relative)", "lower",
     "the most realistic sample variability"),
)  # fmt: skip


def _number(summary: Mapping, key: str) -> tuple[float, float] | None:
    """(mean, s.d. or 0) of ``key`` in a model's summary; None when it has no finite value."""
    value = summary.get(key)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    sd = summary.get(f"{key}_sd")
    return float(value), float(sd) if isinstance(sd, int | float) and math.isfinite(sd) else 0.0


def _standing(numbers: dict[str, tuple[float, float]], better: str) -> tuple[list, list]:
    """(the best model, alone, or []; the models level with the best, when no one stands
    apart): best by more than the larger s.d. of it and each other model."""
    if len(numbers) < 2:
        return [], []
    sign = 1.0 if better == "lower" else -1.0
    top = min(numbers, key=lambda name: sign * numbers[name][0])
    value, sd = numbers[top]
    level = [
        name
        for name, (other, other_sd) in numbers.items()
        if sign * (other - value) <= max(sd, other_sd)
    ]
    return ([top], []) if level == [top] else ([], level)


def headline(comparison: Mapping) -> dict:
    """The headline rows of a :func:`~neurognocchi.evaluation.compare` result.

    Returns ``{"columns": [...], "rows": [{"key", "label", "cells", "best", "level"}],
    "sentence": str}``: the full table's columns (models, then floors) and, for each headline
    metric any model has, its cells, the model marked best (a list of one, or empty) and the
    models level at the top (when none stands apart).
    """
    models = list(comparison["models"])
    table = comparison["table"]
    columns, by_key = table["columns"][1:], {row["key"]: row for row in table["rows"]}
    rows, said = [], []
    for key, label, better, phrase in HEADLINE:
        if key not in by_key:
            continue
        numbers = {
            name: found
            for name in models
            if (found := _number(comparison["models"][name]["summary"], key)) is not None
        }
        best, level = _standing(numbers, better)
        cells = by_key[key]["cells"]
        rows.append({"key": key, "label": label, "cells": cells, "best": best, "level": level})
        if best:
            said.append(f"{best[0]} has {phrase}")
        elif len(level) > 1:
            said.append(f"{' and '.join(level)} are level on {label.split(' (')[0]}")
    return {"columns": columns, "rows": rows, "sentence": _sentence(said, comparison)}


def _sentence(said: list[str], comparison: Mapping) -> str:
    if not said:
        return "No headline number was measured for more than one model."
    config = next(iter(comparison["models"].values()))["config"]
    seeds = config.get("n_sampling_seeds", 1)
    return (
        f"On these trials, one fit per model (mean over {seeds} sampling seed"
        f"{'s' if seeds != 1 else ''}; a model is best only where it leads by more than the "
        f"s.d.): {'; '.join(said)}."
    )
