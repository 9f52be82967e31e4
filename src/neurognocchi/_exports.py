"""Exports loaded on first use (PEP 562): a package lists each exported name's module, and
the module is imported when the name is first read, so that importing the package stays cheap
(``import neurognocchi`` and the command line's ``--help`` load no torch).

Imports nothing from the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, homes: Mapping[str, str], namespace: dict
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose exported names live in the modules
    ``homes[name]``; a name read once is stored in ``namespace`` (the package's globals), so
    later reads do not call ``__getattr__`` again."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *homes])

    return __getattr__, __dir__
