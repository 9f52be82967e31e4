"""The files of a run directory: the resumable checkpoint and the per-epoch history.

A run directory holds ``checkpoints/last.pt`` (the training state: tensors, plain numbers,
lists and dicts only, stamped with :data:`CHECKPOINT_VERSION`) and ``history.json`` /
``history.csv`` (one row of metrics per epoch). The three are written together and atomically
(temporary files, renamed once all are written), so a run killed at any moment, or a write that
fails (no space left, an I/O error), leaves the previous versions intact; checkpoints are read
with ``weights_only=True``, so loading one never unpickles an object.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch

from neurognocchi._io import AtomicWrites, atomic_writes

__all__ = [
    "CHECKPOINT_VERSION",
    "checkpoint_path",
    "load_checkpoint",
    "save_checkpoint",
    "save_history",
    "write_history",
]

CHECKPOINT_VERSION = 1


def checkpoint_path(run_dir: str | Path) -> Path:
    """Where the checkpoint of ``run_dir`` lives: ``run_dir/checkpoints/last.pt``.

    Examples
    --------
    >>> checkpoint_path("run").as_posix()
    'run/checkpoints/last.pt'
    """
    return Path(run_dir) / "checkpoints" / "last.pt"


def save_checkpoint(run_dir: str | Path, state: dict) -> None:
    """Write ``state`` (stamped with the version) as the checkpoint of ``run_dir``, and the
    history it holds (``state["history"]``), all or nothing.

    Parameters
    ----------
    run_dir : path
        The run directory (created when missing).
    state : dict
        The training state: tensors, numbers, lists and dicts only, with a ``"history"`` list.

    Raises
    ------
    neurognocchi._io.WriteFailedError
        When a file cannot be written (no space, I/O error, permission); none was changed.
    """
    with atomic_writes() as writes:
        with writes.open(checkpoint_path(run_dir)) as handle:
            torch.save({"version": CHECKPOINT_VERSION, **state}, handle)
        write_history(writes, Path(run_dir), state["history"])


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint safely (tensors and plain values only, never pickled objects).

    Parameters
    ----------
    path : path
        The checkpoint file, e.g. :func:`checkpoint_path` of a run directory.

    Returns
    -------
    dict
        The training state written by :func:`save_checkpoint`.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
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
    """Write the per-epoch metrics as ``history.json`` and ``history.csv`` (atomically).

    Parameters
    ----------
    run_dir : Path
        The directory to write into.
    history : list of dict
        One row per epoch; the CSV's columns are every key that appears, in order of appearance.
    """
    with atomic_writes() as writes:
        write_history(writes, Path(run_dir), history)


def write_history(writes: AtomicWrites, run_dir: Path, history: list[dict]) -> None:
    """Stage ``history.json`` and ``history.csv`` of ``run_dir`` in ``writes`` (see
    :func:`save_history`), to be renamed with the other files written alongside."""
    writes.write_text(run_dir / "history.json", json.dumps(history, indent=1))
    columns = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    writes.write_text(run_dir / "history.csv", buffer.getvalue())
