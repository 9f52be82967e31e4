"""The training loop shared by every model, and what it needs around it.

* :mod:`~neurognocchi.training.config` — :class:`TrainConfig` and the learning-rate schedule;
* :mod:`~neurognocchi.training.ema` — the exponential moving average of the weights;
* :mod:`~neurognocchi.training.batches` — shuffled batches and a dataset's mean loss;
* :mod:`~neurognocchi.training.checkpoint` — the run directory's checkpoint and history files;
* :mod:`~neurognocchi.training.loop` — :func:`train`, the loop itself;
* :mod:`~neurognocchi.training.distributed` — data-parallel runs under ``torchrun``.
"""

from neurognocchi.training.batches import evaluate_loss
from neurognocchi.training.checkpoint import CHECKPOINT_VERSION, load_checkpoint, save_history
from neurognocchi.training.config import PRECISIONS, TrainConfig, learning_rate_at
from neurognocchi.training.ema import EMA
from neurognocchi.training.loop import NonFiniteLossError, TrainResult, train

__all__ = [
    "CHECKPOINT_VERSION",
    "EMA",
    "PRECISIONS",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "evaluate_loss",
    "learning_rate_at",
    "load_checkpoint",
    "save_history",
    "train",
]
