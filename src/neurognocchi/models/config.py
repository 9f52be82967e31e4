"""Old home of :class:`JsonConfig`; it lives in :mod:`neurognocchi._config` (removed in 0.3)."""

from neurognocchi._config import JsonConfig

__all__ = ["JsonConfig"]
