"""Data-parallel training under torchrun: two CPU processes (gloo) on tiny toy data.

One launch fits GNOCCHI and LFADS and trains a deterministic linear model with `train`; each
rank records its final weights' hash and every file the library wrote. A second launch resumes
the GNOCCHI run from its checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from neurognocchi.training import distributed
from neurognocchi.training.config import TrainConfig
from neurognocchi.training.loop import train

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch.distributed is not available"
)

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    import neurognocchi._io as io_module
    from neurognocchi.data import make_toy_dataset
    from neurognocchi.estimators import GNOCCHI, LFADS, LatentGNOCCHI
    from neurognocchi.training import TrainConfig, train

    out, max_epochs, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "resume"
    rank = int(os.environ["RANK"])
    written = []

    # Record every atomic write of the library, whichever module makes it: each one (single
    # files and all-or-nothing groups alike) opens its file through AtomicWrites.open.
    opening = io_module.AtomicWrites.open

    def recording(self, path, *args, **kwargs):
        written.append(str(path))
        return opening(self, path, *args, **kwargs)

    io_module.AtomicWrites.open = recording

    def digest(model):
        state = model.state_dict()
        h = hashlib.sha256()
        for key in sorted(state):
            h.update(key.encode()); h.update(state[key].cpu().numpy().tobytes())
        return h.hexdigest()

    trials = make_toy_dataset(64, n_neurons=6, n_time=12, random_state=0)
    tiny = dict(code_dim=3, max_epochs=max_epochs, batch_size=8, verbose=False,
                random_state=0, device="auto")
    gnocchi = GNOCCHI(channels=8, channel_mults=(1, 2), encoder_dim=8,
                      n_train_steps=50, learning_rate=3e-3, warmup_steps=5, **tiny)
    gnocchi.fit(trials, run_dir=os.path.join(out, "gnocchi_run"), resume=resume)
    result = {"gnocchi": digest(gnocchi.model_), "gnocchi_history": gnocchi.history_}
    if not resume:
        gnocchi.save(os.path.join(out, "gnocchi_saved"))
        lfads = LFADS(encoder_dim=8, generator_dim=8, factor_dim=3, warmup_steps=2, **tiny)
        lfads.fit(trials)
        result |= {"lfads": digest(lfads.model_), "lfads_history": lfads.history_}
        latent = LatentGNOCCHI(latent_dim=3, ae_epochs=3, ae_channels=8, channels=8,
                               channel_mults=(1, 2), encoder_dim=8, n_train_steps=50,
                               warmup_steps=5, **tiny)
        latent.fit(trials, run_dir=os.path.join(out, "latent_run"))
        result |= {"latent": digest(latent.model_),
                   "latent_codes": latent.encode(trials[:4]).tolist()}
        linear = torch.nn.Linear(6, 1)
        torch.nn.init.zeros_(linear.weight); torch.nn.init.zeros_(linear.bias)
        linear.loss = lambda batch, generator=None, step=0: {
            "loss": (linear(batch[:, 0]).squeeze(-1) - batch[:, 1, 0]).pow(2).mean()}
        data = np.load(os.path.join(out, "linear.npy"))
        config = TrainConfig(max_epochs=3, batch_size=8, ema_decay=None,
                             warmup_steps=0, learning_rate=0.05)
        train(linear, data, config=config, verbose=False)
        result["linear"] = [p.detach().numpy().tolist() for p in linear.parameters()]
    result["written"] = written
    with open(os.path.join(out, f"rank{rank}_{sys.argv[3]}.json"), "w") as handle:
        json.dump(result, handle)
    """
)


def linear_data() -> np.ndarray:
    """(32, 2, 6): row 0 holds inputs, row 1 column 0 the target of a linear map."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    y = x @ np.arange(1, 7, dtype=np.float32) / 6
    data = np.zeros((32, 2, 6), dtype=np.float32)
    data[:, 0], data[:, 1, 0] = x, y
    return data


def launch(tmp_path, max_epochs: int, mode: str) -> list[dict]:
    script = tmp_path / "fit_script.py"
    script.write_text(SCRIPT)
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--standalone", str(script), str(tmp_path), str(max_epochs), mode]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads((tmp_path / f"rank{r}_{mode}.json").read_text()) for r in (0, 1)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("ddp")
    np.save(tmp_path / "linear.npy", linear_data())
    first = launch(tmp_path, 4, "first")
    resumed = launch(tmp_path, 6, "resume")
    return tmp_path, first, resumed


def test_ranks_end_with_identical_weights(runs):
    _, first, resumed = runs
    for key in ("gnocchi", "lfads", "linear", "latent", "latent_codes"):
        assert first[0][key] == first[1][key], key
    assert resumed[0]["gnocchi"] == resumed[1]["gnocchi"]


@pytest.mark.parametrize(
    "key, loss",
    # LFADS's training loss carries its KL warm-up, so its validation loss shows progress
    [("gnocchi_history", "train_loss"), ("lfads_history", "valid_loss")],
)
def test_loss_falls_and_histories_agree_across_ranks(runs, key, loss):
    _, first, _ = runs
    history = first[0][key]
    assert len(history) == 4
    assert history[-1][loss] < history[0][loss]
    assert first[0][key] == first[1][key]  # logged losses are summed over ranks


def test_only_rank_zero_writes_files(runs):
    tmp_path, first, resumed = runs
    assert first[1]["written"] == [] and resumed[1]["written"] == []
    written = {os.path.relpath(path, tmp_path) for path in first[0]["written"]}
    assert os.path.join("gnocchi_run", "checkpoints", "last.pt") in written
    assert os.path.join("gnocchi_saved", "weights.pt") in written
    # Latent GNOCCHI's two stages each checkpoint in their own folder, from rank 0 only.
    assert os.path.join("latent_run", "autoencoder", "checkpoints", "last.pt") in written
    assert os.path.join("latent_run", "checkpoints", "last.pt") in written
    assert (tmp_path / "gnocchi_saved" / "config.json").exists()


def test_resume_continues_from_the_checkpoint(runs):
    tmp_path, first, resumed = runs
    history = resumed[0]["gnocchi_history"]
    assert [row["epoch"] for row in history] == list(range(1, 7))
    assert history[:4] == first[0]["gnocchi_history"]  # the first epochs come from the file
    saved = json.loads((tmp_path / "gnocchi_run" / "history.json").read_text())
    assert len(saved) == 6


def test_two_processes_match_one_process_on_a_deterministic_model(runs):
    """With equal shards the mean of per-rank gradients is the full batch's gradient, so two
    processes take the same steps as one (up to float rounding)."""
    _, first, _ = runs
    linear = torch.nn.Linear(6, 1)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    linear.loss = lambda batch, generator=None, step=0: {
        "loss": (linear(batch[:, 0]).squeeze(-1) - batch[:, 1, 0]).pow(2).mean()
    }
    config = TrainConfig(
        max_epochs=3, batch_size=8, ema_decay=None, warmup_steps=0, learning_rate=0.05
    )
    train(linear, linear_data(), config=config, verbose=False)
    for mine, theirs in zip(linear.parameters(), first[0]["linear"], strict=True):
        np.testing.assert_allclose(mine.detach().numpy(), np.array(theirs), rtol=1e-5, atol=1e-6)


def test_single_process_context_outside_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    assert distributed.setup(torch.device("cpu")) == distributed.Context()
    assert distributed.is_main_process() and not distributed.launched_by_torchrun()
    assert distributed.all_reduce_sum([1.0, 2.0], torch.device("cpu")) == [1.0, 2.0]


def test_too_small_batch_for_the_world_is_refused(monkeypatch):
    monkeypatch.setattr(distributed, "setup", lambda device: distributed.Context(0, 4))
    model = torch.nn.Linear(1, 1)
    model.loss = lambda batch, generator=None, step=0: {"loss": model(batch).mean()}
    with pytest.raises(ValueError, match="batch_size must be at least 2 per process"):
        train(model, np.zeros((16, 1, 1), np.float32), config=TrainConfig(batch_size=4))


RESTART_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, signal, sys
    import torch
    torch.set_num_threads(1)
    from neurognocchi.data import make_toy_dataset
    from neurognocchi.estimators import GNOCCHI
    from neurognocchi.models.gnocchi import GnocchiModel
    from neurognocchi.training import loop

    out, mode = sys.argv[1], sys.argv[2]
    rank, attempt = int(os.environ["RANK"]), int(os.environ["TORCHELASTIC_RESTART_COUNT"])
    if mode == "kill" and rank == 1 and attempt == 0:
        # Rank 1 dies by SIGKILL in the middle of epoch 12 (the last checkpoint is epoch 10).
        train_epoch, loss, calls = loop._Trainer.train_epoch, GnocchiModel.loss, []

        def dying_epoch(self):
            if self.epoch == 11:
                calls.append("armed")
            return train_epoch(self)

        def dying_loss(self, *args, **kwargs):
            if calls and self.training:
                calls.append("step")
                if len(calls) == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
            return loss(self, *args, **kwargs)

        loop._Trainer.train_epoch, GnocchiModel.loss = dying_epoch, dying_loss

    trials = make_toy_dataset(64, n_neurons=6, n_time=12, random_state=0)
    model = GNOCCHI(3, max_epochs=14, batch_size=8, verbose=False, random_state=0,
                    channels=8, channel_mults=(1, 2), encoder_dim=8, n_train_steps=50,
                    learning_rate=3e-3, warmup_steps=5)
    model.fit(trials, run_dir=os.path.join(out, mode), resume=True)
    state = model.model_.state_dict()
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode()); digest.update(state[key].cpu().numpy().tobytes())
    result = {"digest": digest.hexdigest(), "history": model.history_, "attempt": attempt}
    with open(os.path.join(out, f"{mode}_rank{rank}.json"), "w") as handle:
        json.dump(result, handle)
    """
)


# A launch takes ~15-30 s. One that runs past this is killed, with its workers, and fails the
# test with what it printed (before the fix of attempt_prefix, a restarted group read the dead
# group's gloo addresses from torchrun's shared store and hung or failed in connectFullMesh).
LAUNCH_TIMEOUT_S = 120


def _kill_processes_mentioning(marker: str) -> None:
    """SIGKILL every process whose command line contains ``marker`` (a launch's own folder):
    torchrun's workers run in sessions of their own, out of reach of its process group."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass  # gone meanwhile, or not ours to read


def _run_launch(command, env, marker: str) -> tuple[int | None, str]:
    """(return code, or None when it hung and was killed; stdout + stderr)."""
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=LAUNCH_TIMEOUT_S)
        return process.returncode, out + err
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # torchrun
        _kill_processes_mentioning(marker)  # and its workers, which hold the pipes open
        out, err = process.communicate()
        return None, out + err


def launch_elastic(tmp_path, mode: str) -> list[dict]:
    script = tmp_path / "restart_script.py"
    script.write_text(RESTART_SCRIPT)
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    out = tmp_path / mode
    out.mkdir()
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--max-restarts",
        "2",
        "--standalone",
        str(script),
        str(out),
        mode,
    ]
    code, log = _run_launch(command, env, marker=str(out))
    assert code == 0, f"exit {code} (None: hung, killed)\n" + log[-6000:]
    return [
        json.loads((out / f"{mode}_rank{r}.json").read_text()) | {"dir": str(out / mode)}
        for r in (0, 1)
    ]


@pytest.mark.slow
def test_a_killed_rank_restarts_the_group_which_resumes_gap_free(tmp_path):
    """torchrun --max-restarts: rank 1 is SIGKILLed mid-epoch; the restarted group resumes
    from the last checkpoint and ends exactly where an uninterrupted run ends."""
    killed = launch_elastic(tmp_path, "kill")
    plain = launch_elastic(tmp_path, "plain")
    assert [r["attempt"] for r in killed] == [1, 1]  # the group was restarted once
    assert [r["attempt"] for r in plain] == [0, 0]
    history = killed[0]["history"]
    assert [row["epoch"] for row in history] == list(range(1, 15))  # gap-free, 14 epochs
    saved = json.loads((Path(killed[0]["dir"]) / "history.json").read_text())
    assert [row["epoch"] for row in saved] == list(range(1, 15))
    assert killed[0]["digest"] == killed[1]["digest"]
    assert history == plain[0]["history"]  # epochs 11-14 retrained from the epoch-10 checkpoint
    assert killed[0]["digest"] == plain[0]["digest"]


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, None),  # not under torchrun, or a store of its own per attempt
        ({"TORCHELASTIC_USE_AGENT_STORE": "False", "TORCHELASTIC_RESTART_COUNT": "1"}, None),
        ({"TORCHELASTIC_USE_AGENT_STORE": "True"}, "neurognocchi/attempt_0/"),
        (
            {
                "TORCHELASTIC_USE_AGENT_STORE": "True",
                "GROUP_WORLD_SIZE": "1",
                "TORCHELASTIC_RESTART_COUNT": "2",
            },
            "neurognocchi/attempt_2/",
        ),
        # across nodes the restart counts can differ, so they cannot name the attempt
        ({"TORCHELASTIC_USE_AGENT_STORE": "True", "GROUP_WORLD_SIZE": "2"}, None),
    ],
)
def test_each_attempt_on_a_shared_store_gets_keys_of_its_own(monkeypatch, env, expected):
    for name in ("TORCHELASTIC_USE_AGENT_STORE", "GROUP_WORLD_SIZE", "TORCHELASTIC_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert distributed.attempt_prefix() == expected


STALE_STORE_SCRIPT = textwrap.dedent(
    """
    import os
    import torch
    from neurognocchi.training import distributed
    distributed.setup(torch.device("cpu"))
    attempt, rank = distributed.restart_count(), distributed.rank()
    total = torch.ones(1)
    torch.distributed.all_reduce(total)
    if attempt == 0 and rank == 1:
        os._exit(3)  # the group fails once its process group is up: torchrun restarts it
    torch.distributed.barrier()
    print(f"attempt {attempt} rank {rank} sum {total.item():.0f}", flush=True)
    """
)


@pytest.mark.slow
def test_a_restarted_group_does_not_read_the_dead_groups_addresses(tmp_path):
    """torchrun keeps one store across restarts; without keys of its own per attempt the
    restarted ranks read the dead ranks' gloo addresses (connectFullMesh: Connection refused,
    or a hang). Without attempt_prefix it failed 6 of 7 runs on the 2-core machine."""
    script = tmp_path / "stale_store.py"
    script.write_text(STALE_STORE_SCRIPT)
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--max-restarts",
        "1",
        "--standalone",
        str(script),
    ]
    code, log = _run_launch(command, env, marker=str(script))
    assert code == 0, f"exit {code} (None: hung, killed)\n" + log[-6000:]
    assert "attempt 1 rank 0 sum 2" in log and "attempt 1 rank 1 sum 2" in log
