"""One writer per run directory (`neurognocchi._lock`): a second writer fails at once naming
the holder, a killed holder's lock is taken over, the same process may nest, readers never
lock, and a refused command still touches nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from neurognocchi import GNOCCHI
from neurognocchi._lock import LOCK_FILE, RunDirectoryLockedError, run_dir_lock
from neurognocchi.cli import main
from neurognocchi.data import make_toy_dataset
from neurognocchi.runs.directory import fit_run

pytest.importorskip("fcntl")

HOLD = """
import sys, time
from neurognocchi._lock import run_dir_lock
with run_dir_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(run_dir) -> subprocess.Popen:
    """Another process holding ``run_dir``'s lock (until killed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_second_writer_fails_at_once_naming_the_holder(tmp_path):
    holder = _holder(tmp_path / "run")
    try:
        start = time.monotonic()
        with pytest.raises(RunDirectoryLockedError, match=f"PID {holder.pid} on "):
            with run_dir_lock(tmp_path / "run"):
                pass
        assert time.monotonic() - start < 1.0
    finally:
        holder.kill()
        holder.wait()
    # Killed (SIGKILL: no clean-up ran): the lock went with the process.
    with run_dir_lock(tmp_path / "run"):
        record = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
        assert record["pid"] == os.getpid()


def test_the_same_process_may_nest_and_releases_at_the_end(tmp_path):
    with run_dir_lock(tmp_path):
        with run_dir_lock(tmp_path):
            pass
        probe = subprocess.run(
            [sys.executable, "-c", HOLD.replace("time.sleep(60)", ""), str(tmp_path)],
            capture_output=True,
            text=True,
        )
        assert probe.returncode != 0 and "RunDirectoryLockedError" in probe.stderr
    probe = subprocess.run(
        [sys.executable, "-c", HOLD.replace("time.sleep(60)", ""), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0


def test_fit_on_a_run_another_process_writes_is_refused_and_changes_nothing(tmp_path, capsys):
    trials = make_toy_dataset(80, n_neurons=6, n_time=8, random_state=0)
    data = trials.save(tmp_path / "toy.npz")
    run = tmp_path / "run"
    fit_run(data, run, model="ppca", params={"code_dim": 2})
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    holder = _holder(run)
    try:
        for extra in (["--overwrite"], ["--resume"]):
            args = ["fit", str(data), "--out", str(run), "--model", "ppca", *extra]
            assert main(args) == 2
            error = capsys.readouterr().err
            assert f"being written by PID {holder.pid}" in error and "\n" not in error.strip()
        # Readers never take the lock.
        assert main(["encode", str(run), str(data), "--out", str(tmp_path / "c.npy")]) == 0
        locked = GNOCCHI(
            2, max_epochs=1, channels=8, channel_mults=(1,), encoder_dim=8, verbose=False
        )
        with pytest.raises(RunDirectoryLockedError):
            locked.fit(trials, run_dir=run)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    after = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert {k: v for k, v in after.items() if k != LOCK_FILE} == {
        k: v for k, v in before.items() if k != LOCK_FILE
    }


def test_a_failed_fresh_fit_leaves_no_folder(tmp_path):
    data = make_toy_dataset(40, n_neurons=4, n_time=6, random_state=0).save(tmp_path / "t.npz")
    with pytest.raises(ValueError, match="code_dim"):
        fit_run(data, tmp_path / "new", model="ppca", params={"code_dim": 99})
    assert not (tmp_path / "new").exists()
