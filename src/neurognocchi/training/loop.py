"""One training loop for every model: AdamW, warm-up + cosine LR, clipping, EMA, early stopping.

A model is any ``nn.Module`` with ``loss(batch, *, generator, step) -> dict`` whose ``"loss"``
entry is the scalar to minimise; the other entries are logged. Data are arrays
``[n_trials, n_time, n_neurons]`` (numpy, memory-mapped or torch) read one batch at a time.

With a ``run_dir`` the loop writes ``checkpoints/last.pt`` every ``checkpoint_every`` epochs
(tensors and plain numbers only; loaded with ``weights_only=True``) and ``history.json`` /
``history.csv``; ``resume=True`` continues from the last checkpoint with the same result as an
uninterrupted run.

Launched by ``torchrun`` with more than one process, the loop trains data-parallel (see
:mod:`neurognocchi.training.distributed`): every rank draws the same permutation of the training
trials, each global batch of ``batch_size`` trials is split into one contiguous part per rank,
DDP averages the gradients, and the logged losses are summed over ranks. All ranks therefore take
the same optimiser steps and end with identical weights; only rank 0 writes files. The run
directory must be visible to every rank (a shared filesystem on several nodes).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from neurognocchi._checks import InvalidArgumentError
from neurognocchi._io import WriteFailedError
from neurognocchi.training import distributed
from neurognocchi.training.batches import autocast, loss_sums, shuffled_batches, to_tensor
from neurognocchi.training.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from neurognocchi.training.config import TrainConfig, learning_rate_at
from neurognocchi.training.ema import EMA

__all__ = ["NonFiniteLossError", "TrainResult", "train"]


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


@dataclass
class TrainResult:
    """What :func:`train` returns: the per-epoch history and where the kept weights came from."""

    history: list[dict]
    best_epoch: int | None
    stopped_early: bool


def _check_precision(precision: str, device: torch.device) -> None:
    if precision == "bf16" and device.type != "cuda":
        raise InvalidArgumentError(
            f"precision='bf16' needs a CUDA device (bf16 autocast is slower than fp32 on most "
            f"CPUs); got device {str(device)!r}. Use precision='fp32' on CPU."
        )


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
            raise InvalidArgumentError(
                f"batch_size must be at least 2 per process ({self.min_batch} for "
                f"{self.context.world_size} processes); got {config.batch_size}"
            )
        batches = shuffled_batches(
            len(train_data), config.batch_size, torch.Generator(), self.min_batch
        )
        self.steps_per_epoch = len(batches)
        self.total_steps = self.steps_per_epoch * config.max_epochs
        self.epoch, self.step, self.history = 0, 0, []
        self.saved_epoch: int | None = None  # the epoch of the checkpoint on disk
        # The kept weights: those of the epoch with the lowest validation ``select_on``.
        self.best = {"value": math.inf, "epoch": None, "state": None}
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
        """The training state a checkpoint holds (the version is added when it is written)."""
        return {
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
            raise InvalidArgumentError(
                f"the checkpoint does not match this model or settings: {str(error)[:300]}"
            ) from None
        self.generator.set_state(state["generator"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.saved_epoch = self.epoch
        self.history, self.best = list(state["history"]), dict(state["best"])
        if "loss" in self.best:  # a checkpoint from before select_on (0.3.0): it kept on loss
            self.best["value"] = self.best.pop("loss")

    def write_checkpoint(self, run_dir: Path) -> None:
        """Write the checkpoint and history (rank 0 only: the caller checks); when that fails,
        the error says which checkpoint is still on disk and how to continue from it."""
        try:
            save_checkpoint(run_dir, self.state_dict())
        except WriteFailedError as error:
            raise error.with_advice(self._resume_advice(error.remedy)) from error
        self.saved_epoch = self.epoch

    def _resume_advice(self, remedy: str) -> str:
        stopped = f"training stopped after epoch {self.epoch}"
        if self.saved_epoch is None:
            return f"{stopped}, before its first checkpoint: {remedy}, then start the fit again"
        return (
            f"{stopped}; the last good checkpoint (epoch {self.saved_epoch}) is intact: "
            f"{remedy}, then continue from it with `neurognocchi fit --resume` (Python: "
            "fit(..., run_dir=..., resume=True))"
        )

    def train_epoch(self) -> dict:
        self.model.train()
        context = self.context
        totals: dict[str, float] = {}
        batches = shuffled_batches(
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
            with autocast(self.device, precision=self.config.precision):
                parts = self.loss_module(
                    to_tensor(self.train_data, index, device=self.device),  # (B, T, N)
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
        totals, n_used = loss_sums(
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
            value = self._selected(valid)
            if value < self.best["value"]:
                state = {k: v.detach().clone() for k, v in self.eval_model.state_dict().items()}
                self.best = {"value": value, "epoch": self.epoch, "state": state}
        self.history.append({"epoch": self.epoch, "step": self.step, **row})
        return self.should_stop()

    def _selected(self, valid: dict) -> float:
        """The validation part named by ``select_on``, or an error naming the parts there are."""
        name = self.config.select_on
        if name not in valid:
            raise InvalidArgumentError(
                f"select_on={name!r} is not a part of this model's validation loss; its parts "
                f"are {', '.join(map(repr, valid))}"
            )
        return valid[name]

    def should_stop(self) -> bool:
        """Early stopping: ``patience`` epochs have passed without a better ``select_on``."""
        patience, best_epoch = self.config.patience, self.best["epoch"]
        return (
            patience is not None and best_epoch is not None and self.epoch - best_epoch >= patience
        )


def _progress_bar(total: int, initial: int, verbose: bool, desc: str):
    show = verbose and sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, unit="epoch", disable=not show)


#: Without a terminal (output redirected to a file, a batch job), a verbose fit writes one
#: line to stderr this many times over its run (and after its last epoch) instead of a bar.
N_LOG_LINES = 10


def _log_progress(trainer: _Trainer, verbose: bool, desc: str, started: float) -> None:
    """One line of progress on stderr every ``max_epochs / N_LOG_LINES`` epochs, when verbose
    and stderr is not a terminal (where the progress bar shows instead)."""
    total = trainer.config.max_epochs
    every = max(1, total // N_LOG_LINES)
    if not verbose or sys.stderr.isatty():
        return
    if trainer.epoch % every and trainer.epoch != total and not trainer.stopped_early:
        return
    row = trainer.history[-1]
    keys = dict.fromkeys(("train_loss", "valid_loss", f"valid_{trainer.config.select_on}"))
    losses = ", ".join(f"{k} {row[k]:.4g}" for k in keys if k in row)
    elapsed = time.perf_counter() - started
    print(
        f"{desc}: epoch {trainer.epoch}/{total}, {losses}, {elapsed:.0f} s",
        file=sys.stderr,
        flush=True,
    )


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
    desc : str
        Label of the progress bar.

    Returns
    -------
    TrainResult
        The kept weights are the EMA weights of the epoch with the lowest validation
        ``config.select_on`` (with validation data), otherwise the final EMA weights (or raw
        weights without EMA).

    Raises
    ------
    NonFiniteLossError
        When a loss becomes NaN or infinite; the last checkpoint on disk is left untouched.
    neurognocchi._io.WriteFailedError
        When a checkpoint or the history cannot be written (no space left, an I/O error, no
        permission); the last good checkpoint is left intact and the message says which epoch
        it holds and how to resume from it.
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
        raise InvalidArgumentError(f"train_data must hold at least 2 trials; got {len(train_data)}")
    if valid_data is not None and len(valid_data) < 2:
        raise InvalidArgumentError(f"valid_data must hold at least 2 trials; got {len(valid_data)}")
    device = distributed.local_device(torch.device(device))
    _check_precision(config.precision, device)
    context = distributed.setup(device)
    model.to(device)
    run_dir = None if run_dir is None else Path(run_dir)
    checkpoint = None if run_dir is None else checkpoint_path(run_dir)
    # Rank 0 decides, so that every rank takes the same branch; decided before any rank can
    # write (wrapping the model in DDP below is a collective).
    found = distributed.broadcast_flag(checkpoint is not None and checkpoint.exists(), device)
    if found and not resume:
        restarted = "torchrun restarted this group: " if distributed.restart_count() else ""
        raise FileExistsError(
            f"{str(run_dir)!r} already holds a checkpoint; {restarted}pass resume=True to "
            "continue it (a group restarted by torchrun then goes on from the last checkpoint) "
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
    started = time.perf_counter()
    with _progress_bar(config.max_epochs, trainer.epoch, verbose, desc) as bar:
        while trainer.epoch < config.max_epochs and not trainer.stopped_early:
            trainer.stopped_early = trainer.end_epoch(trainer.train_epoch())
            bar.update(1)
            _log_progress(trainer, verbose, desc, started)
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
                trainer.write_checkpoint(run_dir)


def _keep_final_weights(trainer: _Trainer) -> None:
    if trainer.best["state"] is not None:
        trainer.model.load_state_dict(trainer.best["state"])
    elif trainer.ema is not None:
        trainer.model.load_state_dict(trainer.ema.model.state_dict())
    trainer.model.eval()
