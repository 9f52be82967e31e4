"""The run directory: history and checkpoint files, refusing to overwrite, loading safely."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import torch

from neurognocchi.training.checkpoint import (
    CHECKPOINT_VERSION,
    checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from neurognocchi.training.config import TrainConfig
from neurognocchi.training.loop import train
from training_models import Quadratic, constant_data, gnocchi_model, toy_arrays

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------------- run directory
def test_training_writes_history_and_checkpoint(tmp_path):
    data = toy_arrays()
    config = TrainConfig(max_epochs=3, batch_size=8, checkpoint_every=2, warmup_steps=2)
    result = train(
        gnocchi_model(data), data[:16], data[16:], config=config, run_dir=tmp_path, verbose=False
    )
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    history = json.loads((tmp_path / "history.json").read_text())
    assert history == result.history
    for key in ("train_loss", "train_score", "train_mmd", "valid_loss", "lr", "step"):
        assert key in history[0]
    with open(tmp_path / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert float(rows[-1]["valid_loss"]) == pytest.approx(history[-1]["valid_loss"])
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state["epoch"] == 3 and state["step"] == 3 * 2
    assert state["version"] == CHECKPOINT_VERSION
    assert os.listdir(tmp_path / "checkpoints") == ["last.pt"]  # no temporary files left
    assert result.best_epoch in (1, 2, 3)


def test_training_without_run_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train(Quadratic(), constant_data(1.0), config=TrainConfig(max_epochs=2), verbose=False)
    assert os.listdir(tmp_path) == []


def test_existing_checkpoint_is_refused_without_resume(tmp_path, monkeypatch):
    data = toy_arrays()
    config = TrainConfig(max_epochs=1, batch_size=8)
    train(gnocchi_model(data), data, config=config, run_dir=tmp_path, verbose=False)
    checkpoint = tmp_path / "checkpoints" / "last.pt"
    before = checkpoint.read_bytes()
    with pytest.raises(FileExistsError, match="resume") as refused:
        train(gnocchi_model(data), data, config=config, run_dir=tmp_path, verbose=False)
    assert "restarted this group" not in str(refused.value)
    # a group restarted by torchrun --max-restarts is told how to continue
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    with pytest.raises(FileExistsError, match="torchrun restarted this group: pass resume=True"):
        train(gnocchi_model(data), data, config=config, run_dir=tmp_path, verbose=False)
    assert checkpoint.read_bytes() == before


def test_save_checkpoint_stamps_the_version_and_writes_the_history(tmp_path):
    state = {"epoch": 2, "weights": torch.ones(3), "history": [{"epoch": 1}, {"epoch": 2}]}
    save_checkpoint(tmp_path, state)
    loaded = load_checkpoint(checkpoint_path(tmp_path))
    assert loaded["version"] == CHECKPOINT_VERSION and loaded["epoch"] == 2
    torch.testing.assert_close(loaded["weights"], torch.ones(3))
    assert json.loads((tmp_path / "history.json").read_text()) == state["history"]
    assert (tmp_path / "history.csv").read_text().splitlines() == ["epoch", "1", "2"]


# ---------------------------------------------------------------------- loading safely
@pytest.fixture
def checkpoint_file(tmp_path):
    train(
        Quadratic(),
        constant_data(1.0),
        config=TrainConfig(max_epochs=1, batch_size=4),
        run_dir=tmp_path / "run",
        verbose=False,
    )
    return tmp_path / "run" / "checkpoints" / "last.pt"


def test_load_checkpoint_reads_a_written_checkpoint(checkpoint_file):
    state = load_checkpoint(checkpoint_file)
    assert state["epoch"] == 1 and state["step"] == 2
    assert set(state["model"]) == {"w"}


def test_load_checkpoint_rejects_truncated_file(checkpoint_file, tmp_path):
    truncated = tmp_path / "truncated.pt"
    data = checkpoint_file.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        load_checkpoint(truncated)


def test_load_checkpoint_rejects_random_bytes(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=r"noise\.pt"):
        load_checkpoint(path)


def test_load_checkpoint_rejects_other_version(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"version": CHECKPOINT_VERSION + 1, "model": {}}, path)
    with pytest.raises(ValueError, match="version"):
        load_checkpoint(path)
    torch.save([torch.zeros(2)], path)  # not a dict at all
    with pytest.raises(ValueError, match="version"):
        load_checkpoint(path)


def test_load_checkpoint_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt")


class _Payload:
    """Unpickling this object calls ``os.mkdir(marker)``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_load_checkpoint_never_unpickles_objects(tmp_path):
    # Sanity check: the payload does run when a file is unpickled without weights_only.
    canary = tmp_path / "canary"
    torch.save({"version": CHECKPOINT_VERSION, "x": _Payload(str(canary))}, tmp_path / "c.pt")
    torch.load(tmp_path / "c.pt", weights_only=False)
    assert canary.exists()

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"version": CHECKPOINT_VERSION, "model": _Payload(str(marker))}, path)
    with pytest.raises(ValueError, match="evil"):
        load_checkpoint(path)
    assert not marker.exists()


def test_resume_from_corrupt_checkpoint_raises_and_leaves_it(checkpoint_file):
    checkpoint_file.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError):
        train(
            Quadratic(),
            constant_data(1.0),
            config=TrainConfig(max_epochs=2, batch_size=4),
            run_dir=checkpoint_file.parent.parent,
            resume=True,
            verbose=False,
        )
    assert checkpoint_file.read_bytes() == b"not a checkpoint"
