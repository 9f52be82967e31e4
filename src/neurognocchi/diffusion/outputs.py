"""Named outputs of the scheduler, as diffusers' ``DDIMSchedulerOutput`` and lucidrains'
``ModelPrediction``: what a network output says, and what a sampling step returns.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["Prediction", "StepOutput"]


class Prediction(NamedTuple):
    """What a network output says about the clean data, at step ``t`` (each (B, ...))."""

    noise: torch.Tensor
    x0: torch.Tensor


class StepOutput(NamedTuple):
    """Result of one sampling step (each (B, ...)).

    ``prev_sample`` is the sample at the next (smaller) step; ``pred_x0`` the clean-data
    prediction the step used (after clipping).
    """

    prev_sample: torch.Tensor
    pred_x0: torch.Tensor
