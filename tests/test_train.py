"""The training loop: schedule, EMA, checkpoints, resume, safety of loading, early stopping."""

from __future__ import annotations

import csv
import itertools
import json
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from neurognocchi.models import GnocchiConfig, GnocchiModel
from neurognocchi.train import (
    CHECKPOINT_VERSION,
    EMA,
    NonFiniteLossError,
    TrainConfig,
    learning_rate_at,
    load_checkpoint,
    train,
)

GNOCCHI_CONFIG = GnocchiConfig(
    n_neurons=6,
    n_time=12,
    code_dim=3,
    channels=8,
    channel_mults=(1, 2),
    encoder_channels=8,
    n_train_steps=50,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def toy_arrays(n: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (2.0 + rng.normal(size=(n, 12, 6))).astype(np.float32)  # (n_trials, T, N)


def gnocchi_model(data: np.ndarray) -> GnocchiModel:
    torch.manual_seed(0)
    model = GnocchiModel(GNOCCHI_CONFIG)
    model.set_normalization(torch.as_tensor(data))
    return model


class Quadratic(nn.Module):
    """loss = sum((w - mean(batch))^2): training pulls w towards the mean of the data.

    In eval mode (validation), it records a copy of w, so tests can see each epoch's weights.
    """

    def __init__(self, nan_from_step: int | None = None):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))
        self.nan_from_step = nan_from_step
        self.seen_in_eval: list[torch.Tensor] = []

    def loss(self, batch, *, generator=None, step=0):
        if not self.training:
            self.seen_in_eval.append(self.w.detach().clone())
        loss = (self.w - batch.mean()).pow(2).sum()
        if self.nan_from_step is not None and step >= self.nan_from_step:
            loss = loss * float("nan")
        return {"loss": loss, "w0": self.w[0].detach()}


def constant_data(value: float, n: int = 8) -> np.ndarray:
    return np.full((n, 1, 1), value, dtype=np.float32)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------- learning rate
def test_learning_rate_warms_up_linearly_then_decays_by_cosine_to_ten_percent():
    config = TrainConfig(learning_rate=2.0, warmup_steps=4)
    lr = [learning_rate_at(s, total_steps=14, config=config) for s in range(16)]
    assert lr[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])  # peak reached at warmup_steps
    assert lr[4] == pytest.approx(2.0)  # cosine starts at the peak
    assert lr[9] == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))  # half way: cos(pi/2) = 0
    assert lr[6] == pytest.approx(2.0 * (0.1 + 0.45 * (1 + math.cos(math.pi * 0.2))))
    assert lr[14] == pytest.approx(0.2)  # 10 % of the peak at the end
    assert lr[15] == pytest.approx(0.2)  # and it stays there
    assert all(a >= b for a, b in itertools.pairwise(lr[4:]))


def test_learning_rate_without_warmup_starts_at_peak():
    config = TrainConfig(learning_rate=1e-3, warmup_steps=0)
    assert learning_rate_at(0, total_steps=10, config=config) == pytest.approx(1e-3)
    assert learning_rate_at(10, total_steps=10, config=config) == pytest.approx(1e-4)


# ---------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "field, value",
    [
        ("max_epochs", 0),
        ("max_epochs", 2.0),
        ("batch_size", 0),
        ("batch_size", True),
        ("checkpoint_every", -1),
        ("learning_rate", 0.0),
        ("learning_rate", float("nan")),
        ("ema_decay", 1.0),
        ("ema_decay", -0.1),
        ("patience", 0),
    ],
)
def test_train_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


@pytest.mark.parametrize(
    "field, value", [("warmup_steps", -1), ("grad_clip", 0.0), ("grad_clip", -1.0),
                     ("weight_decay", -0.1)]
)  # fmt: skip
def test_train_config_rejects_bad_schedule_and_regularisation_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_train_needs_two_trials():
    with pytest.raises(ValueError, match="train_data"):
        train(Quadratic(), constant_data(1.0, n=1), config=TrainConfig(), verbose=False)


# ---------------------------------------------------------------------- EMA
def test_ema_update_follows_hand_computed_values_with_decay_ramp():
    model = Quadratic()
    model.register_buffer("count", torch.tensor(0))
    ema = EMA(model, decay=0.2)
    assert not ema.model.training
    assert not any(p.requires_grad for p in ema.model.parameters())
    expected = []
    for live, value in [(1.0, 0.9), (2.0, 1.8), (2.0, 1.96)]:
        # decays: min(0.2, 1/10) = 0.1, min(0.2, 2/11) = 2/11, min(0.2, 3/12) = 0.2
        with torch.no_grad():
            model.w.fill_(live)
        model.count += 1
        ema.update(model)
        expected.append(value)
        torch.testing.assert_close(ema.model.w, torch.full((3,), value))
        assert int(ema.model.count) == int(model.count)  # integer buffers are copied
    assert ema.n_updates == 3
    assert model.w[0] == 2.0  # the live model is untouched


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


def test_existing_checkpoint_is_refused_without_resume(tmp_path):
    data = toy_arrays()
    config = TrainConfig(max_epochs=1, batch_size=8)
    train(gnocchi_model(data), data, config=config, run_dir=tmp_path, verbose=False)
    checkpoint = tmp_path / "checkpoints" / "last.pt"
    before = checkpoint.read_bytes()
    with pytest.raises(FileExistsError, match="resume"):
        train(gnocchi_model(data), data, config=config, run_dir=tmp_path, verbose=False)
    assert checkpoint.read_bytes() == before


def _run(run_dir, data, *, max_epochs, warmup_steps, resume=False, model=None):
    config = TrainConfig(
        max_epochs=max_epochs,
        batch_size=8,
        warmup_steps=warmup_steps,
        checkpoint_every=1,
        seed=3,
    )
    model = gnocchi_model(data) if model is None else model
    result = train(model, data, config=config, run_dir=run_dir, resume=resume, verbose=False)
    return model, result


class _Crash(Exception):
    pass


class SpyGnocchi(GnocchiModel):
    """GnocchiModel that records the training steps it runs and can raise at one of them
    (a stand-in for a killed process)."""

    def __init__(self, config, *, crash_at_step: int = -1):
        super().__init__(config)
        self.crash_at_step = crash_at_step
        self.train_steps: list[int] = []

    def loss(self, x, *, generator=None, step=0):
        if self.training:
            self.train_steps.append(step)
        if step == self.crash_at_step:
            raise _Crash(f"simulated crash at step {step}")
        return super().loss(x, generator=generator, step=step)


def spy_model(data: np.ndarray, **kwargs) -> SpyGnocchi:
    torch.manual_seed(0)
    model = SpyGnocchi(GNOCCHI_CONFIG, **kwargs)
    model.set_normalization(torch.as_tensor(data))
    return model


def test_resume_extending_max_epochs_matches_uninterrupted_run(tmp_path):
    # warmup_steps longer than both runs: the learning rate does not depend on max_epochs.
    data = toy_arrays()  # 20 trials, batch 8: 3 steps per epoch
    full, full_result = _run(tmp_path / "full", data, max_epochs=4, warmup_steps=100)
    _run(tmp_path / "split", data, max_epochs=2, warmup_steps=100)
    resumed, resumed_result = _run(
        tmp_path / "split", data, max_epochs=4, warmup_steps=100, resume=True,
        model=spy_model(data),
    )  # fmt: skip
    assert resumed.train_steps == [6, 7, 8, 9, 10, 11]  # only epochs 3 and 4 were run
    assert states_equal(full.state_dict(), resumed.state_dict())
    assert [r["train_loss"] for r in resumed_result.history] == [
        r["train_loss"] for r in full_result.history
    ]
    assert resumed_result.history == full_result.history
    assert len(resumed_result.history) == 4


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path):
    # warmup_steps=2: most steps are in the cosine phase, which depends on total_steps.
    data = toy_arrays()  # 3 steps per epoch
    full, full_result = _run(tmp_path / "full", data, max_epochs=4, warmup_steps=2)

    crashing = spy_model(data, crash_at_step=7)  # during epoch 3
    with pytest.raises(_Crash):
        _run(tmp_path / "split", data, max_epochs=4, warmup_steps=2, model=crashing)
    assert load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["epoch"] == 2

    resumed, resumed_result = _run(
        tmp_path / "split", data, max_epochs=4, warmup_steps=2, resume=True,
        model=spy_model(data),
    )  # fmt: skip
    assert resumed.train_steps[0] == 6
    assert states_equal(full.state_dict(), resumed.state_dict())
    assert resumed_result.history == full_result.history


def test_resume_with_larger_max_epochs_follows_the_new_schedule(tmp_path):
    # Documented behaviour: extending a run re-plans the cosine decay over the new total.
    data = toy_arrays()  # 3 steps per epoch
    _, short_result = _run(tmp_path, data, max_epochs=2, warmup_steps=2)
    resumed, resumed_result = _run(
        tmp_path, data, max_epochs=4, warmup_steps=2, resume=True, model=spy_model(data)
    )
    assert resumed.train_steps == [6, 7, 8, 9, 10, 11]
    assert [row["epoch"] for row in resumed_result.history] == [1, 2, 3, 4]
    assert resumed_result.history[:2] == short_result.history
    config = TrainConfig(max_epochs=4, batch_size=8, warmup_steps=2)
    for row in resumed_result.history[2:]:
        expected = learning_rate_at(row["step"] - 1, total_steps=12, config=config)
        assert row["lr"] == pytest.approx(expected)


def test_resume_of_a_finished_run_trains_no_further(tmp_path):
    data = toy_arrays()
    first, first_result = _run(tmp_path, data, max_epochs=2, warmup_steps=2)
    again, again_result = _run(
        tmp_path, data, max_epochs=2, warmup_steps=2, resume=True, model=spy_model(data)
    )
    assert again.train_steps == []
    assert again_result.history == first_result.history
    assert states_equal(first.state_dict(), again.state_dict())


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


# ---------------------------------------------------------------------- divergence
def test_nan_loss_raises_naming_step_and_keeps_last_checkpoint(tmp_path):
    config = TrainConfig(max_epochs=5, batch_size=4, checkpoint_every=1)
    checkpoint = tmp_path / "checkpoints" / "last.pt"
    # 8 trials, batch 4: steps 0-1 in epoch 1 (checkpointed), step 3 is NaN in epoch 2
    model = Quadratic(nan_from_step=3)
    with pytest.raises(NonFiniteLossError) as info:
        train(model, constant_data(1.0), config=config, run_dir=tmp_path, verbose=False)
    message = str(info.value)
    assert "step 3" in message
    assert "learning_rate" in message
    state = load_checkpoint(checkpoint)
    assert state["epoch"] == 1
    assert len(json.loads((tmp_path / "history.json").read_text())) == 1


def test_nan_loss_leaves_checkpoint_bytes_unchanged(tmp_path):
    config = TrainConfig(max_epochs=1, batch_size=4)
    train(Quadratic(), constant_data(1.0), config=config, run_dir=tmp_path, verbose=False)
    checkpoint = tmp_path / "checkpoints" / "last.pt"
    before = checkpoint.read_bytes()
    diverging = TrainConfig(max_epochs=3, batch_size=4)
    with pytest.raises(NonFiniteLossError, match="step 2"):
        train(
            Quadratic(nan_from_step=2),
            constant_data(1.0),
            config=diverging,
            run_dir=tmp_path,
            resume=True,
            verbose=False,
        )
    assert checkpoint.read_bytes() == before


def test_non_finite_loss_error_is_a_floating_point_error():
    assert issubclass(NonFiniteLossError, FloatingPointError)


# ---------------------------------------------------------------------- kept weights
def test_early_stopping_keeps_the_best_epoch_weights():
    # Training pulls w towards 5; the validation loss w^2 rises every epoch.
    model = Quadratic()
    config = TrainConfig(
        max_epochs=20, batch_size=4, learning_rate=0.1, warmup_steps=1, ema_decay=None, patience=2
    )
    result = train(model, constant_data(5.0), constant_data(0.0), config=config, verbose=False)
    assert result.stopped_early
    assert result.best_epoch == 1
    assert len(result.history) == 3  # best at 1, no improvement at 2 and 3
    valid = [row["valid_loss"] for row in result.history]
    assert valid[0] < valid[1] < valid[2]
    first_epoch_w = model.seen_in_eval[0]
    assert first_epoch_w[0] > 0  # it did move
    torch.testing.assert_close(model.w.detach(), first_epoch_w, rtol=0, atol=0)


def test_stopped_run_is_not_continued_on_resume(tmp_path):
    config = TrainConfig(
        max_epochs=20, batch_size=4, learning_rate=0.1, warmup_steps=1, ema_decay=None, patience=2
    )
    first_model = Quadratic()
    first = train(
        first_model, constant_data(5.0), constant_data(0.0), config=config, run_dir=tmp_path,
        verbose=False,
    )  # fmt: skip
    model = Quadratic()
    again = train(
        model, constant_data(5.0), constant_data(0.0), config=config, run_dir=tmp_path,
        resume=True, verbose=False,
    )  # fmt: skip
    assert first.stopped_early and again.stopped_early
    assert again.history == first.history
    assert model.seen_in_eval == []  # no epoch was run
    torch.testing.assert_close(model.w.detach(), first_model.w.detach(), rtol=0, atol=0)


def test_single_validation_trial_is_refused_up_front(tmp_path):
    model = Quadratic()
    with pytest.raises(ValueError, match="valid_data"):
        train(
            model, constant_data(5.0), constant_data(0.0, n=1), config=TrainConfig(max_epochs=2),
            run_dir=tmp_path, verbose=False,
        )  # fmt: skip
    assert not (tmp_path / "checkpoints").exists()


def test_kept_weights_are_ema_weights_without_validation(tmp_path):
    model = Quadratic()
    config = TrainConfig(
        max_epochs=3, batch_size=4, learning_rate=0.1, warmup_steps=1, ema_decay=0.9
    )
    result = train(model, constant_data(5.0), config=config, run_dir=tmp_path, verbose=False)
    assert result.best_epoch is None and not result.stopped_early
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    torch.testing.assert_close(model.w.detach(), state["ema"]["w"], rtol=0, atol=0)
    assert not torch.equal(state["ema"]["w"], state["model"]["w"])
    assert not model.training


def test_kept_weights_are_raw_weights_without_ema_or_validation(tmp_path):
    model = Quadratic()
    config = TrainConfig(max_epochs=2, batch_size=4, learning_rate=0.1, ema_decay=None)
    train(model, constant_data(5.0), config=config, run_dir=tmp_path, verbose=False)
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state["ema"] is None
    torch.testing.assert_close(model.w.detach(), state["model"]["w"], rtol=0, atol=0)


# ---------------------------------------------------------------- precision and compilation
@pytest.mark.parametrize(
    "field, value, error",
    [
        ("precision", "fp16", ValueError),
        ("precision", "BF16", ValueError),
        ("compile", 1, TypeError),
    ],
)
def test_train_config_rejects_bad_precision_and_compile(field, value, error):
    with pytest.raises(error, match=field):
        TrainConfig(**{field: value})


def test_bf16_on_cpu_is_refused_before_anything_is_written(tmp_path):
    data = toy_arrays()
    with pytest.raises(ValueError, match="precision='bf16' needs a CUDA device"):
        train(
            gnocchi_model(data),
            data,
            config=TrainConfig(max_epochs=1, batch_size=8, precision="bf16"),
            run_dir=tmp_path / "run",
            verbose=False,
        )
    assert not (tmp_path / "run").exists()


def test_bf16_autocast_path_trains_and_keeps_float32_weights(monkeypatch):
    """The autocast code path, exercised on CPU (refused there in normal use)."""
    monkeypatch.setattr("neurognocchi.train._check_precision", lambda precision, device: None)
    data = toy_arrays(32)
    model = gnocchi_model(data)
    config = TrainConfig(max_epochs=3, batch_size=8, warmup_steps=2, precision="bf16")
    result = train(model, data, data[:8], config=config, verbose=False)
    assert all(math.isfinite(row["train_loss"]) for row in result.history)
    assert all(value.dtype == torch.float32 for value in model.state_dict().values()
               if value.dtype.is_floating_point)  # fmt: skip


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bf16_on_cuda_trains_close_to_fp32():
    data = toy_arrays(32)
    losses = {}
    for precision in ("fp32", "bf16"):
        config = TrainConfig(max_epochs=2, batch_size=8, precision=precision)
        result = train(gnocchi_model(data), data, config=config, device="cuda", verbose=False)
        losses[precision] = result.history[-1]["train_loss"]
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.1)


def test_compiled_training_matches_eager_training():
    data = np.random.default_rng(0).normal(size=(16, 2, 3)).astype(np.float32)
    weights = []
    for compile_ in (False, True):
        linear = nn.Linear(3, 1)
        nn.init.zeros_(linear.weight)
        nn.init.zeros_(linear.bias)
        linear.loss = lambda batch, generator=None, step=0, linear=linear: {
            "loss": (linear(batch[:, 0]).squeeze(-1) - batch[:, 1, 0]).pow(2).mean()
        }
        config = TrainConfig(max_epochs=2, batch_size=8, ema_decay=None, compile=compile_)
        train(linear, data, config=config, verbose=False)
        assert set(linear.state_dict()) == {"weight", "bias"}  # no "_orig_mod." prefixes
        weights.append(linear.weight.detach().clone())
    torch.testing.assert_close(weights[1], weights[0])
