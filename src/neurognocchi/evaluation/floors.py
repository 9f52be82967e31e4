"""The floors of every table (issue 16, item 5): the protocol's numbers with real trials in a
model's place, so that each model number has references computed the same way.

* :func:`single_trial_floor`, the K-matched single-trial floor: every code replaced by K real
  trials of its condition, drawn with :func:`resample_trials`;
* :func:`noise_free_floor`: every code replaced by the condition mean of the reference (truth
  smoothed like the data, or activity), as one noise-free sample.

Both go through the scoring functions of `neurognocchi.evaluation.stochastic` on the model's
own plans (the same navigation goals and traversal steps), so a floor and a model number are
computed by one piece of code. The single-trial floor is repeated over the model's sampling
seeds. With ``common=True`` (default) the draws use common random numbers: conditions holding
the same trials get the same draw (so two traversal steps that map to one real condition show
no spurious change, as shared initial noise gives a model), and each condition's draw does not
depend on which other conditions are drawn.
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
from neurognocchi.evaluation import stochastic
from neurognocchi.evaluation.stochastic import NavigationPlan

__all__ = ["noise_free_floor", "resample_trials", "single_trial_floor"]


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


# ---------------------------------------------------------------------- the floors of a table
def _same_condition(data, index, trial) -> np.ndarray:
    """Trials among ``index`` of ``trial``'s condition other than ``trial`` itself (the trial
    alone when its condition has no other)."""
    others = index[(data.conditions[index] == data.conditions[trial]) & (index != trial)]
    return others if others.size else np.array([trial])


def _nearest_condition_trials(data, requested) -> list[np.ndarray]:
    """For each row of ``requested`` (n, 4) the trials of the condition (any, held-in or
    held-out) whose mean variables are nearest (Euclidean): what a noise-free model that
    knew every condition would generate for those variables."""
    everything = np.arange(data.trials.n_trials)
    labels, means = stochastic.condition_means(data, everything)
    nearest = np.argmin(np.linalg.norm(means[None] - requested[:, None], axis=-1), axis=1)
    return [everything[data.conditions == labels[i]] for i in nearest]


def _draw(pools, data, kind: str, sampling_seed: int) -> np.ndarray:
    """K trials of each pool (with replacement when a pool is smaller than K)."""
    short = min(map(len, pools)) < data.n_samples
    seed = stochastic.step_seed(data, kind, sampling_seed)
    return resample_trials(pools, data.n_samples, random_state=seed, replace=short)


def _goal_plan(plan: NavigationPlan) -> NavigationPlan:
    """The navigation plan with one stand-in per goal condition."""
    return plan._replace(codes=None, goal_of_code=np.arange(len(plan.goals)))


def _scores(data, decoder, nav_plan, traversals, activity_of) -> dict:
    """The floor's numbers from ``activity_of(pools, kind)`` -> (n_pools, K, T, N) activity
    standing in for K samples of each pool's code."""
    valid, heldout = data.split.valid, data.split.heldout
    pools = [_same_condition(data, data.heldin, trial) for trial in valid]
    out, _ = stochastic.reconstruction_scores(activity_of(pools, "reconstruction").mean(1), data)
    goals = [heldout[data.conditions[heldout] == label] for label in nav_plan.labels]
    activity = activity_of(goals, "navigation")
    out |= stochastic.navigation_scores(
        decoder, activity, activity.mean(1), _goal_plan(nav_plan), data
    )[0]
    for plan, name in zip(traversals, data.variable_names, strict=True):
        activity = activity_of(_nearest_condition_trials(data, plan.requested), "traversal")
        out |= stochastic.traversal_scores(decoder, activity, activity.mean(1), plan, name, data)[0]
    return out


def single_trial_floor(data, decoder, nav_plan, traversals, sampling_seed: int) -> dict:
    """The K-matched single-trial floor: every code replaced by K real trials of its
    condition (validation trial -> other held-in trials of its condition; held-out goal ->
    its held-out trials; traversal step -> trials of the nearest condition),
    drawn with common random numbers, scored exactly as the model's samples. The navigated
    PSTH R² is left out (the drawn trials are those it is scored against)."""

    def activity_of(pools, kind):
        return data.trials.activity[_draw(pools, data, kind, sampling_seed)]  # (n, K, T, N)

    out = _scores(data, decoder, nav_plan, traversals, activity_of)
    out.pop("navigation_psth_r2")
    return out


def noise_free_floor(data, decoder, nav_plan, traversals) -> dict:
    """The noise-free floor: every code replaced by the mean of the reference (truth smoothed
    like the data; activity when the trials hold no truth) over its pool's trials, as one
    noise-free sample."""

    def activity_of(pools, kind):
        return np.stack([data.reference[pool].mean(0) for pool in pools])[:, None]

    return _scores(data, decoder, nav_plan, traversals, activity_of)
