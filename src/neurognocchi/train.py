"""Old home of the training loop; moved to neurognocchi.training (removed in 0.3).

The old private helpers that tests and benchmarks used (``_Trainer``, ``_batches``,
``_check_precision``) are forwarded to their new homes for the same release.
"""

from neurognocchi.training import batches as _batches_module
from neurognocchi.training import loop as _loop
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

_FORWARDED = {
    "_Trainer": (_loop, "_Trainer"),
    "_check_precision": (_loop, "_check_precision"),
    "_batches": (_batches_module, "shuffled_batches"),
}


def __getattr__(name: str):
    if name in _FORWARDED:
        module, new_name = _FORWARDED[name]
        return getattr(module, new_name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
