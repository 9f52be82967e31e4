"""neurognocchi: GNOCCHI diffusion models of neural population activity (and an LFADS baseline)."""

# isort: off
# First, before anything loads torch: OpenMP reads its wait policy once, when torch loads it
# (NEUROGNOCCHI_THREAD_POLICY, by default a brief spin: see neurognocchi.threads).
from neurognocchi import threads

threads.apply_at_import()
# isort: on

from neurognocchi.data.trials import Trials  # noqa: E402
from neurognocchi.estimators import CEBRA, GNOCCHI, LFADS, PPCA, LatentGNOCCHI  # noqa: E402

__all__ = ["CEBRA", "GNOCCHI", "LFADS", "PPCA", "LatentGNOCCHI", "Trials"]
__version__ = "0.3.0.dev0"
