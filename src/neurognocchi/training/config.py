"""Optimisation settings shared by every model, and the learning-rate schedule they imply.

:class:`TrainConfig` is a frozen dataclass (saved and read as JSON through
:class:`~neurognocchi._config.JsonConfig`) whose fields are checked when it is built, so a bad
setting fails before any data is read. :func:`learning_rate_at` is the pure warm-up + cosine
schedule of the training loop (as nanoGPT's ``get_lr``); it depends on nothing but its arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neurognocchi._checks import (
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_positive_int,
    check_real,
)
from neurognocchi._config import JsonConfig

__all__ = ["PRECISIONS", "TrainConfig", "learning_rate_at"]

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Optimisation settings shared by all models.

    Every field is checked when the config is built; a bad value raises
    :class:`~neurognocchi._checks.InvalidArgumentError` (a ``ValueError`` and a ``TypeError``)
    naming the field.

    Examples
    --------
    >>> config = TrainConfig(max_epochs=5, batch_size=16)
    >>> TrainConfig.from_json(config.to_json()) == config
    True
    """

    max_epochs: int = 300  # an upper bound: early stopping (``patience``) may end sooner
    batch_size: int = 64  # trials per optimiser step, summed over all processes
    learning_rate: float = 1e-3  # AdamW peak, reached at the end of warm-up
    weight_decay: float = 1e-4  # AdamW's decoupled weight decay
    warmup_steps: int = 200  # linear warm-up, so early large gradients do not derail Adam
    grad_clip: float = 1.0  # max global gradient norm; ``math.inf`` turns clipping off
    ema_decay: float | None = 0.995  # the kept weights are this EMA of the live ones; None: off
    patience: int | None = None  # epochs without a better validation loss before stopping
    checkpoint_every: int = 10  # epochs between checkpoints (the last epoch is always written)
    seed: int = 0  # orders the batches and draws the models' noise (internal; see random_state)
    precision: str = "fp32"  # "bf16" autocasts the forward pass (CUDA only)
    compile: bool = False  # run the loss through torch.compile (pays a compile up front)

    def __post_init__(self):
        for name in ("max_epochs", "batch_size", "checkpoint_every"):
            check_positive_int(getattr(self, name), name)
        check_real(self.learning_rate, "learning_rate", low=0.0, low_open=True)
        check_real(self.weight_decay, "weight_decay", low=0.0)
        check_int(self.warmup_steps, "warmup_steps", minimum=0)
        if self.grad_clip != math.inf:  # inf is allowed: it turns clipping off
            check_real(self.grad_clip, "grad_clip", low=0.0, low_open=True)
        if self.ema_decay is not None:
            check_fraction(self.ema_decay, "ema_decay")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        check_int(self.seed, "seed")
        check_choice(self.precision, "precision", PRECISIONS)
        check_bool(self.compile, "compile")


def learning_rate_at(step: int, *, total_steps: int, config: TrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to 10 % of the peak.

    Parameters
    ----------
    step : int
        Optimiser step, counted from 0.
    total_steps : int
        Steps the run plans in all (warm-up included); the rate stays at its floor after them.
    config : TrainConfig
        Reads ``learning_rate`` (the peak) and ``warmup_steps``.

    Returns
    -------
    float
        The learning rate of ``step``.

    Examples
    --------
    >>> config = TrainConfig(learning_rate=1.0, warmup_steps=2)
    >>> [round(learning_rate_at(s, total_steps=4, config=config), 3) for s in range(5)]
    [0.5, 1.0, 1.0, 0.55, 0.1]
    """
    # 1. Linear warm-up: the peak is reached at the last warm-up step.
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    # 2. Progress through the decay phase, from 0 to 1, held at 1 after ``total_steps``.
    progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
    # 3. Cosine decay from the peak (progress 0) to 10 % of it (progress 1).
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
