"""Models: each an ``nn.Module`` with ``loss(batch, generator=..., step=...) -> dict``.

:mod:`~neurognocchi.models.base` is the interface the estimators use (``TrialModel``);
:mod:`~neurognocchi.models.config` holds the configs, each default with its reason.
"""

from neurognocchi.models.base import TrialModel
from neurognocchi.models.config import GnocchiConfig, LfadsConfig
from neurognocchi.models.gnocchi import GnocchiModel
from neurognocchi.models.latent import LatentGnocchiModel
from neurognocchi.models.lfads import LfadsModel
from neurognocchi.models.priors import mmd_to_standard_normal

__all__ = [
    "GnocchiConfig",
    "GnocchiModel",
    "LatentGnocchiModel",
    "LfadsConfig",
    "LfadsModel",
    "TrialModel",
    "mmd_to_standard_normal",
]
