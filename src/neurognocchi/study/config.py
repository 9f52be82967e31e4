"""What a study is: a JSON file of variants (estimator parameters) × training seeds × data.

:func:`read_study_config` reads and checks the whole file before anything is fitted: every
variant's estimator is built (unknown or invalid parameters are an error naming the variant),
the data source and its options, the seeds, the evaluation options and the objective.

A config (every key but ``variants``/``grid``/``search`` optional; at least one of those)::

    {
      "name": "mmd-screen",
      "data": {"source": "reaching", "n_trials": 1000, "bin_size_s": 0.02},
      "seeds": [0, 1, 2],
      "evaluation": {"n_samples": 32, "n_sampling_seeds": 1},
      "objective": {"metric": "navigation_bias", "direction": "minimize"},
      "base": {"gnocchi": {"code_dim": 8, "max_epochs": 150}, "lfads": {"code_dim": 8}},
      "variants": {"baseline": {"model": "gnocchi"}, "lfads": {"model": "lfads"},
                   "oracle": {"model": "gnocchi", "input": "truth"}},
      "grid": {"model": "gnocchi", "params": {"mmd_weight": [0.1, 1.0]}},
      "search": {"model": "gnocchi", "n_variants": 8,
                 "params": {"mmd_weight": {"low": 0.001, "high": 1.0, "log": true}}},
      "table": ["navigation_bias", "reconstruction_r2", "spikes_cond_count_kl"]
    }

``data.source`` is "reaching" or "toy" (synthetic, drawn with each training seed unless
``data.random_state`` fixes one draw; the other keys go to
:func:`~neurognocchi.data.make_reaching_dataset` / :func:`~neurognocchi.data.make_toy_dataset`)
or "file" with ``path`` (any file :func:`~neurognocchi.data.load_trials` reads; one recording
for every seed). ``base`` holds each model's parameters shared by all its variants; a variant's
``params`` override them; its ``input`` says what it is fitted on (see
:mod:`neurognocchi.study.inputs`). ``grid`` adds one variant per combination of its lists (named
``key=value,...``); ``search`` lets Optuna's TPE sampler propose ``n_variants`` variants from
ranges (``low``/``high`` with optional ``log`` and ``step``) or ``choices``, each scored by the
objective (mean over seeds). ``table`` lists summary keys (as ``objective.metric``) for a
table with one row per metric and one column per variant and floor (``table.md``).
"""

from __future__ import annotations

import inspect
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurognocchi._checks import InvalidArgumentError, check_choice, check_positive_int, check_seeds
from neurognocchi._config import read_json_object
from neurognocchi.data import make_reaching_dataset, make_toy_dataset
from neurognocchi.runs.registry import MODELS, build_estimator
from neurognocchi.study.inputs import check_input

__all__ = [
    "DATA_SOURCES",
    "OBJECTIVE_METRICS",
    "StudyConfig",
    "Variant",
    "read_study_config",
    "study_config_from_dict",
]

DATA_SOURCES = {"reaching": make_reaching_dataset, "toy": make_toy_dataset, "file": None}
TOP_KEYS = (
    "name",
    "data",
    "seeds",
    "evaluation",
    "objective",
    "base",
    "variants",
    "grid",
    "search",
    "storage",
    "table",
)
EVALUATION_KEYS = {"n_samples": 32, "n_sampling_seeds": 1}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.,=+-]{1,100}$")  # also a folder name


def _objective_metrics() -> tuple[str, ...]:
    from neurognocchi.evaluation.comparison import TABLE_ROWS

    return tuple(key for key, _, _ in TABLE_ROWS if not key.startswith("paired_"))


OBJECTIVE_METRICS = _objective_metrics()


@dataclass(frozen=True)
class Variant:
    """One setting of one model: ``params`` are the estimator's (base merged with own)."""

    name: str
    model: str
    params: dict[str, Any]
    input: str | dict = "activity"  # what it is fitted on (neurognocchi.study.inputs)


@dataclass(frozen=True)
class StudyConfig:
    """A checked study (see the module docstring for the file it comes from)."""

    name: str
    data: dict[str, Any]
    seeds: list[int]
    variants: list[Variant]
    n_samples: int = 32
    n_sampling_seeds: int = 1
    metric: str = "navigation_bias"
    direction: str = "minimize"
    search: dict[str, Any] | None = None
    storage: str | None = None
    table: tuple[str, ...] = ()  # the metrics of table.md (none: no such table)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def estimator_params(self, variant: Variant, seed: int) -> dict[str, Any]:
        """The parameters of ``variant``'s fit with training seed ``seed`` (quiet fits: the
        study shows one progress bar of its own)."""
        return variant.params | {"random_state": seed, "verbose": False}


def _require_dict(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"study config: {name} must be a JSON object; got {value!r}")
    return value


def _refuse_unknown(given: dict, known, name: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidArgumentError(
            f"study config: unknown key(s) {unknown} in {name}; known: {', '.join(known)}"
        )


def _check_data(data: dict, base_dir: Path) -> dict:
    data = dict(_require_dict(data, "data"))
    source = check_choice(data.pop("source", "reaching"), "data.source", list(DATA_SOURCES))
    if source == "file":
        _refuse_unknown(data, ("path",), "data (source file)")
        if "path" not in data:
            raise InvalidArgumentError("study config: data.source 'file' needs data.path")
        path = Path(data["path"])
        path = path if path.is_absolute() else base_dir / path
        if not path.exists():
            raise FileNotFoundError(f"study config: data.path {str(path)!r} does not exist")
        return {"source": "file", "path": str(path)}
    known = list(inspect.signature(DATA_SOURCES[source]).parameters)
    _refuse_unknown(data, known, f"data (source {source})")
    return {"source": source, **data}


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidArgumentError(
            f"study config: {what} name {name!r} must be 1-100 characters of letters, digits "
            "and _ . , = + -"
        )
    return name


def _variant(name: str, spec: dict, base: dict) -> Variant:
    spec = _require_dict(spec, f"variants[{name!r}]")
    _refuse_unknown(spec, ("model", "params", "input"), f"variants[{name!r}]")
    model = check_choice(spec.get("model", "gnocchi"), f"variants[{name!r}].model", list(MODELS))
    params = base.get(model, {}) | _require_dict(spec.get("params", {}), f"{name}.params")
    try:
        build_estimator(model, dict(params))
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError(f"study config: variant {name!r}: {error}") from None
    fitted_on = check_input(spec.get("input"), name)
    return Variant(_check_name(name, "variant"), model, params, fitted_on)


def _grid_variants(grid: dict, base: dict) -> list[Variant]:
    grid = _require_dict(grid, "grid")
    _refuse_unknown(grid, ("model", "params"), "grid")
    params = _require_dict(grid.get("params", {}), "grid.params")
    for key, values in params.items():
        if not isinstance(values, list) or not values:
            raise InvalidArgumentError(
                f"study config: grid.params[{key!r}] must be a non-empty list"
            )
    variants = []
    for combination in itertools.product(*params.values()):
        setting = dict(zip(params, combination, strict=True))
        name = ",".join(f"{key}={json.dumps(value)}" for key, value in setting.items())
        spec = {"model": grid.get("model", "gnocchi"), "params": setting}
        variants.append(_variant(name.replace('"', "").replace(" ", ""), spec, base))
    return variants


def _check_search(search: dict, base: dict) -> dict:
    from neurognocchi.study.search import check_space

    search = dict(_require_dict(search, "search"))
    _refuse_unknown(search, ("model", "n_variants", "params"), "search")
    model = check_choice(search.get("model", "gnocchi"), "search.model", list(MODELS))
    n_variants = check_positive_int(search.get("n_variants", 10), "search.n_variants")
    space = check_space(_require_dict(search.get("params", {}), "search.params"))
    # The low end of every range must build an estimator: a bad name fails here, not mid-study.
    _variant("search-check", {"model": model, "params": space.lowest()}, base)
    return {"model": model, "n_variants": n_variants, "space": space, "base": base.get(model, {})}


def _evaluation(raw: dict) -> dict[str, int]:
    evaluation = _require_dict(raw.get("evaluation", {}), "evaluation")
    _refuse_unknown(evaluation, EVALUATION_KEYS, "evaluation")
    evaluation = EVALUATION_KEYS | evaluation
    return {key: check_positive_int(n, f"evaluation.{key}") for key, n in evaluation.items()}


def _objective(raw: dict) -> dict[str, str]:
    objective = _require_dict(raw.get("objective", {}), "objective")
    _refuse_unknown(objective, ("metric", "direction"), "objective")
    metric = objective.get("metric", "navigation_bias")
    direction = objective.get("direction", "minimize")
    return {
        "metric": check_choice(metric, "objective.metric", OBJECTIVE_METRICS),
        "direction": check_choice(direction, "objective.direction", ("minimize", "maximize")),
    }


def _table(raw: dict) -> tuple[str, ...]:
    table = raw.get("table", [])
    if not isinstance(table, list):
        raise InvalidArgumentError(
            f"study config: table must be a list of metric names; got {table!r}"
        )
    return tuple(check_choice(metric, "table", OBJECTIVE_METRICS) for metric in table)


def study_config_from_dict(raw: dict, *, base_dir: str | os.PathLike = ".") -> StudyConfig:
    """Check a study config given as a dict (relative data paths are read from
    ``base_dir``); raise ``ValueError`` naming the first bad entry."""
    raw = _require_dict(raw, "the study config")
    _refuse_unknown(raw, TOP_KEYS, "the study config")
    base = _require_dict(raw.get("base", {}), "base")
    _refuse_unknown(base, list(MODELS), "base")
    variants = [
        _variant(name, spec, base)
        for name, spec in _require_dict(raw.get("variants", {}), "variants").items()
    ]
    if "grid" in raw:
        variants += _grid_variants(raw["grid"], base)
    search = _check_search(raw["search"], base) if "search" in raw else None
    if not variants and search is None:
        raise InvalidArgumentError("study config: give at least one of variants, grid or search")
    names = [variant.name for variant in variants]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidArgumentError(f"study config: variant names repeat: {repeated}")
    storage = raw.get("storage")
    if storage is not None and not isinstance(storage, str):
        raise InvalidArgumentError(
            f"study config: storage must be a database URL string; got {storage!r}"
        )
    return StudyConfig(
        name=_check_name(raw.get("name", "study"), "study"),
        data=_check_data(raw.get("data", {}), Path(base_dir)),
        seeds=check_seeds(raw.get("seeds", [0, 1, 2]), "seeds"),
        variants=variants,
        **_evaluation(raw),
        **_objective(raw),
        search=search,
        storage=storage,
        table=_table(raw),
        raw=raw,
    )


def read_study_config(path: str | os.PathLike) -> StudyConfig:
    """Read and check a study config file (JSON); relative ``data.path`` is read from the
    file's folder."""
    return study_config_from_dict(read_json_object(path, "CONFIG"), base_dir=Path(path).parent)
