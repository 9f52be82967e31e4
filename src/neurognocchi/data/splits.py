"""Random splits of trial indices, optionally stratified by a label (e.g. the condition)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_int, check_random_state

__all__ = ["split_indices"]


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or len(fractions) < 2:
        raise InvalidArgumentError(
            f"fractions must list at least two parts; got {fractions.tolist()}"
        )
    if np.any(fractions <= 0) or not np.isclose(fractions.sum(), 1.0):
        raise InvalidArgumentError(
            f"fractions must be positive and sum to 1; got {fractions.tolist()}"
        )
    return fractions


def _assign_parts(n: int, fractions: np.ndarray) -> np.ndarray:
    """Part index for each of n positions so that every prefix is split in proportion.

    Each position goes to the part furthest behind its quota (smooth weighted round robin),
    so consecutive runs of trials, such as one condition's, are divided evenly.
    """
    counts = np.zeros(len(fractions))
    assignment = np.empty(n, dtype=int)
    for position in range(n):
        part = int(np.argmax(fractions * (position + 1) - counts))
        assignment[position] = part
        counts[part] += 1
    return assignment


def split_indices(
    n_trials: int,
    fractions: Sequence[float],
    *,
    labels: np.ndarray | None = None,
    random_state: int = 0,
) -> list[np.ndarray]:
    """Partition ``range(n_trials)`` at random into parts of the given fractions.

    With ``labels``, each label's trials are divided in the same proportions (a stratified
    split), so every condition appears in every part when it has enough trials. Within each
    label, trials go to the part furthest behind its quota, so rounding balances across labels.

    Parameters
    ----------
    n_trials : int
        Number of trials to split.
    fractions : sequence of float
        Positive fractions summing to 1, one per part.
    labels : array, shape (n_trials,), optional
        A label per trial (e.g. its condition) whose values are spread evenly across parts.
    random_state : int
        Seed of the permutation.

    Returns
    -------
    list of sorted integer arrays, one per fraction.

    Raises
    ------
    ValueError
        When the fractions are invalid or a part would be empty (too few trials).

    Examples
    --------
    >>> train, valid = split_indices(6, (0.5, 0.5), labels=[0, 0, 1, 1, 2, 2], random_state=0)
    >>> len(train), len(valid), sorted(np.r_[train, valid].tolist())
    (3, 3, [0, 1, 2, 3, 4, 5])
    """
    n_trials = check_int(n_trials, "n_trials", minimum=0)
    fractions = _check_fractions(fractions)
    rng = np.random.default_rng(check_random_state(random_state))
    labels = np.zeros(n_trials, dtype=int) if labels is None else np.asarray(labels)
    if len(labels) != n_trials:
        raise InvalidArgumentError(f"labels has length {len(labels)}; expected {n_trials}")
    # Trials grouped by label, shuffled within each label and the labels in sorted order.
    order = rng.permutation(n_trials)
    order = order[np.argsort(labels[order], kind="stable")]
    assignment = _assign_parts(n_trials, fractions)
    parts = [order[assignment == part] for part in range(len(fractions))]
    sizes = [len(part) for part in parts]
    if min(sizes) == 0:
        raise InvalidArgumentError(
            f"too few trials ({n_trials}) to split into fractions {fractions.tolist()}: "
            f"part sizes would be {sizes}"
        )
    return [np.sort(np.asarray(part, dtype=np.intp)) for part in parts]
