"""The K-matched single-trial floor (issue 16, item 5a): real trials drawn K per condition, so
that a metric of generated samples can be computed on real trials "as if they were samples".

How the protocol uses it. For each table row computed from K samples per code, map every code
to a real condition and draw K of its held-out or validation trials with
:func:`resample_trials`; decode those trials exactly as the samples are decoded (mean over
the K trials where the samples' mean is used) and feed the result to the same metric:

* traversals: one condition per step (e.g. the grid targets along a row), decoded means
  (n_steps, n_variables) -> ``unintended_movement`` and ``intended_gain``;
* navigation: for each held-out goal, its own trials, decoded endpoints (K, 2) ->
  ``bias_and_spread`` against the goal.

Repeat over the same sampling seeds as the model (one ``random_state`` each) and summarise
with ``mean_and_sd``. With ``common=True`` (default) the draws use common random numbers:
conditions holding the same trials get the same draw (so two traversal steps that map to one
real condition show no spurious change, as shared initial noise gives a model), and each
condition's draw does not depend on which other conditions are drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurognocchi._checks import (
    InvalidArgumentError,
    check_bool,
    check_positive_int,
    check_random_state,
)

__all__ = ["resample_trials"]


def resample_trials(
    indices_by_condition: Sequence,
    k: int,
    *,
    random_state: int | None,
    common: bool = True,
    replace: bool = False,
) -> np.ndarray:
    """Draw ``k`` real trials per condition: the trials that stand in for K samples.

    Parameters
    ----------
    indices_by_condition : sequence of n_conditions 1-D integer arrays
        The trial indices available for each condition (e.g. its validation trials).
    k : int
        Trials per condition, the model's K.
    random_state : int or None
        Seed of the draw (one per sampling seed of the model); None for fresh entropy.
    common : bool, optional
        Common random numbers: one vector of uniform keys ``u`` is drawn and condition ``c``
        with ``n_c`` trials takes the positions of the ``k`` smallest of ``u[:n_c]`` (with
        ``replace``, positions ``floor(u[:k] * n_c)``). Otherwise each condition draws from
        its own child generator (``SeedSequence.spawn``), in order.
    replace : bool, optional
        Draw with replacement (needed when a condition has fewer than ``k`` trials; a trial
        may then appear twice). Without it, the ``k`` trials of a condition are distinct.

    Returns
    -------
    array (n_conditions, k) of int
        Entries of the given index arrays.

    Examples
    --------
    >>> draws = resample_trials([[10, 11, 12, 13], [20, 21, 22, 23], [10, 11, 12, 13]], 2,
    ...                         random_state=0)
    >>> draws.shape, bool((draws[0] == draws[2]).all())  # same trials -> same draw
    ((3, 2), True)
    """
    k = check_positive_int(k, "k")
    common, replace = check_bool(common, "common"), check_bool(replace, "replace")
    pools = [_pool(indices, c) for c, indices in enumerate(indices_by_condition)]
    if not pools:
        raise InvalidArgumentError("indices_by_condition must hold at least one condition")
    small = [(c, len(pool)) for c, pool in enumerate(pools) if len(pool) < (1 if replace else k)]
    if small:
        raise InvalidArgumentError(
            f"every condition needs at least {1 if replace else k} trials (k={k}, "
            f"replace={replace}); (condition, n_trials) short of it: {small}"
        )
    seed = check_random_state(random_state)
    if common:
        keys = np.random.default_rng(seed).random(max(k, *map(len, pools)))  # (max_n,)
        return np.stack([pool[_positions(keys, len(pool), k, replace)] for pool in pools])
    children = np.random.SeedSequence(seed).spawn(len(pools))
    return np.stack(
        [
            np.random.default_rng(child).choice(pool, size=k, replace=replace)
            for child, pool in zip(children, pools, strict=True)
        ]
    )


def _pool(indices, position: int) -> np.ndarray:
    pool = np.asarray(indices)
    if pool.ndim != 1 or not (pool.size == 0 or np.issubdtype(pool.dtype, np.integer)):
        raise InvalidArgumentError(
            f"indices_by_condition[{position}] must be a 1-D array of integer trial indices; "
            f"got shape {pool.shape}, dtype {pool.dtype}"
        )
    return pool.astype(np.int64)


def _positions(keys: np.ndarray, n: int, k: int, replace: bool) -> np.ndarray:
    """Positions in a pool of ``n`` trials chosen by the common keys."""
    if replace:
        return np.minimum((keys[:k] * n).astype(np.int64), n - 1)  # (k,)
    return np.argsort(keys[:n], kind="stable")[:k]  # (k,) the k smallest keys
