"""Diffusion machinery without networks: noise schedules, a stateless scheduler, the sampling loop.

Nothing here imports a network; a model enters only as the ``model_fn`` given to :func:`sample`.
"""

from neurognocchi.diffusion.sampling import METHODS, sample
from neurognocchi.diffusion.scheduler import Scheduler, SchedulerConfig
from neurognocchi.diffusion.schedules import SCHEDULES, cosine_betas, linear_betas, make_betas

__all__ = [
    "METHODS",
    "SCHEDULES",
    "Scheduler",
    "SchedulerConfig",
    "cosine_betas",
    "linear_betas",
    "make_betas",
    "sample",
]
