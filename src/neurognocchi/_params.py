"""One definition per parameter: its name, default, meaning, the reason for its default, its check.

A config dataclass declares each field with :func:`param`; an estimator's parameters are an
ordered table of :class:`Parameter` (:mod:`neurognocchi.estimators.parameters`), each declared
there once or taken from a config field by :func:`from_field`, so that a model parameter
and its config field share one default, one description and one check. From the table come the
estimator's ``check_params``, the Parameters section of its docstring, ``neurognocchi params``
and docs/parameters.md; the estimator's explicit signature (scikit-learn reads its parameters
from it) is tested against the table (tests/test_parameters.py).

Imports nothing from the package but :mod:`neurognocchi._checks`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any

from neurognocchi._checks import InvalidArgumentError, check_choice

__all__ = [
    "NO_LEGACY",
    "Parameter",
    "check_fields",
    "choice_check",
    "choice_type",
    "config_parameters",
    "from_field",
    "legacy_values",
    "optional",
    "param",
    "table",
    "unless_inf",
]


class _NoLegacy:
    def __repr__(self) -> str:
        return "NO_LEGACY"


#: ``legacy`` of a parameter whose default never changed.
NO_LEGACY = _NoLegacy()

Check = Callable[[Any, str], Any]


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One parameter.

    ``type`` is written as numpydoc writes it (``{"conv", "gru"}`` for a choice); ``check``
    is called as ``check(value, name)`` and raises naming the parameter; ``legacy`` is the
    value that a file saved before the parameter existed, or before its default changed, was
    made with; ``field`` is the config field it sets when its name differs there (the
    autoencoder's ``ae_channels`` is ``channels`` of its config).
    """

    name: str
    default: Any
    doc: str
    type: str = ""
    reason: str = ""
    check: Check | None = None
    legacy: Any = NO_LEGACY
    field: str | None = None

    def validate(self, value) -> None:
        """Raise naming the parameter when ``value`` is not valid for it."""
        if self.check is not None:
            self.check(value, self.name)


def optional(check: Check) -> Check:
    """``check`` that also lets None through (a setting that None turns off)."""
    return partial(_optional, check=check)


def _optional(value, name: str, *, check: Check):
    return None if value is None else check(value, name)


def unless_inf(check: Check) -> Check:
    """``check`` that also lets ``math.inf`` through (a bound that inf turns off)."""
    return partial(_unless_inf, check=check)


def _unless_inf(value, name: str, *, check: Check):
    return value if value == math.inf else check(value, name)


def choice_check(choices: Iterable) -> Check:
    """A check that the value is one of ``choices``."""
    return partial(_check_choice, choices=tuple(choices))


def _check_choice(value, name: str, *, choices: tuple):
    return check_choice(value, name, choices)


def choice_type(choices: Iterable) -> str:
    """``choices`` as numpydoc writes a choice's type: ``{"a", "b"}``."""
    return "{" + ", ".join(f'"{choice}"' for choice in choices) + "}"


def param(
    default,
    doc: str,
    *,
    type: str = "",
    reason: str = "",
    check: Check | None = None,
    choices: Iterable | None = None,
    legacy=NO_LEGACY,
):
    """A dataclass field with its parameter's definition in its metadata (see
    :func:`from_field`). ``choices`` sets both the check and the type."""
    if choices is not None:
        choices = tuple(choices)
        check = choice_check(choices)
        type = choice_type(choices)
    spec = {"doc": doc, "type": type, "reason": reason, "check": check, "legacy": legacy}
    return dataclasses.field(default=default, metadata=MappingProxyType({"param": spec}))


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {field.name: field for field in dataclasses.fields(cls)}


def from_field(cls, field: str, *, name: str | None = None, **changes) -> Parameter:
    """The parameter defined by ``cls``'s dataclass field ``field`` (declared with
    :func:`param`), named ``name`` (default: the field's name); ``changes`` replace what the
    estimator defines differently (a ``default`` with its ``reason``)."""
    declared = _fields(cls)[field]
    spec = declared.metadata["param"]
    parameter = Parameter(
        name=name or field,
        default=declared.default,
        doc=spec["doc"],
        type=spec["type"] or str(declared.type).replace(" | None", " or None"),
        reason=spec["reason"],
        check=spec["check"],
        legacy=spec["legacy"],
        field=None if name in (None, field) else field,
    )
    return dataclasses.replace(parameter, **changes)


def check_fields(config) -> None:
    """Check every field of the dataclass ``config`` declared with a check (in field order)."""
    for field in dataclasses.fields(config):
        check = field.metadata.get("param", {}).get("check")
        if check is not None:
            check(getattr(config, field.name), field.name)


def config_parameters(cls) -> list[Parameter]:
    """The parameters of the dataclass ``cls``'s fields declared with :func:`param`."""
    return [
        from_field(cls, name) for name, field in _fields(cls).items() if "param" in field.metadata
    ]


def legacy_values(parameters: Iterable[Parameter]) -> dict[str, Any]:
    """``{name: value}`` of the parameters whose default changed: the value that a file saved
    without them was made with."""
    return {p.name: p.legacy for p in parameters if p.legacy is not NO_LEGACY}


def table(*parameters: Parameter | Iterable[Parameter]) -> Mapping[str, Parameter]:
    """An estimator's parameters in signature order, refusing a name given twice."""
    flat: list[Parameter] = []
    for item in parameters:
        flat.extend([item] if isinstance(item, Parameter) else item)
    names = [parameter.name for parameter in flat]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidArgumentError(f"parameters defined twice: {twice}")
    return MappingProxyType({parameter.name: parameter for parameter in flat})
