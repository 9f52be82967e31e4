"""Batching: shuffled batches of sorted indices, a batch on the device, a dataset's mean loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurognocchi.training.batches import evaluate_loss, shuffled_batches, to_tensor
from training_models import Quadratic, constant_data


def test_batches_merge_a_short_last_batch_so_every_process_gets_two_trials():
    batches = shuffled_batches(19, 8, torch.Generator().manual_seed(0), min_size=4)
    assert [len(b) for b in batches] == [8, 11]
    assert sorted(np.concatenate(batches).tolist()) == list(range(19))


def test_batches_are_sorted_and_follow_the_generator():
    first = shuffled_batches(20, 6, torch.Generator().manual_seed(1))
    again = shuffled_batches(20, 6, torch.Generator().manual_seed(1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(np.array_equal(batch, np.sort(batch)) for batch in first)


@pytest.mark.parametrize("make", [np.asarray, torch.as_tensor])
def test_to_tensor_gives_float32_rows_on_the_device(make):
    data = make(np.arange(24, dtype=np.float64).reshape(4, 3, 2))  # (n_trials, T, N)
    batch = to_tensor(data, np.array([1, 3]), device=torch.device("cpu"))
    assert batch.dtype == torch.float32 and batch.shape == (2, 3, 2)
    torch.testing.assert_close(batch[1], torch.arange(18, 24, dtype=torch.float32).view(3, 2))


def test_evaluate_loss_is_the_trial_weighted_mean_and_skips_a_lone_last_trial():
    data = np.concatenate([constant_data(1.0, n=4), constant_data(3.0, n=5)])  # 9 trials
    parts = evaluate_loss(Quadratic(), data, batch_size=4, seed=0, device=torch.device("cpu"))
    # batches [1,1,1,1], [3,3,3,3] (the 9th trial is alone and skipped): 3 * (1 + 9) / 2
    assert parts["loss"] == pytest.approx(15.0)
    assert parts["w0"] == 0.0
