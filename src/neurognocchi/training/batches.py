"""How trials reach a model: shuffled batches, a batch on the device, and a dataset's mean loss.

Data are arrays ``[n_trials, n_time, n_neurons]`` (numpy, memory-mapped or torch) indexed by an
integer array one batch at a time, so a memory-mapped recording is never read whole. Batches
hold sorted indices, which reads a memory map in file order.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

__all__ = ["autocast", "evaluate_loss", "loss_sums", "shuffled_batches", "to_tensor"]


def shuffled_batches(
    n_trials: int, batch_size: int, generator: torch.Generator, min_size: int = 2
) -> list[np.ndarray]:
    """Shuffled batches of sorted indices; a last batch under ``min_size`` trials is merged
    into the one before (MMD needs 2 trials per process).

    Parameters
    ----------
    n_trials : int
        Number of trials to split into batches.
    batch_size : int
        Trials per batch (the merged last batch may hold more).
    generator : torch.Generator
        Draws the permutation; the same generator state gives the same batches.
    min_size : int
        Smallest allowed last batch.

    Returns
    -------
    list of numpy.ndarray
        Index arrays, each sorted, that together hold ``range(n_trials)`` once.

    Examples
    --------
    >>> batches = shuffled_batches(5, 2, torch.Generator().manual_seed(0))
    >>> [len(batch) for batch in batches]
    [2, 3]
    """
    order = torch.randperm(n_trials, generator=generator).numpy()
    batches = [np.sort(order[i : i + batch_size]) for i in range(0, n_trials, batch_size)]
    if len(batches) > 1 and len(batches[-1]) < min_size:
        batches[-2] = np.sort(np.concatenate(batches[-2:]))
        batches.pop()
    return batches


def autocast(device: torch.device, *, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for ``precision="bf16"``; a no-op context for fp32."""
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16"
    )


def to_tensor(data, index: np.ndarray, *, device: torch.device) -> torch.Tensor:
    """Rows ``index`` of ``data`` as a float32 tensor on ``device``.

    Parameters
    ----------
    data : array-like, shape (n_trials, n_time, n_neurons)
        Indexable by an integer array (numpy, memmap or torch).
    index : numpy.ndarray of int, shape (B,)
    device : torch.device

    Returns
    -------
    torch.Tensor, shape (B, n_time, n_neurons)
    """
    batch = data[index]
    if isinstance(batch, torch.Tensor):
        return batch.to(device=device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(batch), dtype=torch.float32, device=device)


@torch.no_grad()
def loss_sums(
    model: nn.Module,
    data,
    *,
    batch_size: int,
    seed: int,
    device: torch.device,
    precision: str = "fp32",
    shard: tuple[int, int] = (0, 1),
) -> tuple[dict, int]:
    """Trial-weighted sums of the loss parts over the batches ``shard = (rank, n_shards)``
    owns (every n_shards-th batch), and the number of trials they hold.

    The batches are consecutive (not shuffled) and the noise comes from a generator seeded
    with ``seed``, so two calls on the same weights give the same numbers. The model is put in
    eval mode.
    """
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    totals: dict[str, float] = {}
    n_used = 0
    starts = list(range(0, len(data), batch_size))
    for start in starts[shard[0] :: shard[1]]:
        index = np.arange(start, min(start + batch_size, len(data)))
        if len(index) < 2:  # a lone trailing trial cannot form an MMD estimate
            continue
        with autocast(device, precision=precision):
            batch = to_tensor(data, index, device=device)  # (B, T, N)
            parts = model.loss(batch, generator=generator, step=0)
        for key, value in parts.items():
            totals[key] = totals.get(key, 0.0) + float(value) * len(index)
        n_used += len(index)
    return totals, n_used


def evaluate_loss(
    model: nn.Module, data, *, batch_size: int, seed: int, device, precision: str = "fp32"
) -> dict:
    """Mean loss parts over ``data`` with a fixed generator, so epochs are comparable.

    Parameters
    ----------
    model : nn.Module
        Exposes ``loss(batch, *, generator, step) -> dict``; it is left in eval mode.
    data : array-like, shape (n_trials, n_time, n_neurons)
    batch_size : int
    seed : int
        Seeds the generator of the model's noise.
    device : torch.device
    precision : {"fp32", "bf16"}

    Returns
    -------
    dict
        Each loss part's mean over the trials scored (a lone trailing trial is skipped).
    """
    totals, n_used = loss_sums(
        model, data, batch_size=batch_size, seed=seed, device=device, precision=precision
    )
    return {key: value / n_used for key, value in totals.items()}
