"""A run killed with SIGKILL mid-training resumes and finishes with a clean history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from neurognocchi.cli import main
from neurognocchi.runs import load_model
from neurognocchi.training.checkpoint import load_checkpoint

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

TINY = ["--set", "channels=8", "--set", "encoder_dim=8", "--set", "channel_mults=[1]"]


def _wait_for(predicate, timeout_s: float, process) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if process.poll() is not None:
            pytest.fail(f"the run ended (status {process.returncode}) before it could be killed")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("no checkpoint appeared in time")
        time.sleep(0.05)


def test_sigkill_mid_training_then_resume_finishes_cleanly(tmp_path):
    data, run = tmp_path / "toy.npz", tmp_path / "run"
    small = ["--n-trials", "40", "--n-neurons", "5", "--n-time", "10"]
    assert main(["synth", "toy", "--out", str(data), *small]) == 0
    command = [sys.executable, "-m", "neurognocchi", "fit", str(data), "--out", str(run)]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    # A budget far beyond what runs before the kill; checkpoints come every 10 epochs.
    process = subprocess.Popen(
        [*command, *TINY, "--set", "max_epochs=5000", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = run / "checkpoints" / "last.pt"
    _wait_for(checkpoint.exists, 120, process)
    time.sleep(0.3)  # somewhere inside a later epoch
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    saved = json.loads((run / "history.json").read_text())
    assert saved and saved[-1]["epoch"] % 10 == 0  # history is written with each checkpoint
    # The kill may land inside an atomic write: its temporary file stays, the target is intact.
    # (history.json follows the checkpoint, so it may lag it by one checkpoint.)
    assert load_checkpoint(checkpoint)["epoch"] >= saved[-1]["epoch"]

    # Resume with a shorter total budget so the test ends soon; the schedule follows it.
    total = saved[-1]["epoch"] + 12
    resumed = subprocess.run(
        [*command, "--resume", "--set", f"max_epochs={total}", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    epochs = [row["epoch"] for row in json.loads((run / "history.json").read_text())]
    assert epochs == list(range(1, total + 1)), "history has gaps or duplicates"
    assert not list(run.rglob("*.tmp")), "resume left the killed run's temporary files"
    model = load_model(run)
    assert model.history_[-1]["epoch"] == total
    codes = model.encode(np.load(data)["activity"][:3])
    assert codes.shape == (3, model.code_dim) and np.isfinite(codes).all()
