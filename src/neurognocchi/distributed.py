"""Old home of the torchrun/DDP helpers; moved to neurognocchi.training (removed in 0.3)."""

from neurognocchi.training.distributed import (
    Context,
    LossModule,
    all_reduce_sum,
    barrier,
    broadcast_flag,
    is_main_process,
    launched_by_torchrun,
    local_device,
    rank,
    setup,
    world_size,
)

__all__ = [
    "Context",
    "LossModule",
    "all_reduce_sum",
    "barrier",
    "broadcast_flag",
    "is_main_process",
    "launched_by_torchrun",
    "local_device",
    "rank",
    "setup",
    "world_size",
]
