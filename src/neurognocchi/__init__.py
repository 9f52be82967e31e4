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

from neurognocchi._exports import lazy_exports  # noqa: E402

__all__ = ["CEBRA", "GNOCCHI", "LFADS", "PPCA", "LatentGNOCCHI", "Trials"]
__version__ = "0.3.0"

_HOMES = {
    "CEBRA": "neurognocchi.estimators",
    "GNOCCHI": "neurognocchi.estimators",
    "LFADS": "neurognocchi.estimators",
    "PPCA": "neurognocchi.estimators",
    "LatentGNOCCHI": "neurognocchi.estimators",
    "Trials": "neurognocchi.data.trials",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
