"""neurognocchi: GNOCCHI diffusion models of neural population activity (and an LFADS baseline)."""

from neurognocchi.data.trials import Trials
from neurognocchi.estimators import GNOCCHI, LFADS

__all__ = ["GNOCCHI", "LFADS", "Trials"]
__version__ = "0.2.0.dev0"
