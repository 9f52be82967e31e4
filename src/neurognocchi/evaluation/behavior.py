"""Behaviour decoding (DESIGN §7.4): a linear map from activity to hand position, per time bin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import RidgeCV

from neurognocchi._checks import InvalidArgumentError, as_finite
from neurognocchi.evaluation.metrics import RIDGE_ALPHAS, pooled_r2

# Position channel names searched, in order, when none are given.
POSITION_NAME_CANDIDATES = (
    ("hand_x", "hand_y"),
    ("finger_x", "finger_y"),
    ("fingertip_x", "fingertip_y"),
    ("cursor_x", "cursor_y"),
    ("pos_x", "pos_y"),
    ("x", "y"),
)


def position_channels(names: Sequence[str], position_names: Sequence[str] | None = None) -> list:
    """Indices of the position channels among the behaviour channel ``names``.

    ``position_names`` names them explicitly; by default the first complete pair of
    :data:`POSITION_NAME_CANDIDATES` found (case-insensitive) is used.

    Examples
    --------
    >>> position_channels(["vx", "vy", "Hand_X", "Hand_Y"])
    [2, 3]
    """
    lowered = [str(name).lower() for name in names]
    candidates = POSITION_NAME_CANDIDATES if position_names is None else (tuple(position_names),)
    for pair in candidates:
        if all(str(name).lower() in lowered for name in pair):
            return [lowered.index(str(name).lower()) for name in pair]
    wanted = "any of " + str(POSITION_NAME_CANDIDATES) if position_names is None else position_names
    raise InvalidArgumentError(
        f"position_names: behaviour channels {list(names)} do not include {wanted}"
    )


@dataclass(frozen=True)
class LinearDecoder:
    """``behavior[t] = activity[t] @ weights + intercept`` for every time bin ``t``."""

    weights: np.ndarray  # (n_neurons, n_outputs)
    intercept: np.ndarray  # (n_outputs,)
    alpha: float

    def decode(self, activity) -> np.ndarray:
        """Decoded behaviour, (n_trials, n_time, n_outputs), of activity (n_trials, n_time, N)."""
        activity = as_finite(activity, "activity", 3)
        if activity.shape[2] != self.weights.shape[0]:
            raise InvalidArgumentError(
                f"activity has {activity.shape[2]} neurons; the decoder expects "
                f"{self.weights.shape[0]}"
            )
        return activity @ self.weights + self.intercept


def fit_behavior_decoder(activity, behavior) -> LinearDecoder:
    """Ridge regression from each time bin's activity to that bin's behaviour.

    All bins of all trials are pooled; the penalty is chosen by leave-one-out CV
    (efficient generalised CV) over ``RIDGE_ALPHAS``.

    Parameters
    ----------
    activity : array (n_trials, n_time, n_neurons)
    behavior : array (n_trials, n_time, n_outputs)
    """
    activity = as_finite(activity, "activity", 3)
    behavior = as_finite(behavior, "behavior", 3)
    if activity.shape[:2] != behavior.shape[:2]:
        raise InvalidArgumentError(
            f"activity and behavior must share (n_trials, n_time); got {activity.shape[:2]}, "
            f"{behavior.shape[:2]}"
        )
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(
        activity.reshape(-1, activity.shape[2]), behavior.reshape(-1, behavior.shape[2])
    )
    return LinearDecoder(
        weights=np.atleast_2d(ridge.coef_).T.copy(),
        intercept=np.atleast_1d(ridge.intercept_).astype(np.float64),
        alpha=float(ridge.alpha_),
    )


def decoder_r2(decoder: LinearDecoder, activity, behavior) -> float:
    """:func:`pooled_r2` of the decoded vs the real behaviour (per-channel means)."""
    return pooled_r2(decoder.decode(activity), behavior)


def window_bins(bin_size_s: float | None, window_s: float = 0.1) -> int:
    """Number of bins covering ``window_s`` seconds (at least 1).

    Examples
    --------
    >>> window_bins(0.02, 0.1), window_bins(0.5, 0.1)
    (5, 1)
    """
    if bin_size_s is None or not bin_size_s > 0:
        raise InvalidArgumentError(
            f"bin_size_s must be a positive number to average over {window_s} s; got {bin_size_s!r}"
        )
    return max(1, round(window_s / bin_size_s))


def start_and_end(position, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean position over the first and over the last ``n_bins`` bins, each (n_trials, 2).

    ``position`` has shape (n_trials, n_time, n_outputs); ``n_bins`` is capped at n_time.
    """
    position = as_finite(position, "position", 3)
    n_bins = max(1, min(int(n_bins), position.shape[1]))
    return position[:, :n_bins].mean(axis=1), position[:, -n_bins:].mean(axis=1)
