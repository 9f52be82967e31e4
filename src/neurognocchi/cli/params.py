"""Estimator parameters from the command line: a ``--config`` JSON file, ``--set key=value``
overrides and flags that set one parameter (``--precision``, ``--compile``), checked before any
file is written; the estimator they build comes from :mod:`neurognocchi.runs.registry`.
"""

from __future__ import annotations

import json
import os

from neurognocchi._checks import InvalidArgumentError, check_choice
from neurognocchi._config import read_json_object
from neurognocchi.runs.registry import MODELS

__all__ = [
    "flag_params",
    "parse_overrides",
    "preset_params",
    "read_config",
]


def parse_overrides(pairs: list[str] | None) -> dict:
    """``["key=value", ...]`` -> dict; values are read as JSON when they parse (numbers, true,
    null, lists), else kept as strings."""
    params = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidArgumentError(f"--set expects key=value; got {pair!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        params[key.strip()] = value
    return params


def read_config(path: str | os.PathLike | None) -> dict:
    """Estimator parameters from a JSON file holding one object (empty without a path)."""
    return {} if path is None else read_json_object(path, "--config")


def preset_params(preset: str | None, model: str) -> dict:
    """The parameters of GNOCCHI's ``--preset`` (empty without one); refused for other models."""
    if preset is None:
        return {}
    if model != "gnocchi":
        raise InvalidArgumentError(f"--preset applies to GNOCCHI only; --model is {model!r}")
    from neurognocchi.estimators.gnocchi import PRESETS

    check_choice(preset, "--preset", sorted(PRESETS))
    return dict(PRESETS[preset])


def flag_params(model: str, flags: dict, params: dict) -> dict:
    """``params`` with the parameters given as flags of their own (``{"precision": "bf16"}``
    for ``--precision bf16``; None: the flag was not given). A flag is refused when ``model``
    has no such parameter, or when ``--config``/``--set`` set it to another value."""
    params = dict(params)
    for name, value in flags.items():
        if value is None:
            continue
        having = [cls.__name__ for cls in MODELS.values() if name in cls().get_params()]
        if model in MODELS and MODELS[model].__name__ not in having:
            names = ", ".join(having[:-1]) + " and " + having[-1] if len(having) > 1 else having[0]
            raise InvalidArgumentError(
                f"--{name} applies to {names} only; {MODELS[model].__name__} "
                f"has no {name!r} parameter"
            )
        if params.get(name, value) != value:
            raise InvalidArgumentError(
                f"--{name} sets {name}={value!r}, but --config/--set give {params[name]!r}"
            )
        params[name] = value
    return params
