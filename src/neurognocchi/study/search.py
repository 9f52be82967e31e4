"""The search space of a study's ``search`` block, and Optuna's suggestions from it.

Each parameter is a range ``{"low": a, "high": b}`` (ints when both ends are ints; ``"log":
true`` for a log scale, ``"step"`` for a grid) or ``{"choices": [...]}``. A proposed variant is
named after its parameters' hash (``search-<8 hex>``), so that the same proposal made again
(a killed trial re-queued) finds its finished fits on disk.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from neurognocchi._checks import InvalidArgumentError

__all__ = ["SearchSpace", "check_space", "search_variant_name"]


@dataclass(frozen=True)
class SearchSpace:
    """Checked ranges ``{name: {"low", "high", "log", "step"}}`` and ``{name: {"choices"}}``."""

    params: dict[str, dict[str, Any]]

    def lowest(self) -> dict[str, Any]:
        """The low end of every range and the first choice (used to check the names)."""
        return {
            name: spec["choices"][0] if "choices" in spec else spec["low"]
            for name, spec in self.params.items()
        }

    def suggest(self, trial) -> dict[str, Any]:
        """One proposal from an Optuna ``trial`` (values of the ranges' own type)."""
        values = {}
        for name, spec in self.params.items():
            if "choices" in spec:
                values[name] = trial.suggest_categorical(name, spec["choices"])
            elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
                values[name] = trial.suggest_int(
                    name,
                    spec["low"],
                    spec["high"],
                    step=spec.get("step") or 1,
                    log=spec.get("log", False),
                )
            else:
                values[name] = trial.suggest_float(
                    name,
                    float(spec["low"]),
                    float(spec["high"]),
                    step=spec.get("step"),
                    log=spec.get("log", False),
                )
        return values


def _check_range(name: str, spec: dict) -> dict:
    unknown = sorted(set(spec) - {"low", "high", "log", "step"})
    if unknown or "low" not in spec or "high" not in spec:
        raise InvalidArgumentError(
            f"study config: search.params[{name!r}] must be {{'low', 'high'[, 'log', 'step']}} "
            f"or {{'choices'}}; got {spec!r}"
        )
    low, high = spec["low"], spec["high"]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not math.isfinite(low) or not math.isfinite(high) or low >= high:
        raise InvalidArgumentError(
            f"study config: search.params[{name!r}] needs finite numbers low < high; "
            f"got low={low!r}, high={high!r}"
        )
    if spec.get("log") and low <= 0:
        raise InvalidArgumentError(
            f"study config: search.params[{name!r}] on a log scale needs low > 0"
        )
    if spec.get("log") and spec.get("step") is not None:
        raise InvalidArgumentError(
            f"study config: search.params[{name!r}]: give log or step, not both"
        )
    return dict(spec)


def check_space(params: dict) -> SearchSpace:
    """Check the ``search.params`` block; raise ``ValueError`` naming the bad parameter."""
    if not params:
        raise InvalidArgumentError("study config: search.params must name at least one parameter")
    checked = {}
    for name, spec in params.items():
        if not isinstance(spec, dict):
            raise InvalidArgumentError(
                f"study config: search.params[{name!r}] must be a JSON object"
            )
        if "choices" in spec:
            choices = spec["choices"]
            if set(spec) != {"choices"} or not isinstance(choices, list) or not choices:
                raise InvalidArgumentError(
                    f"study config: search.params[{name!r}].choices must be a non-empty list "
                    "(and alone)"
                )
            checked[name] = {"choices": list(choices)}
        else:
            checked[name] = _check_range(name, spec)
    return SearchSpace(checked)


def search_variant_name(values: dict[str, Any]) -> str:
    """``search-<8 hex>``: the same parameter values always get the same name.

    Examples
    --------
    >>> search_variant_name({"mmd_weight": 0.1}) == search_variant_name({"mmd_weight": 0.1})
    True
    """
    text = json.dumps(values, sort_keys=True)
    return "search-" + hashlib.sha256(text.encode()).hexdigest()[:8]
