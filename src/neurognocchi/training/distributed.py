"""Data-parallel training across processes launched by ``torchrun`` (PyTorch DDP).

``torchrun`` starts one process per device and sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``
in each. :func:`setup` reads them and joins the process group (gloo on CPU, nccl on CUDA); a
plain ``python`` process (or ``torchrun --nproc_per_node 1``) is a world of one and nothing
distributed happens. The training loop (:mod:`neurognocchi.training.loop`) uses :class:`Context`
to shard each epoch's batches, average gradients (DistributedDataParallel) and logged losses, and
to let only rank 0 write.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = [
    "Context",
    "LossModule",
    "all_reduce_sum",
    "attempt_prefix",
    "barrier",
    "broadcast_flag",
    "is_main_process",
    "launched_by_torchrun",
    "local_device",
    "rank",
    "restart_count",
    "setup",
    "world_size",
]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer; got {value!r}") from None


def world_size() -> int:
    """Number of processes of this job (1 outside ``torchrun``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """This process's rank (0 outside ``torchrun``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return _env_int("RANK", 0)


def is_main_process() -> bool:
    """True on rank 0, the one process that writes files and logs."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    """True when the environment describes a job of more than one process."""
    return world_size() > 1


def restart_count() -> int:
    """How many times ``torchrun --max-restarts`` has restarted this worker group (0 on the
    first attempt and outside ``torchrun``)."""
    return max(0, _env_int("TORCHELASTIC_RESTART_COUNT", 0))


def local_device(device: torch.device) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` for an unindexed CUDA device under
    ``torchrun`` (one GPU per process), otherwise ``device`` unchanged.

    :func:`neurognocchi._checks.resolve_device` does the same for user-given devices.

    Examples
    --------
    >>> local_device(torch.device("cpu"))
    device(type='cpu')
    """
    if device.type == "cuda" and device.index is None and launched_by_torchrun():
        return torch.device("cuda", _env_int("LOCAL_RANK", 0))
    return device


@dataclass(frozen=True)
class Context:
    """Where this process stands in the job: ``rank`` of ``world_size`` processes.

    Examples
    --------
    >>> context = Context()
    >>> context.is_distributed, context.is_main
    (False, True)
    """

    rank: int = 0
    world_size: int = 1

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: torch.device) -> Context:
    """Join the process group described by the environment (once); return this rank's context.

    The backend is nccl for CUDA devices and gloo otherwise. The group stays open for the rest
    of the process (later ``fit`` calls and ``save`` reuse it) and is closed at exit.

    Parameters
    ----------
    device : torch.device
        This process's device (see :func:`local_device`); it picks the backend.

    Returns
    -------
    Context
        ``Context()`` (rank 0 of 1) outside ``torchrun``.
    """
    if not launched_by_torchrun():
        return Context()
    if not dist.is_available():
        raise RuntimeError(
            f"WORLD_SIZE={world_size()} asks for distributed training, but this PyTorch build "
            "has no torch.distributed"
        )
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        store, rank_, size = next(dist.rendezvous("env://"))
        prefix = attempt_prefix()
        if prefix is not None:
            store = dist.PrefixStore(prefix, store)
        dist.init_process_group(backend=backend, store=store, rank=rank_, world_size=size)
        atexit.register(_close)
    return Context(rank=dist.get_rank(), world_size=dist.get_world_size())


def attempt_prefix() -> str | None:
    """The key prefix that keeps this attempt's process-group keys apart from earlier ones.

    ``torchrun`` (PyTorch >= 2.5, c10d rendezvous) hosts one key-value store in its agent and
    keeps it across ``--max-restarts`` restarts (``TORCHELASTIC_USE_AGENT_STORE=True``), and
    ``init_process_group`` writes the same key names in every attempt. A restarted rank can then
    read a dead rank's address from the attempt before, and gloo fails with "connectFullMesh ...
    Connection refused" or hangs (pytorch/pytorch#135712). Each attempt therefore gets keys of
    its own, named by ``TORCHELASTIC_RESTART_COUNT``. That count is kept per node, and nodes that
    did not fail keep theirs, so it names the attempt only when one node runs the whole group;
    across nodes nothing is prefixed (set ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` for
    ``torchrun`` there: each restart then gets a fresh store).

    Returns
    -------
    str or None
        ``"neurognocchi/attempt_<n>/"``, or None when the store is not shared across restarts
        (a fresh store per attempt) or the group spans several nodes.

    Examples
    --------
    >>> import os
    >>> os.environ.get("TORCHELASTIC_USE_AGENT_STORE") is None and attempt_prefix() is None
    True
    """
    shared = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    if not shared or _env_int("GROUP_WORLD_SIZE", 1) != 1:
        return None
    return f"neurognocchi/attempt_{restart_count()}/"


def _close() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process of the job (no-op in a world of one)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all processes (float64, one collective).

    Parameters
    ----------
    values : list of float
        This process's numbers; every process passes a list of the same length.
    device : torch.device
        Where the collective runs (the process group's device).

    Returns
    -------
    list of float
        The sums, the same on every process (``values`` itself in a world of one).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every process, so all of them take the same branch."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    tensor = torch.tensor([int(flag)], dtype=torch.int64, device=device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


class LossModule(torch.nn.Module):
    """``forward(batch, **kwargs) = model.loss(batch, **kwargs)``: what DDP wraps, so its
    gradient all-reduce hooks fire for models that expose ``loss`` rather than ``forward``."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: torch.Tensor, **kwargs) -> dict:
        return self.model.loss(batch, **kwargs)
