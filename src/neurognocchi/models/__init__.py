"""Models: each an ``nn.Module`` with ``loss(batch, generator=..., step=...) -> dict``."""

from neurognocchi.models.gnocchi import GnocchiConfig, GnocchiModel
from neurognocchi.models.lfads import LfadsConfig, LfadsModel
from neurognocchi.models.priors import mmd_to_standard_normal

__all__ = ["GnocchiConfig", "GnocchiModel", "LfadsConfig", "LfadsModel", "mmd_to_standard_normal"]
