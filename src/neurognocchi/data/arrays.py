"""Old home of `load_trials`; moved to :mod:`neurognocchi.data.files` (removed in 0.3)."""

from neurognocchi.data.files import load_trials

__all__ = ["load_trials"]
