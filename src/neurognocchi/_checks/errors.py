"""InvalidArgumentError: the one exception type of bad arguments, raised by every validator."""

from __future__ import annotations

__all__ = ["InvalidArgumentError"]


class InvalidArgumentError(ValueError, TypeError):
    """A user-supplied argument has the wrong type or value (both a ValueError and a TypeError)."""
