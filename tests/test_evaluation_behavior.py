"""Behaviour decoding (DESIGN §7.4): position channels, the per-bin ridge decoder, windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurognocchi.evaluation import decoder_r2, fit_behavior_decoder
from neurognocchi.evaluation.behavior import position_channels, start_and_end, window_bins


def test_position_channels_default_search_and_explicit_names():
    assert position_channels(("hand_x", "hand_y", "hand_vx", "hand_vy")) == [0, 1]
    assert position_channels(("vel_x", "Finger_Y", "finger_x")) == [2, 1]  # case-insensitive
    assert position_channels(("a", "px", "py"), ("px", "py")) == [1, 2]
    with pytest.raises(ValueError, match="position_names"):
        position_channels(("hand_vx", "hand_vy"))
    with pytest.raises(ValueError, match="position_names"):
        position_channels(("hand_x", "hand_y"), ("px", "py"))


def test_decoder_recovers_an_exact_linear_map():
    rng = np.random.default_rng(0)
    activity = rng.normal(size=(30, 10, 5))
    weights = rng.normal(size=(5, 2))
    behavior = activity @ weights + np.array([1.0, -2.0])
    decoder = fit_behavior_decoder(activity, behavior)
    np.testing.assert_allclose(decoder.weights, weights, atol=1e-2)
    np.testing.assert_allclose(decoder.intercept, [1.0, -2.0], atol=1e-2)
    assert decoder_r2(decoder, activity, behavior) > 0.9999
    assert decoder.decode(activity[:2]).shape == (2, 10, 2)


def test_decoder_of_constant_activity_predicts_the_mean():
    behavior = np.random.default_rng(1).normal(size=(6, 4, 2))
    decoder = fit_behavior_decoder(np.ones((6, 4, 3)), behavior)
    decoded = decoder.decode(np.ones((2, 4, 3)))
    np.testing.assert_allclose(decoded, np.broadcast_to(behavior.reshape(-1, 2).mean(0), (2, 4, 2)))
    assert decoder_r2(decoder, np.ones((6, 4, 3)), behavior) == pytest.approx(0.0, abs=1e-12)


def test_decoder_checks_its_input():
    with pytest.raises(ValueError, match="activity must be finite"):
        fit_behavior_decoder(np.full((2, 3, 4), np.nan), np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="n_trials, n_time"):
        fit_behavior_decoder(np.zeros((2, 3, 4)), np.zeros((2, 4, 2)))
    decoder = fit_behavior_decoder(np.eye(4)[None].repeat(2, 0), np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="neurons"):
        decoder.decode(np.zeros((1, 4, 5)))


def test_window_bins_and_start_and_end():
    assert window_bins(0.02) == 5
    assert window_bins(0.02, 0.05) == 2  # round(2.5) -> 2 (banker's rounding)
    assert window_bins(0.5) == 1  # at least one bin
    with pytest.raises(ValueError, match="bin_size_s"):
        window_bins(None)
    position = np.arange(10, dtype=float)[None, :, None].repeat(2, axis=2)  # (1, 10, 2)
    start, end = start_and_end(position, 3)
    np.testing.assert_allclose(start, [[1.0, 1.0]])  # mean of 0, 1, 2
    np.testing.assert_allclose(end, [[8.0, 8.0]])  # mean of 7, 8, 9
    start, end = start_and_end(position, 50)  # capped at n_time
    assert math.isclose(start[0, 0], 4.5) and math.isclose(end[0, 0], 4.5)
