"""Studies under faults: workers sharing one storage claim variants by their lock
(:mod:`neurognocchi.study.claims`).

The slow test is issue 33's item 3: two workers share one SQLite storage and one of them is
killed (SIGKILL) at random points, ten times, and started again each time; the study must
still end with exactly one finished fit per (variant, seed, data), no duplicate or missing
rows, and the tables of the same study run without interruption.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from neurognocchi.study import read_study_config, run_study
from neurognocchi.study import runner as study_runner
from test_study import TINY_GNOCCHI, TOY

optuna = pytest.importorskip("optuna")

GNOCCHI = TINY_GNOCCHI | {"max_epochs": 12}  # 12 epochs: a checkpoint (10) to resume from
CONFIG = {
    "name": "faults",
    "data": TOY,
    "seeds": [0, 1],
    "evaluation": {"n_samples": 3, "n_sampling_seeds": 1},
    "base": {"gnocchi": GNOCCHI, "ppca": {"code_dim": 3}},
    "variants": {
        "ppca": {"model": "ppca"},
        "ppca-2": {"model": "ppca", "params": {"code_dim": 2}},
        "g-mmd0.1": {"model": "gnocchi", "params": {"mmd_weight": 0.1}},
        "g-mmd1": {"model": "gnocchi", "params": {"mmd_weight": 1.0}},
        "g-code2": {"model": "gnocchi", "params": {"code_dim": 2}},
        "g-code4": {"model": "gnocchi", "params": {"code_dim": 4}},
    },
}
N_KILLS = 10


def _timing(key: str) -> bool:
    """Durations: the only numbers an interruption may change."""
    return key == "seconds" or key.endswith("_seconds")


class Worker:
    """``neurognocchi study`` in a subprocess (one thread, unbuffered), its output kept and
    the moment it starts working (its first line, printed once the study is open) noted."""

    def __init__(self, config: Path, out: Path, log: Path):
        env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "neurognocchi", "study", str(config), "--out", str(out)]
        self.log = log.open("w")
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        self.started = threading.Event()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            self.started.set()
        self.started.set()

    def kill(self) -> None:
        self.process.kill()
        self.wait()

    def wait(self, timeout: float | None = None) -> int:
        code = self.process.wait(timeout)
        self._reader.join()
        self.log.close()
        return code


def _run_uninterrupted(config: Path, out: Path) -> None:
    worker = Worker(config, out, out.parent / f"{out.name}.log")
    assert worker.wait(600) == 0, (out.parent / f"{out.name}.log").read_text()


def _rows(path: Path) -> list[dict]:
    rows = list(csv.DictReader(path.open()))
    return [{k: v for k, v in row.items() if not _timing(k)} for row in rows]


def _results_without_timing(path: Path) -> list[dict]:
    variants = json.loads(path.read_text())["variants"]
    return [
        {k: value for k, value in v.items() if not _timing(k)}
        | {"metrics": {k: m for k, m in v["metrics"].items() if not _timing(k)}}
        for v in variants
    ]


def _check_one_finished_fit_each(out: Path) -> None:
    """Every (variant, seed) run directory holds one finished fit, started afresh at most
    once (a resumed fit is not a second fit), with a gap-free history, scored once."""
    for variant, spec in CONFIG["variants"].items():
        for seed in CONFIG["seeds"]:
            run = out / "runs" / variant / f"seed{seed}"
            record = json.loads((run / "run.json").read_text())
            assert "finished" in record, run
            assert Path(record["data"]).name.endswith(f"-seed{seed}.npz")
            log = (run / "log.txt").read_text()
            assert log.count("] fitting ") <= 1, log
            assert (run / "protocol.json").is_file()
            if spec["model"] == "gnocchi":
                epochs = [row["epoch"] for row in json.loads((run / "history.json").read_text())]
                assert epochs == list(range(1, GNOCCHI["max_epochs"] + 1)), (run, epochs)
    assert sorted(p.name for p in (out / "data").iterdir()) == sorted(
        p.name for p in (out / "data").iterdir() if p.suffix == ".npz"
    )  # no temporary file left behind


def _check_storage(out: Path) -> None:
    """One COMPLETE trial per variant holding every seed's cached numbers; none RUNNING."""
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=CONFIG["name"], storage=f"sqlite:///{out / 'study.db'}")
    trials = study.get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.user_attrs["variant"] for t in complete) == sorted(CONFIG["variants"])
    for trial in complete:
        metrics = trial.user_attrs["metrics"]
        assert sorted(metrics) == [str(s) for s in CONFIG["seeds"]]
        for seed, numbers in metrics.items():
            run = out / "runs" / trial.user_attrs["variant"] / f"seed{seed}"
            assert numbers == json.loads((run / "protocol.json").read_text())


@pytest.mark.slow
def test_two_workers_one_killed_ten_times_finish_the_study_once(tmp_path):
    config = tmp_path / "study.json"
    config.write_text(json.dumps(CONFIG))
    _run_uninterrupted(config, tmp_path / "reference")

    out, rng = tmp_path / "faulty", np.random.default_rng(33)
    survivor = Worker(config, out, tmp_path / "survivor.log")
    for kill in range(N_KILLS):
        victim = Worker(config, out, tmp_path / f"victim{kill}.log")
        assert victim.started.wait(120), "the worker never started"
        time.sleep(rng.uniform(0.0, 6.0))  # a random point of its work
        victim.kill()
        # Killed by us, or done before; never an error of its own.
        assert victim.process.returncode in (0, -signal.SIGKILL), (
            tmp_path / f"victim{kill}.log"
        ).read_text()
    last = Worker(config, out, tmp_path / "last.log")
    assert last.wait(600) == 0, (tmp_path / "last.log").read_text()
    assert survivor.wait(600) == 0, (tmp_path / "survivor.log").read_text()
    # Each wrote the outputs when it finished; whichever finished last saw every variant.
    # Written again from the storage alone, they must not change.
    written = (out / "study.csv").read_text()
    assert Worker(config, out, tmp_path / "again.log").wait(600) == 0

    _check_one_finished_fit_each(out)
    _check_storage(out)
    assert (out / "study.csv").read_text() == written
    reference = tmp_path / "reference"
    assert _rows(out / "study.csv") == _rows(reference / "study.csv")
    assert _results_without_timing(out / "study.json") == _results_without_timing(
        reference / "study.json"
    )
    assert json.loads((out / "study.json").read_text())["failed"] == {}


# ---------------------------------------------------------------------- claims, one by one
PPCA_ONLY = {
    "name": "claims",
    "data": CONFIG["data"],
    "seeds": [0],
    "evaluation": CONFIG["evaluation"],
    "variants": {"a": {"model": "ppca"}, "b": {"model": "ppca", "params": {"code_dim": 2}}},
}
HOLD = """
import sys, time
from neurognocchi.study.claims import variant_lock
with variant_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(600)
"""


def _ppca_study(tmp_path):
    path = tmp_path / "study.json"
    path.write_text(json.dumps(PPCA_ONLY))
    (tmp_path / "out").mkdir()
    return read_study_config(path), tmp_path / "out"


def _fitted(out):
    return sorted(p.parent.parent.name for p in (out / "runs").glob("*/seed0/run.json"))


def test_a_variant_another_worker_runs_is_left_to_it_then_taken_over_when_it_dies(tmp_path):
    config, out = _ppca_study(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out), "a"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        results = run_study(config, out, progress=False)
        assert [v["name"] for v in results["variants"]] == ["b"] and _fitted(out) == ["b"]
    finally:
        holder.kill()
        holder.wait()
    results = run_study(config, out, progress=False)
    assert [v["name"] for v in results["variants"]] == ["a", "b"] and _fitted(out) == ["a", "b"]


def _running_trial(study, **attrs) -> int:
    """A RUNNING trial with ``attrs``, as a worker leaves it when killed; its number."""
    from optuna.trial import TrialState, create_trial

    study.add_trial(create_trial(state=TrialState.RUNNING, user_attrs=attrs))
    return len(study.trials) - 1


def test_a_dead_workers_trial_is_failed_though_its_pid_is_alive_again(tmp_path):
    """The trial of a killed worker whose PID now belongs to a live process (here: this
    one) is failed and its variant run: liveness is the variant's lock, not the PID."""
    config, out = _ppca_study(tmp_path)
    study = study_runner.open_study(config, out)
    dead = _running_trial(
        study,
        variant="a",
        host=socket.gethostname(),
        pid=os.getpid(),
        worker="a dead one",
        out_dir=str(out.resolve()),
    )
    results = run_study(config, out, progress=False)
    assert [v["name"] for v in results["variants"]] == ["a", "b"]
    states = {t.number: t.state.name for t in study.get_trials(deepcopy=False)}
    assert states[dead] == "FAIL" and "RUNNING" not in states.values()
    assert results["failed"] == {}


def test_a_trial_of_another_machine_is_left_to_its_heartbeat(tmp_path):
    config, out = _ppca_study(tmp_path)
    study = study_runner.open_study(config, out)
    elsewhere = _running_trial(study, variant="a", host="another-machine")
    results = run_study(config, out, progress=False)
    assert [v["name"] for v in results["variants"]] == ["b"]
    assert study.get_trials(deepcopy=False)[elsewhere].state.name == "RUNNING"


def test_two_workers_opening_a_new_storage_at_once_both_open_it(tmp_path, monkeypatch):
    """Optuna writes its schema version unchecked: the worker that loses the race gets an
    IntegrityError, and opens the storage again (then finds the row)."""
    from sqlalchemy.exc import IntegrityError

    config, out = _ppca_study(tmp_path)
    calls = []

    class Racing(optuna.storages.RDBStorage):
        def __init__(self, *args, **kwargs):
            calls.append(1)
            super().__init__(*args, **kwargs)
            if len(calls) == 1:  # the other worker wrote the row first
                raise IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", Racing)
    assert study_runner.open_study(config, out).study_name == "claims" and len(calls) == 2
