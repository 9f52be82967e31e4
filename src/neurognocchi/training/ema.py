"""Exponential moving average (EMA) of a model's weights, with a warm-up ramp of the decay.

The training loop keeps an EMA copy of the model, validates it, and by default keeps its weights
at the end: averaging over the last few hundred steps smooths out the optimiser's noise.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Exponential moving average of a model's floating-point parameters and buffers.

    The decay ramps up as ``min(decay, (1 + n) / (10 + n))`` so early updates are not
    dominated by the random initialisation.

    Parameters
    ----------
    model : nn.Module
        The live model; it is copied (in eval mode, without gradients) as the average.
    decay : float
        The largest decay, in ``[0, 1)``, reached once ``(1 + n) / (10 + n)`` exceeds it.

    Attributes
    ----------
    model : nn.Module
        The averaged copy.
    n_updates : int
        Number of :meth:`update` calls so far (it drives the ramp; saved in checkpoints).

    Examples
    --------
    >>> live = nn.Linear(1, 1, bias=False)
    >>> _ = live.weight.data.fill_(0.0)
    >>> ema = EMA(live, decay=0.5)
    >>> _ = live.weight.data.fill_(1.0)
    >>> ema.update(live)  # first decay: min(0.5, 1 / 10) = 0.1
    >>> round(ema.model.weight.item(), 6)
    0.9
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.n_updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s weights; integer buffers are copied as they are.

        Parameters
        ----------
        model : nn.Module
            The live model, with the same state-dict keys as the average.
        """
        decay = min(self.decay, (1 + self.n_updates) / (10 + self.n_updates))
        live = model.state_dict()
        for name, value in self.model.state_dict().items():
            if value.dtype.is_floating_point:
                value.lerp_(live[name], 1.0 - decay)
            else:
                value.copy_(live[name])
        self.n_updates += 1
