"""The windows the CEBRA baseline trains on (:mod:`neurognocchi.estimators.cebra`): the labels of
CEBRA-Behavior, and the seeded sampler of reference, positive and negative windows, every window
inside one trial.

A window is ``(trial, first bin)``: the ``length`` bins of the network's receptive field
starting there (``n_time - length + 1`` windows per trial). Its embedding stands for the bin
``offset.left`` bins after its first, and so does its label, as CEBRA aligns them.
"""

from __future__ import annotations

import numpy as np
import torch

from neurognocchi._checks import InvalidArgumentError
from neurognocchi.data.trials import Trials

__all__ = ["WindowSampler", "behaviour_labels", "check_behavior_names", "window_labels"]


def check_behavior_names(names, conditional: str) -> None:
    """Refuse ``behavior_names`` that are not None or a non-empty tuple of str, or that are
    given to CEBRA-Time (which uses no labels)."""
    if names is None:
        return
    if isinstance(names, str) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidArgumentError(
            f"behavior_names must be a non-empty tuple of str or None; got {names!r}"
        )
    if conditional != "time_delta":
        raise InvalidArgumentError(
            "behavior_names applies to conditional='time_delta' (CEBRA-Behavior); CEBRA-Time "
            f"uses no labels; got behavior_names={names!r}"
        )


def behaviour_labels(X, y, shape, behavior_names) -> tuple[np.ndarray, tuple[str, ...]]:
    """CEBRA-Behavior's labels (n_trials, n_time, k) and their names: the ``behavior_names``
    channels (None: all) of a `Trials`' behaviour, or ``y`` (n_trials, n_time[, k]) beside
    an array ``X`` of shape ``shape``."""
    if isinstance(X, Trials):
        if X.behavior is None:
            raise InvalidArgumentError(
                "conditional='time_delta' (CEBRA-Behavior) needs trials with "
                "behavior; X.behavior is None"
            )
        names = tuple(behavior_names or X.behavior_names)
        missing = sorted(set(names) - set(X.behavior_names))
        if missing:
            raise InvalidArgumentError(
                f"behavior_names {missing} are not among the trials' "
                f"behavior_names {list(X.behavior_names)}"
            )
        labels = X.behavior[..., [X.behavior_names.index(n) for n in names]]
    else:
        if y is None:
            raise InvalidArgumentError(
                "conditional='time_delta' (CEBRA-Behavior) needs labels: "
                "pass Trials with behavior, or y (n_trials, n_time, k)"
            )
        labels = np.asarray(y, dtype=np.float64)
        labels = labels[..., None] if labels.ndim == 2 else labels
        if labels.ndim != 3 or labels.shape[:2] != tuple(shape[:2]):
            raise InvalidArgumentError(
                f"y must have shape (n_trials, n_time, n_behavior) = "
                f"{tuple(shape[:2])} + (k,); got {labels.shape}"
            )
        names = tuple(behavior_names or (f"y{i}" for i in range(labels.shape[2])))
    labels = np.asarray(labels, dtype=np.float64)
    if not np.all(np.isfinite(labels)):
        raise InvalidArgumentError("CEBRA-Behavior's labels must be finite")
    return labels, names


def window_labels(labels: np.ndarray | None, offset) -> np.ndarray | None:
    """Z-scored labels (n, n_windows, k) of each window: those of the bin its embedding
    stands for. Z-scoring puts positions and velocities on one scale for the nearest-label
    search."""
    if labels is None:
        return None
    n_windows = labels.shape[1] - len(offset) + 1
    aligned = labels[:, offset.left : offset.left + n_windows]
    spread = aligned.std(axis=(0, 1))
    return (aligned - aligned.mean(axis=(0, 1))) / np.where(spread > 0, spread, 1.0)


class WindowSampler:
    """Reference, positive and negative windows, all inside trials, from one seeded generator.

    CEBRA-Time (no ``labels``): references uniform over the windows that have a window
    ``time_offsets`` bins later in their trial, which is the positive. CEBRA-Behavior: references
    uniform over all windows; the positive is the window (of any trial) whose label is nearest
    (Euclidean, a KD-tree) to the reference's label plus a label change over ``time_offsets``
    bins drawn uniformly from the training trials (CEBRA's ``time_delta`` distribution).
    Negatives: uniform over all windows.

    Parameters
    ----------
    n_trials, n_time : int
    length : int
        Bins of a window (the network's receptive field).
    time_offsets : int
    seed : int
    labels : array (n_trials, n_time - length + 1, k), optional
        Each window's label (:func:`window_labels`); CEBRA-Behavior when given.
    """

    def __init__(self, n_trials, n_time, length, time_offsets, seed, *, labels=None):
        self.n_trials, self.length, self.delta = n_trials, length, time_offsets
        self.n_windows = n_time - length + 1
        self.generator = torch.Generator().manual_seed(seed)
        self.labels = labels
        if labels is not None:
            from scipy.spatial import cKDTree

            self.tree = cKDTree(labels.reshape(-1, labels.shape[-1]))  # (n * n_windows, k)
            changes = labels[:, time_offsets:] - labels[:, :-time_offsets]
            self.changes = changes.reshape(-1, labels.shape[-1])

    def _uniform(self, size: int, high: int) -> torch.Tensor:
        return torch.randint(high, (size,), generator=self.generator)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Trial and first-bin indices (3 * size,): references, positives, negatives."""
        trial = self._uniform(3 * size, self.n_trials)
        first = self._uniform(3 * size, self.n_windows)
        if self.labels is None:
            first[:size] = self._uniform(size, self.n_windows - self.delta)
            trial[size : 2 * size] = trial[:size]
            first[size : 2 * size] = first[:size] + self.delta
        else:
            change = self.changes[self._uniform(size, len(self.changes)).numpy()]
            query = self.labels[trial[:size].numpy(), first[:size].numpy()] + change
            _, nearest = self.tree.query(query)
            nearest = torch.as_tensor(nearest, dtype=torch.int64)
            trial[size : 2 * size] = nearest // self.n_windows
            first[size : 2 * size] = nearest % self.n_windows
        return trial, first
