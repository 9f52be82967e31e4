"""Old home of the demo pipeline; moved to `neurognocchi.cli.demo` (removed in 0.3)."""

from neurognocchi.cli.demo import DEMO_SETTINGS, OUTPUTS, run_demo

__all__ = ["DEMO_SETTINGS", "OUTPUTS", "run_demo"]
