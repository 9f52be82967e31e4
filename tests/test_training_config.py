"""TrainConfig (checked fields, JSON round trip) and the learning-rate schedule."""

from __future__ import annotations

import itertools
import math

import pytest

from neurognocchi.training.config import TrainConfig, learning_rate_at


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
    "field, value",
    [("warmup_steps", -1), ("grad_clip", 0.0), ("grad_clip", -1.0), ("weight_decay", -0.1)],
)
def test_train_config_rejects_bad_schedule_and_regularisation_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


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


def test_train_config_allows_unbounded_grad_clip_and_no_ema_or_patience():
    config = TrainConfig(grad_clip=math.inf, ema_decay=None, patience=None)
    assert config.grad_clip == math.inf


def test_train_config_round_trips_through_json_and_refuses_unknown_keys():
    config = TrainConfig(max_epochs=7, ema_decay=None, patience=3, precision="bf16", seed=5)
    assert TrainConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict(config.to_dict() | {"epochs": 3})
