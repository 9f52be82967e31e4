"""Settings of the diffusion scheduler: the schedule and how a network's output is read.

A frozen dataclass saved as JSON next to model weights (:class:`~neurognocchi._config.JsonConfig`);
:class:`~neurognocchi.diffusion.scheduler.Scheduler` turns it into coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurognocchi._checks import InvalidArgumentError, check_choice, check_int, check_real
from neurognocchi._config import JsonConfig
from neurognocchi.diffusion.schedules import SCHEDULES

__all__ = ["PREDICTIONS", "SchedulerConfig"]

#: Prediction types: what the network's output is read as.
PREDICTIONS = ("noise", "v")


@dataclass(frozen=True)
class SchedulerConfig(JsonConfig):
    """Settings of a :class:`Scheduler`; saved as JSON next to model weights.

    Parameters
    ----------
    n_train_steps : int
        Number of diffusion steps used in training, ``>= 1``.
    schedule : {"linear", "cosine"}
        Noise schedule, see :mod:`neurognocchi.diffusion.schedules`.
    beta_start, beta_end : float
        End points of the linear schedule, ``0 < beta_start < beta_end < 1`` (checked for every
        schedule so that a saved config is always valid; the cosine schedule ignores them).
    prediction : {"noise", "v"}
        What the network's output is: the noise ``eps`` (Ho et al. 2020) or the velocity
        ``v = sqrt(abar) eps - sqrt(1 - abar) x0`` (Salimans & Ho 2022), which stays well
        conditioned at both ends of the schedule.
    clip_x0 : float or None
        Bound ``c >= 0``: each sampling step clips the clean-data prediction to ``[-c, c]``;
        None does not clip. A step's ``clip_x0`` argument overrides it.
    """

    n_train_steps: int = 1000
    schedule: str = "cosine"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction: str = "noise"
    clip_x0: float | None = None

    def __post_init__(self) -> None:
        check_int(self.n_train_steps, "n_train_steps", minimum=1)
        check_choice(self.schedule, "schedule", SCHEDULES)
        for name in ("beta_start", "beta_end"):
            check_real(getattr(self, name), name, low=0.0, high=1.0, low_open=True, high_open=True)
        if self.beta_end <= self.beta_start:
            raise InvalidArgumentError(
                f"beta_end must be greater than beta_start={self.beta_start}, got {self.beta_end}"
            )
        check_choice(self.prediction, "prediction", PREDICTIONS)
        if self.clip_x0 is not None:
            check_real(self.clip_x0, "clip_x0", low=0.0)
