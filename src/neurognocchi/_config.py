"""The JSON round trip shared by every frozen dataclass config of the package, and the reader
of users' JSON config files.

Configs are saved as JSON next to the weights (never pickled); reading one refuses keys the
class does not know, e.g. a file written by a newer version. Imports nothing from the package.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["JsonConfig", "read_json_object"]


def read_json_object(path: str | os.PathLike, argument: str) -> dict[str, Any]:
    """The JSON object in the file ``path``; errors name ``argument`` (e.g. ``"--config"``)
    and the file: missing, not JSON, or not an object."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{argument}: no such file: {str(path)!r}")
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{argument}: {str(path)!r} is not valid JSON ({error})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{argument}: {str(path)!r} is not a text (JSON) file") from None
    if not isinstance(value, dict):
        raise ValueError(f"{argument}: {str(path)!r} must hold a JSON object")
    return value


class JsonConfig:
    """Mixin for frozen dataclass configs: ``to_dict``/``to_json``/``from_dict``/``from_json``."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain ``dict``."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The config as a JSON string (read it back with :meth:`from_json`)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Build the config from a dict, refusing keys it does not know with a message that
        lists the known ones."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict; got {type(data).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str):
        """Build the config from a JSON string written by :meth:`to_json`."""
        return cls.from_dict(json.loads(text))
