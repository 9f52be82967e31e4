"""One training loop for every model: AdamW, warm-up + cosine LR, clipping, EMA, early stopping.

A model is any ``nn.Module`` with ``loss(batch, *, generator, step) -> dict`` whose ``"loss"``
entry is the scalar to minimise; the other entries are logged. Data are arrays
``[n_trials, n_time, n_neurons]`` (numpy, memory-mapped or torch) read one batch at a time.

With a ``run_dir`` the loop writes ``checkpoints/last.pt`` every ``checkpoint_every`` epochs
(tensors and plain numbers only; loaded with ``weights_only=True``) and ``history.json`` /
``history.csv``; ``resume=True`` continues from the last checkpoint with the same result as an
uninterrupted run.
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

from neurognocchi._io import atomic_write, atomic_write_text

CHECKPOINT_VERSION = 1


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


def _batches(n_trials: int, batch_size: int, generator: torch.Generator) -> list[np.ndarray]:
    """Shuffled batches of sorted indices; a last batch of one trial is merged (MMD needs 2)."""
    order = torch.randperm(n_trials, generator=generator).numpy()
    batches = [np.sort(order[i : i + batch_size]) for i in range(0, n_trials, batch_size)]
    if len(batches) > 1 and len(batches[-1]) < 2:
        batches[-2] = np.sort(np.concatenate(batches[-2:]))
        batches.pop()
    return batches


def _to_tensor(data, index, device) -> torch.Tensor:
    batch = data[index]
    if isinstance(batch, torch.Tensor):
        return batch.to(device=device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(batch), dtype=torch.float32, device=device)


@torch.no_grad()
def evaluate_loss(model: nn.Module, data, *, batch_size: int, seed: int, device) -> dict:
    """Mean loss parts over ``data`` with a fixed generator, so epochs are comparable."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    totals: dict[str, float] = {}
    n_used = 0
    for start in range(0, len(data), batch_size):
        index = np.arange(start, min(start + batch_size, len(data)))
        if len(index) < 2:  # a lone trailing trial cannot form an MMD estimate
            continue
        parts = model.loss(_to_tensor(data, index, device), generator=generator, step=0)
        for key, value in parts.items():
            totals[key] = totals.get(key, 0.0) + float(value) * len(index)
        n_used += len(index)
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

    def __init__(self, model, train_data, valid_data, config, device):
        self.model, self.config, self.device = model, config, device
        self.train_data, self.valid_data = train_data, valid_data
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.ema = EMA(model, config.ema_decay) if config.ema_decay is not None else None
        self.generator = torch.Generator().manual_seed(config.seed)
        self.steps_per_epoch = len(_batches(len(train_data), config.batch_size, torch.Generator()))
        self.total_steps = self.steps_per_epoch * config.max_epochs
        self.epoch, self.step, self.history = 0, 0, []
        self.best = {"loss": math.inf, "epoch": None, "state": None}

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
        with atomic_write(run_dir / "checkpoints" / "last.pt") as handle:
            torch.save(self.state_dict(), handle)
        save_history(run_dir, self.history)

    def train_epoch(self) -> dict:
        self.model.train()
        totals: dict[str, float] = {}
        batches = _batches(len(self.train_data), self.config.batch_size, self.generator)
        for index in batches:
            lr = learning_rate_at(self.step, total_steps=self.total_steps, config=self.config)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            parts = self.model.loss(
                _to_tensor(self.train_data, index, self.device),
                generator=self.generator,
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
        return {f"train_{k}": v / len(self.train_data) for k, v in totals.items()} | {"lr": lr}

    def _check_finite(self, parts: dict, lr: float) -> None:
        if all(torch.isfinite(value).all() for value in parts.values()):
            return
        values = ", ".join(f"{key}={float(value.detach()):.4g}" for key, value in parts.items())
        raise NonFiniteLossError(
            f"training diverged at epoch {self.epoch + 1}, step {self.step} ({values}); the last "
            f"good checkpoint (if any) is kept. Try a lower learning_rate (now {lr:.3g}) or a "
            "smaller grad_clip."
        )

    def end_epoch(self, row: dict) -> bool:
        """Record the epoch's metrics; return True when early stopping says to stop."""
        self.epoch += 1
        if self.valid_data is not None:
            valid = evaluate_loss(
                self.eval_model,
                self.valid_data,
                batch_size=self.config.batch_size,
                seed=self.config.seed + 1,
                device=self.device,
            )
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
    verbose : bool
        Show a progress bar (only when stderr is a terminal).

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
    """
    config = config or TrainConfig()
    if len(train_data) < 2:
        raise ValueError(f"train_data must hold at least 2 trials; got {len(train_data)}")
    if valid_data is not None and len(valid_data) < 2:
        raise ValueError(f"valid_data must hold at least 2 trials; got {len(valid_data)}")
    model.to(device)
    trainer = _Trainer(model, train_data, valid_data, config, device)
    run_dir = None if run_dir is None else Path(run_dir)
    checkpoint = None if run_dir is None else run_dir / "checkpoints" / "last.pt"
    if checkpoint is not None and checkpoint.exists():
        if not resume:
            raise FileExistsError(
                f"{str(run_dir)!r} already holds a checkpoint; pass resume=True to continue it "
                "or choose a new run directory"
            )
        trainer.load_state_dict(load_checkpoint(checkpoint))
    stopped_early = trainer.should_stop()
    with _progress_bar(config.max_epochs, trainer.epoch, verbose, desc) as bar:
        while trainer.epoch < config.max_epochs and not stopped_early:
            stopped_early = trainer.end_epoch(trainer.train_epoch())
            bar.update(1)
            bar.set_postfix(
                {
                    k: f"{v:.4g}"
                    for k, v in trainer.history[-1].items()
                    if k in ("train_loss", "valid_loss")
                }
            )
            if run_dir is not None and (
                trainer.epoch % config.checkpoint_every == 0
                or trainer.epoch == config.max_epochs
                or stopped_early
            ):
                trainer.save_checkpoint(run_dir)
    _keep_final_weights(trainer)
    return TrainResult(trainer.history, trainer.best["epoch"], bool(stopped_early))


def _keep_final_weights(trainer: _Trainer) -> None:
    if trainer.best["state"] is not None:
        trainer.model.load_state_dict(trainer.best["state"])
    elif trainer.ema is not None:
        trainer.model.load_state_dict(trainer.ema.model.state_dict())
    trainer.model.eval()
