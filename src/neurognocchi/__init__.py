"""neurognocchi: GNOCCHI diffusion models of neural population activity (and an LFADS baseline).

The estimators and `Trials` load on first use (:pep:`562`), so that ``import neurognocchi``
and the command line's ``--help`` do not load torch.
"""

# isort: off
# First, before anything loads torch: OpenMP reads its wait policy once, when torch loads it
# (NEUROGNOCCHI_THREAD_POLICY, by default a brief spin: see neurognocchi.threads).
from neurognocchi import threads

threads.apply_at_import()
# isort: on

import importlib  # noqa: E402

__all__ = ["CEBRA", "GNOCCHI", "LFADS", "PPCA", "LatentGNOCCHI", "Trials"]
__version__ = "0.3.0.dev0"

_HOMES = {
    "CEBRA": "neurognocchi.estimators",
    "GNOCCHI": "neurognocchi.estimators",
    "LFADS": "neurognocchi.estimators",
    "PPCA": "neurognocchi.estimators",
    "LatentGNOCCHI": "neurognocchi.estimators",
    "Trials": "neurognocchi.data.trials",
}


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'neurognocchi' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
