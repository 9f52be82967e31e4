"""JSON round trip shared by the models' frozen dataclass configs."""

from __future__ import annotations

import dataclasses
import json


class JsonConfig:
    """Mixin for frozen dataclass configs saved as JSON next to the weights."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict):
        """Build the config from a dict, refusing keys it does not know (e.g. from a newer
        version) with a message that lists the known ones."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; known: {sorted(known)}")
        return cls(**data)
