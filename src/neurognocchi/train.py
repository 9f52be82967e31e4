"""One training loop for every model: AdamW, warm-up + cosine LR, clipping, EMA, early stopping.

A model is any ``nn.Module`` with ``loss(batch, *, generator, step) -> dict`` whose ``"loss"``
entry is the scalar to minimise; the other entries are logged. Data are arrays
``[n_trials, n_time, n_neurons]`` (numpy, memory-mapped or torch) read one batch at a time.

With a ``run_dir`` the loop writes ``checkpoints/last.pt`` every ``checkpoint_every`` epochs
(tensors and plain numbers only; loaded with ``weights_only=True``) and ``history.json`` /
``history.csv``; ``resume=True`` continues from the last checkpoint with the same result as an
uninterrupted run.

Launched by ``torchrun`` with more than one process, the loop trains data-parallel (see
:mod:`neurognocchi.distributed`): every rank draws the same permutation of the training trials,
each global batch of ``batch_size`` trials is split into one contiguous part per rank, DDP
averages the gradients, and the logged losses are summed over ranks. All ranks therefore take
the same optimiser steps and end with identical weights; only rank 0 writes files. The run
directory must be visible to every rank (a shared filesystem on several nodes).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from neurognocchi import distributed
from neurognocchi._io import atomic_write, atomic_write_text

CHECKPOINT_VERSION = 1
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by all models."""

    max_epochs: int = 300
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    grad_clip: float = 1.0
    ema_decay: float | None = 0.995
    patience: int | None = None
    checkpoint_every: int = 10
    seed: int = 0
    precision: str = "fp32"
    compile: bool = False

    def __post_init__(self):
        for name in ("max_epochs", "batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive; got {self.learning_rate!r}")
        if self.ema_decay is not None and not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1) or None; got {self.ema_decay!r}")
        for name in ("warmup_steps", "weight_decay"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive; got {self.grad_clip!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be a positive integer or None; got {self.patience!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be 'fp32' or 'bf16'; got {self.precision!r}")
        if not isinstance(self.compile, bool):
            raise TypeError(f"compile must be True or False; got {self.compile!r}")


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


def learning_rate_at(step: int, *, total_steps: int, config: TrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to 10 % of the peak."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class EMA:
    """Exponential moving average of a model's floating-point parameters and buffers.

    The decay ramps up as ``min(decay, (1 + n) / (10 + n))`` so early updates are not
    dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.n_updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = min(self.decay, (1 + self.n_updates) / (10 + self.n_updates))
        live = model.state_dict()
        for name, value in self.model.state_dict().items():
            if value.dtype.is_floating_point:
                value.lerp_(live[name], 1.0 - decay)
            else:
                value.copy_(live[name])
        self.n_updates += 1


def _batches(
    n_trials: int, batch_size: int, generator: torch.Generator, min_size: int = 2
) -> list[np.ndarray]:
    """Shuffled batches of sorted indices; a last batch under ``min_size`` trials is merged
    into the one before (MMD needs 2 trials per process)."""
    order = torch.randperm(n_trials, generator=generator).numpy()
    batches = [np.sort(order[i : i + batch_size]) for i in range(0, n_trials, batch_size)]
    if len(batches) > 1 and len(batches[-1]) < min_size:
        batches[-2] = np.sort(np.concatenate(batches[-2:]))
        batches.pop()
    return batches


def _autocast(device: torch.device, precision: str):
    """bf16 autocast on ``device`` for ``precision="bf16"``; a no-op context for fp32."""
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16"
    )


def _check_precision(precision: str, device: torch.device) -> None:
    if precision == "bf16" and device.type != "cuda":
        raise ValueError(
            f"precision='bf16' needs a CUDA device (bf16 autocast is slower than fp32 on most "
            f"CPUs); got device {str(device)!r}. Use precision='fp32' on CPU."
        )


def _to_tensor(data, index, device) -> torch.Tensor:
    batch = data[index]
    if isinstance(batch, torch.Tensor):
        return batch.to(device=device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(batch), dtype=torch.float32, device=device)


@torch.no_grad()
def _loss_sums(
    model, data, *, batch_size, seed, device, precision="fp32", shard=(0, 1)
) -> tuple[dict, int]:
    """Trial-weighted sums of the loss parts over the batches ``shard = (rank, n_shards)``
    owns (every n_shards-th batch), and the number of trials they hold."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    totals: dict[str, float] = {}
    n_used = 0
    starts = list(range(0, len(data), batch_size))
    for start in starts[shard[0] :: shard[1]]:
        index = np.arange(start, min(start + batch_size, len(data)))
        if len(index) < 2:  # a lone trailing trial cannot form an MMD estimate
            continue
        with _autocast(device, precision):
            parts = model.loss(_to_tensor(data, index, device), generator=generator, step=0)
        for key, value in parts.items():
            totals[key] = totals.get(key, 0.0) + float(value) * len(index)
        n_used += len(index)
    return totals, n_used


def evaluate_loss(
    model: nn.Module, data, *, batch_size: int, seed: int, device, precision: str = "fp32"
) -> dict:
    """Mean loss parts over ``data`` with a fixed generator, so epochs are comparable."""
    totals, n_used = _loss_sums(
        model, data, batch_size=batch_size, seed=seed, device=device, precision=precision
    )
    return {key: value / n_used for key, value in totals.items()}


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint safely (tensors and plain values only, never pickled objects).

    Raises
    ------
    ValueError
        If the file is truncated, corrupt, not a checkpoint, or from another version.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # torch raises many types for damaged or unsafe files
        raise ValueError(
            f"cannot read checkpoint {str(path)!r}: it is truncated, corrupt or contains "
            f"objects other than tensors ({type(error).__name__}: {str(error)[:200]})"
        ) from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        found = state.get("version") if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"checkpoint {str(path)!r} has version {found!r}; this neurognocchi reads version "
            f"{CHECKPOINT_VERSION}"
        )
    return state


def save_history(run_dir: Path, history: list[dict]) -> None:
    """Write the per-epoch metrics as ``history.json`` and ``history.csv`` (atomically)."""
    atomic_write_text(run_dir / "history.json", json.dumps(history, indent=1))
    columns = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(run_dir / "history.csv", buffer.getvalue())


@dataclass
class TrainResult:
    """What :func:`train` returns: the per-epoch history and where the kept weights came from."""

    history: list[dict]
    best_epoch: int | None
    stopped_early: bool


class _Trainer:
    """The mutable state of one training run; :func:`train` is its public face."""

    def __init__(self, model, train_data, valid_data, config, device, context=None):
        self.model, self.config, self.device = model, config, device
        self.context = context or distributed.Context()
        self.train_data, self.valid_data = train_data, valid_data
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.ema = EMA(model, config.ema_decay) if config.ema_decay is not None else None
        # One generator orders the batches (the same on every rank); in a world of one it also
        # draws the models' noise, as it always has. Each rank of a distributed run draws its
        # noise from its own generator, re-seeded from (seed, rank, epoch) so resuming is exact.
        self.generator = torch.Generator().manual_seed(config.seed)
        self.noise_generator = self.generator
        if self.context.is_distributed:
            self.noise_generator = torch.Generator()
        self.min_batch = 2 * self.context.world_size
        if config.batch_size < self.min_batch:
            raise ValueError(
                f"batch_size must be at least 2 per process ({self.min_batch} for "
                f"{self.context.world_size} processes); got {config.batch_size}"
            )
        batches = _batches(len(train_data), config.batch_size, torch.Generator(), self.min_batch)
        self.steps_per_epoch = len(batches)
        self.total_steps = self.steps_per_epoch * config.max_epochs
        self.epoch, self.step, self.history = 0, 0, []
        self.best = {"loss": math.inf, "epoch": None, "state": None}
        self.stopped_early = False
        self.loss_module = self._wrap(model)

    def _wrap(self, model: nn.Module):
        """The callable that computes a batch's loss: the model's own ``loss``, or DDP and/or
        ``torch.compile`` around a module whose forward is that loss."""
        if not self.context.is_distributed and not self.config.compile:
            return model.loss
        module = distributed.LossModule(model)
        if self.context.is_distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            module = nn.parallel.DistributedDataParallel(module, device_ids=device_ids)
        return torch.compile(module) if self.config.compile else module

    @property
    def eval_model(self) -> nn.Module:
        return self.ema.model if self.ema is not None else self.model

    def state_dict(self) -> dict:
        return {
            "version": CHECKPOINT_VERSION,
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema else None,
            "ema_updates": self.ema.n_updates if self.ema else 0,
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "history": self.history,
            "best": self.best,
        }

    def load_state_dict(self, state: dict) -> None:
        try:
            self.model.load_state_dict(state["model"])
            if self.ema is not None:
                self.ema.model.load_state_dict(state["ema"])
                self.ema.n_updates = state["ema_updates"]
            self.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, RuntimeError, ValueError, TypeError) as error:
            raise ValueError(
                f"the checkpoint does not match this model or settings: {str(error)[:300]}"
            ) from None
        self.generator.set_state(state["generator"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.history, self.best = list(state["history"]), state["best"]

    def save_checkpoint(self, run_dir: Path) -> None:
        """Write the checkpoint and history (rank 0 only: the caller checks)."""
        with atomic_write(run_dir / "checkpoints" / "last.pt") as handle:
            torch.save(self.state_dict(), handle)
        save_history(run_dir, self.history)

    def train_epoch(self) -> dict:
        self.model.train()
        context = self.context
        totals: dict[str, float] = {}
        batches = _batches(
            len(self.train_data), self.config.batch_size, self.generator, self.min_batch
        )
        if context.is_distributed:
            seed = [self.config.seed, context.rank, self.epoch]
            self.noise_generator.manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
        for batch in batches:
            index = np.array_split(batch, context.world_size)[context.rank]
            lr = learning_rate_at(self.step, total_steps=self.total_steps, config=self.config)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            with _autocast(self.device, self.config.precision):
                parts = self.loss_module(
                    _to_tensor(self.train_data, index, self.device),
                    generator=self.noise_generator,
                    step=self.step,
                )
            self._check_finite(parts, lr)
            self.optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.model)
            self.step += 1
            for key, value in parts.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach()) * len(index)
        keys = list(totals)
        sums = distributed.all_reduce_sum([totals[key] for key in keys], self.device)
        means = {f"train_{k}": v / len(self.train_data) for k, v in zip(keys, sums, strict=True)}
        return means | {"lr": lr}

    def _check_finite(self, parts: dict, lr: float) -> None:
        finite = all(torch.isfinite(value).all() for value in parts.values())
        if self.context.is_distributed:  # every rank must stop together, or the others hang
            finite = distributed.all_reduce_sum([float(not finite)], self.device)[0] == 0
        if finite:
            return
        values = ", ".join(f"{key}={float(value.detach()):.4g}" for key, value in parts.items())
        raise NonFiniteLossError(
            f"training diverged at epoch {self.epoch + 1}, step {self.step} ({values}); the last "
            f"good checkpoint (if any) is kept. Try a lower learning_rate (now {lr:.3g}) or a "
            "smaller grad_clip."
        )

    def validation_loss(self) -> dict:
        """Mean validation loss parts; under DDP each rank scores every world_size-th batch
        and the sums are added, so all ranks get the same numbers."""
        n_valid, batch_size = len(self.valid_data), self.config.batch_size
        n_batches = n_valid // batch_size + int(n_valid % batch_size >= 2)  # batches scored
        world = self.context.world_size
        # With fewer batches than ranks every rank scores all of them and the ranks average.
        shard = (self.context.rank, world) if n_batches >= world else (0, 1)
        totals, n_used = _loss_sums(
            self.eval_model,
            self.valid_data,
            batch_size=self.config.batch_size,
            seed=self.config.seed + 1,
            device=self.device,
            precision=self.config.precision,
            shard=shard,
        )
        keys = list(totals)
        sums = distributed.all_reduce_sum([totals[k] for k in keys] + [n_used], self.device)
        return {key: value / sums[-1] for key, value in zip(keys, sums[:-1], strict=True)}

    def end_epoch(self, row: dict) -> bool:
        """Record the epoch's metrics; return True when early stopping says to stop."""
        self.epoch += 1
        if self.valid_data is not None:
            valid = self.validation_loss()
            row |= {f"valid_{key}": value for key, value in valid.items()}
            if valid["loss"] < self.best["loss"]:
                state = {k: v.detach().clone() for k, v in self.eval_model.state_dict().items()}
                self.best = {"loss": valid["loss"], "epoch": self.epoch, "state": state}
        self.history.append({"epoch": self.epoch, "step": self.step, **row})
        return self.should_stop()

    def should_stop(self) -> bool:
        """Early stopping: ``patience`` epochs have passed without a better validation loss."""
        patience, best_epoch = self.config.patience, self.best["epoch"]
        return (
            patience is not None and best_epoch is not None and self.epoch - best_epoch >= patience
        )


def _progress_bar(total: int, initial: int, verbose: bool, desc: str):
    show = verbose and sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, unit="epoch", disable=not show)


def train(
    model: nn.Module,
    train_data,
    valid_data=None,
    *,
    config: TrainConfig | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    device: str | torch.device = "cpu",
    verbose: bool = True,
    desc: str = "training",
) -> TrainResult:
    """Train ``model`` in place and leave the weights to keep in it.

    Parameters
    ----------
    model : nn.Module
        Exposes ``loss(batch, *, generator, step) -> dict`` with a scalar ``"loss"``.
    train_data, valid_data : array-like, shape (n_trials, n_time, n_neurons)
        Indexable by an integer array (numpy, memmap or torch); batches are moved to ``device``.
    config : TrainConfig, optional
    run_dir : path, optional
        Where checkpoints and the history go; nothing is written without it.
    resume : bool
        Continue from ``run_dir/checkpoints/last.pt`` when it exists. With the same config the
        result is identical to an uninterrupted run. A larger ``max_epochs`` extends a run: the
        remaining steps follow the learning-rate schedule of the new ``max_epochs`` (warm-up,
        then cosine decay over the new total), so the result differs from a run planned with
        that ``max_epochs`` from the start once warm-up is over.
    device : str or torch.device
        Under ``torchrun`` an unindexed ``"cuda"`` means this process's GPU, ``LOCAL_RANK``.
    verbose : bool
        Show a progress bar (only when stderr is a terminal, and only on rank 0).

    Returns
    -------
    TrainResult
        The kept weights are the EMA weights of the epoch with the lowest validation loss
        (with validation data), otherwise the final EMA weights (or raw weights without EMA).

    Raises
    ------
    NonFiniteLossError
        When a loss becomes NaN or infinite; the last checkpoint on disk is left untouched.
    FileExistsError
        When ``run_dir`` already holds a checkpoint and ``resume`` is False.
    ValueError
        For ``precision="bf16"`` on a device other than CUDA, or a ``batch_size`` under 2 per
        process in a distributed run.

    Notes
    -----
    ``config.precision="bf16"`` runs the forward passes under bf16 autocast (CUDA only);
    ``config.compile=True`` runs the loss through ``torch.compile`` (the first steps pay the
    compilation). Neither changes what is saved: weights stay float32 and uncompiled.
    """
    config = config or TrainConfig()
    if len(train_data) < 2:
        raise ValueError(f"train_data must hold at least 2 trials; got {len(train_data)}")
    if valid_data is not None and len(valid_data) < 2:
        raise ValueError(f"valid_data must hold at least 2 trials; got {len(valid_data)}")
    device = distributed.local_device(torch.device(device))
    _check_precision(config.precision, device)
    context = distributed.setup(device)
    model.to(device)
    run_dir = None if run_dir is None else Path(run_dir)
    checkpoint = None if run_dir is None else run_dir / "checkpoints" / "last.pt"
    # Rank 0 decides, so that every rank takes the same branch; decided before any rank can
    # write (wrapping the model in DDP below is a collective).
    found = distributed.broadcast_flag(checkpoint is not None and checkpoint.exists(), device)
    if found and not resume:
        raise FileExistsError(
            f"{str(run_dir)!r} already holds a checkpoint; pass resume=True to continue it "
            "or choose a new run directory"
        )
    trainer = _Trainer(model, train_data, valid_data, config, device, context)
    if found:
        trainer.load_state_dict(load_checkpoint(checkpoint))
    _run_epochs(trainer, run_dir, verbose=verbose and context.is_main, desc=desc)
    distributed.barrier()  # the last checkpoint is on disk before any rank returns
    _keep_final_weights(trainer)
    return TrainResult(trainer.history, trainer.best["epoch"], bool(trainer.stopped_early))


def _run_epochs(trainer: _Trainer, run_dir: Path | None, *, verbose: bool, desc: str) -> None:
    config, write = trainer.config, run_dir is not None and trainer.context.is_main
    trainer.stopped_early = trainer.should_stop()
    with _progress_bar(config.max_epochs, trainer.epoch, verbose, desc) as bar:
        while trainer.epoch < config.max_epochs and not trainer.stopped_early:
            trainer.stopped_early = trainer.end_epoch(trainer.train_epoch())
            bar.update(1)
            bar.set_postfix(
                {
                    k: f"{v:.4g}"
                    for k, v in trainer.history[-1].items()
                    if k in ("train_loss", "valid_loss")
                }
            )
            if write and (
                trainer.epoch % config.checkpoint_every == 0
                or trainer.epoch == config.max_epochs
                or trainer.stopped_early
            ):
                trainer.save_checkpoint(run_dir)


def _keep_final_weights(trainer: _Trainer) -> None:
    if trainer.best["state"] is not None:
        trainer.model.load_state_dict(trainer.best["state"])
    elif trainer.ema is not None:
        trainer.model.load_state_dict(trainer.ema.model.state_dict())
    trainer.model.eval()
