"""Diffusion machinery without networks: noise schedules, a stateless scheduler, the sampling loop.

Nothing here imports a network; a model enters only as the ``model_fn`` given to :func:`sample`.
"""

from neurognocchi.diffusion.config import PREDICTIONS, SchedulerConfig
from neurognocchi.diffusion.outputs import Prediction, StepOutput
from neurognocchi.diffusion.sampling import DEFAULT_SAMPLER, METHODS, SamplerDefaults, sample
from neurognocchi.diffusion.scheduler import Scheduler
from neurognocchi.diffusion.schedules import (
    SCHEDULES,
    cosine_betas,
    linear_betas,
    make_betas,
    strided_timesteps,
)

__all__ = [
    "DEFAULT_SAMPLER",
    "METHODS",
    "PREDICTIONS",
    "SCHEDULES",
    "Prediction",
    "SamplerDefaults",
    "Scheduler",
    "SchedulerConfig",
    "StepOutput",
    "cosine_betas",
    "linear_betas",
    "make_betas",
    "sample",
    "strided_timesteps",
]
