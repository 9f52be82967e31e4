"""Optimisation settings shared by every model, and the learning-rate schedule they imply.

:class:`TrainConfig` is a frozen dataclass (saved and read as JSON through
:class:`~neurognocchi._config.JsonConfig`) whose fields are checked when it is built, so a bad
setting fails before any data is read. :func:`learning_rate_at` is the pure warm-up + cosine
schedule of the training loop (as nanoGPT's ``get_lr``); it depends on nothing but its arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

from neurognocchi._checks import (
    InvalidArgumentError,
    check_bool,
    check_fraction,
    check_int,
    check_positive_int,
    check_real,
)
from neurognocchi._config import JsonConfig
from neurognocchi._params import check_fields, optional, param, unless_inf

__all__ = ["PRECISIONS", "TrainConfig", "learning_rate_at"]

PRECISIONS = ("fp32", "bf16")


def _check_part_name(value, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(
            f"{name} must name a part of the model's validation loss, e.g. 'loss'; got {value!r}"
        )
    return value


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Optimisation settings shared by all models.

    Each field is defined once here (:func:`~neurognocchi._params.param`; the estimators take
    these definitions, with defaults of their own where they say why). Every field is checked
    when the config is built; a bad value raises
    :class:`~neurognocchi._checks.InvalidArgumentError` (a ``ValueError`` and a ``TypeError``)
    naming the field.

    Examples
    --------
    >>> config = TrainConfig(max_epochs=5, batch_size=16)
    >>> TrainConfig.from_json(config.to_json()) == config
    True
    """

    max_epochs: int = param(
        300,
        "Training epochs.",
        reason="An upper bound: early stopping (``patience``) may end sooner.",
        check=check_positive_int,
    )
    batch_size: int = param(
        64, "Trials per optimiser step, summed over all processes.", check=check_positive_int
    )
    learning_rate: float = param(
        1e-3,
        "AdamW's peak learning rate, reached at the end of warm-up (then cosine decay).",
        check=partial(check_real, low=0.0, low_open=True),
    )
    weight_decay: float = param(
        1e-4, "AdamW's decoupled weight decay.", check=partial(check_real, low=0.0)
    )
    warmup_steps: int = param(
        200,
        "Optimiser steps of the learning rate's linear warm-up.",
        reason="So that early large gradients do not derail Adam.",
        check=partial(check_int, minimum=0),
    )
    grad_clip: float = param(
        1.0,
        "Largest global gradient norm (``math.inf``: no clipping).",
        check=unless_inf(partial(check_real, low=0.0, low_open=True)),
    )
    ema_decay: float | None = param(
        0.995,
        "The kept weights are this exponential moving average of the live ones (None: off).",
        check=optional(check_fraction),
    )
    patience: int | None = param(
        None,
        "Stop after this many epochs without a better validation ``select_on`` (None: never).",
        check=optional(check_positive_int),
    )
    select_on: str = param(
        "loss",
        "The validation metric whose lowest value picks the kept weights and that ``patience`` "
        'counts on: ``"loss"`` (the training objective) or another part of the model\'s loss, '
        "e.g. GNOCCHI's ``\"mmd\"`` (the codes' MMD to the prior).",
        check=_check_part_name,
    )
    checkpoint_every: int = param(
        10,
        "Epochs between checkpoints (the last epoch is always written).",
        check=check_positive_int,
    )
    seed: int = param(
        0,
        "Orders the batches and draws the models' noise (internal; see ``random_state``).",
        check=check_int,
    )
    precision: str = param(
        "fp32",
        'Training arithmetic: ``"bf16"`` runs forward passes under bf16 autocast (CUDA only).',
        choices=PRECISIONS,
    )
    compile: bool = param(
        False,
        "Run the training loss through ``torch.compile`` (``benchmarks/`` says when it pays).",
        reason="Off: compiling takes minutes on a CPU.",
        check=check_bool,
    )

    def __post_init__(self):
        check_fields(self)


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
