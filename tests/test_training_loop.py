"""The training loop: resume, divergence, early stopping, kept weights, precision, compilation."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from neurognocchi.data.stats import neuron_statistics
from neurognocchi.models import GnocchiModel
from neurognocchi.training.checkpoint import load_checkpoint, save_checkpoint
from neurognocchi.training.config import TrainConfig, learning_rate_at
from neurognocchi.training.loop import NonFiniteLossError, TrainResult, train
from training_models import (
    GNOCCHI_CONFIG,
    Quadratic,
    constant_data,
    gnocchi_model,
    states_equal,
    toy_arrays,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_train_needs_two_trials():
    with pytest.raises(ValueError, match="train_data"):
        train(Quadratic(), constant_data(1.0, n=1), config=TrainConfig(), verbose=False)


def test_train_returns_a_train_result():
    result = train(Quadratic(), constant_data(1.0), config=TrainConfig(max_epochs=1), verbose=False)
    assert isinstance(result, TrainResult) and len(result.history) == 1


# ---------------------------------------------------------------------- resume
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
    model.set_statistics(neuron_statistics(data))
    return model


def test_resume_extending_max_epochs_matches_uninterrupted_run(tmp_path):
    # warmup_steps longer than both runs: the learning rate does not depend on max_epochs.
    data = toy_arrays()  # 20 trials, batch 8: 3 steps per epoch
    full, full_result = _run(tmp_path / "full", data, max_epochs=4, warmup_steps=100)
    _run(tmp_path / "split", data, max_epochs=2, warmup_steps=100)
    resumed, resumed_result = _run(
        tmp_path / "split",
        data,
        max_epochs=4,
        warmup_steps=100,
        resume=True,
        model=spy_model(data),
    )
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
        tmp_path / "split",
        data,
        max_epochs=4,
        warmup_steps=2,
        resume=True,
        model=spy_model(data),
    )
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


@pytest.mark.parametrize(("select_on", "best_epoch"), [("loss", 6), ("w0", 1)])
def test_select_on_keeps_the_epoch_where_that_part_is_lowest(select_on, best_epoch):
    # Training pulls w from 0 towards 5 and the validation data sit at 5: the validation loss
    # falls every epoch while the part w0 rises, so each choice keeps a different epoch.
    model = Quadratic()
    config = TrainConfig(
        max_epochs=6,
        batch_size=4,
        learning_rate=0.1,
        warmup_steps=1,
        ema_decay=None,
        select_on=select_on,
    )
    valid = constant_data(5.0, n=4)  # one validation batch: one entry of seen_in_eval an epoch
    result = train(model, constant_data(5.0), valid, config=config, verbose=False)
    values = [row[f"valid_{select_on}"] for row in result.history]
    assert int(np.argmin(values)) + 1 == result.best_epoch == best_epoch
    loss, w0 = ([row[f"valid_{key}"] for row in result.history] for key in ("loss", "w0"))
    assert all(np.diff(loss) < 0) and all(np.diff(w0) > 0)
    kept = model.seen_in_eval[best_epoch - 1]
    torch.testing.assert_close(model.w.detach(), kept, rtol=0, atol=0)


def test_patience_counts_epochs_without_a_better_select_on():
    config = TrainConfig(
        max_epochs=20,
        batch_size=4,
        learning_rate=0.1,
        warmup_steps=1,
        ema_decay=None,
        patience=2,
        select_on="w0",
    )
    result = train(
        Quadratic(), constant_data(5.0), constant_data(5.0), config=config, verbose=False
    )
    assert result.stopped_early and result.best_epoch == 1 and len(result.history) == 3


def test_select_on_a_part_the_model_lacks_names_the_parts(tmp_path):
    config = TrainConfig(max_epochs=3, batch_size=4, select_on="mmd")
    with pytest.raises(ValueError, match=r"select_on='mmd'.*'loss', 'w0'"):
        train(
            Quadratic(),
            constant_data(5.0),
            constant_data(5.0),
            config=config,
            run_dir=tmp_path,
            verbose=False,
        )
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize("bad", ["", 3, None])
def test_select_on_must_be_a_name(bad):
    with pytest.raises(ValueError, match="select_on"):
        TrainConfig(select_on=bad)


def test_stopped_run_is_not_continued_on_resume(tmp_path):
    config = TrainConfig(
        max_epochs=20, batch_size=4, learning_rate=0.1, warmup_steps=1, ema_decay=None, patience=2
    )
    first_model = Quadratic()
    first = train(
        first_model,
        constant_data(5.0),
        constant_data(0.0),
        config=config,
        run_dir=tmp_path,
        verbose=False,
    )
    model = Quadratic()
    again = train(
        model,
        constant_data(5.0),
        constant_data(0.0),
        config=config,
        run_dir=tmp_path,
        resume=True,
        verbose=False,
    )
    assert first.stopped_early and again.stopped_early
    assert again.history == first.history
    assert model.seen_in_eval == []  # no epoch was run
    torch.testing.assert_close(model.w.detach(), first_model.w.detach(), rtol=0, atol=0)


def test_a_checkpoint_from_before_select_on_resumes_with_its_kept_weights(tmp_path):
    # 0.3.0 stored the kept weights' validation loss under "loss"; resuming reads it as the
    # value to beat, so the run continues as an uninterrupted one would. (The warm-up outlasts
    # both runs, so the learning rate does not depend on max_epochs; w passes 2 in epoch 3.)
    config = TrainConfig(
        max_epochs=6, batch_size=4, learning_rate=10.0, warmup_steps=100, ema_decay=None
    )
    full = train(Quadratic(), constant_data(5.0), constant_data(2.0), config=config, verbose=False)
    assert full.best_epoch is not None and full.best_epoch <= 3  # kept before the checkpoint
    first = dataclasses.replace(config, max_epochs=3)
    train(
        Quadratic(),
        constant_data(5.0),
        constant_data(2.0),
        config=first,
        run_dir=tmp_path,
        verbose=False,
    )
    path = tmp_path / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    state["best"]["loss"] = state["best"].pop("value")
    save_checkpoint(tmp_path, state)
    resumed = train(
        Quadratic(),
        constant_data(5.0),
        constant_data(2.0),
        config=config,
        run_dir=tmp_path,
        resume=True,
        verbose=False,
    )
    assert resumed.best_epoch == full.best_epoch and resumed.history == full.history


def test_single_validation_trial_is_refused_up_front(tmp_path):
    model = Quadratic()
    with pytest.raises(ValueError, match="valid_data"):
        train(
            model,
            constant_data(5.0),
            constant_data(0.0, n=1),
            config=TrainConfig(max_epochs=2),
            run_dir=tmp_path,
            verbose=False,
        )
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
    monkeypatch.setattr(
        "neurognocchi.training.loop._check_precision", lambda precision, device: None
    )
    data = toy_arrays(32)
    model = gnocchi_model(data)
    config = TrainConfig(max_epochs=3, batch_size=8, warmup_steps=2, precision="bf16")
    result = train(model, data, data[:8], config=config, verbose=False)
    assert all(math.isfinite(row["train_loss"]) for row in result.history)
    assert all(
        value.dtype == torch.float32
        for value in model.state_dict().values()
        if value.dtype.is_floating_point
    )


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


# ---------------------------------------------------------------------- progress without a tty
def test_verbose_fit_without_a_terminal_logs_a_line_every_tenth_of_the_run(capsys):
    train(
        Quadratic(),
        constant_data(1.0),
        config=TrainConfig(max_epochs=25),
        verbose=True,
        desc="fitting X",
    )
    lines = capsys.readouterr().err.strip().splitlines()
    epochs = [int(line.split("epoch ")[1].split("/")[0]) for line in lines]
    assert epochs == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25]
    assert all(line.startswith("fitting X: epoch ") and "train_loss" in line for line in lines)
    train(Quadratic(), constant_data(1.0), config=TrainConfig(max_epochs=3), verbose=False)
    assert capsys.readouterr().err == ""
