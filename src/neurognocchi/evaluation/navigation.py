"""Latent navigation (DESIGN §7.5-6): code directions of behavioural variables, codes moved
along them, how far navigated samples land from the goal (bias and spread), and how much a
traversal moves the variable it should move (intended gain) and those it should leave alone."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurognocchi._checks import InvalidArgumentError, as_finite, check_finite_array, check_real
from neurognocchi.evaluation.metrics import check_lengths


def navigation_directions(codes, variables) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit ``code = A @ v + b`` over trials.

    Parameters
    ----------
    codes : array (n_trials, code_dim)
    variables : array (n_trials, n_variables)

    Returns
    -------
    directions : array (code_dim, n_variables); column ``j`` is the code direction of variable j
    offset : array (code_dim,)
    """
    codes = as_finite(codes, "codes", 2)
    variables = as_finite(variables, "variables", 2)
    check_lengths(codes=codes, variables=variables)
    design = np.column_stack([variables, np.ones(len(variables))])  # (n, V + 1)
    solution = np.linalg.lstsq(design, codes, rcond=None)[0]  # (V + 1, L)
    return solution[:-1].T.copy(), solution[-1].copy()


def direction_cosines(directions) -> np.ndarray:
    """|cos| between every pair of columns of ``directions`` (code_dim, n_variables).

    A zero column has NaN cosines (its direction is undefined); the diagonal is 1 otherwise.

    Examples
    --------
    >>> direction_cosines(np.array([[1.0, 1.0], [0.0, -1.0]])).round(3)
    array([[1.   , 0.707],
           [0.707, 1.   ]])
    """
    directions = as_finite(directions, "directions", 2)
    norms = np.linalg.norm(directions, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = directions / np.where(norms > 0, norms, np.nan)
    return np.abs(unit.T @ unit)


def nearest_conditions(condition_targets, goal, *, rtol: float = 1e-6) -> np.ndarray:
    """Indices of the rows of ``condition_targets`` (n_conditions, 2) nearest to ``goal`` (2,),
    ties (within ``rtol`` of the smallest distance) included."""
    condition_targets = as_finite(condition_targets, "condition_targets", 2)
    goal = as_finite(goal, "goal", 1)
    distance = np.linalg.norm(condition_targets - goal, axis=1)
    return np.flatnonzero(distance <= distance.min() * (1 + rtol) + 1e-12)


def navigated_codes(source_codes, source_variables, goal_variables, directions) -> np.ndarray:
    """Codes moved from each source by ``directions @ (goal - source)``.

    Parameters
    ----------
    source_codes : array (n_sources, code_dim), e.g. mean codes of the nearest conditions
    source_variables : array (n_sources, n_variables), their mean variables
    goal_variables : array (n_variables,), the variables to synthesise
    directions : array (code_dim, n_variables)

    Returns
    -------
    array (n_sources, code_dim)
    """
    source_codes = as_finite(source_codes, "source_codes", 2)
    source_variables = as_finite(source_variables, "source_variables", 2)
    goal_variables = as_finite(goal_variables, "goal_variables", 1)
    directions = as_finite(directions, "directions", 2)
    check_lengths(source_codes=source_codes, source_variables=source_variables)
    return source_codes + (goal_variables - source_variables) @ directions.T


def traversal_codes(base_code, direction, steps) -> np.ndarray:
    """``base_code + step * direction`` for each step: (n_steps, code_dim).

    Examples
    --------
    >>> traversal_codes([1.0, 0.0], [0.0, 2.0], [0.0, 0.5, 1.0])
    array([[1., 0.],
           [1., 1.],
           [1., 2.]])
    """
    base_code = as_finite(base_code, "base_code", 1)
    direction = as_finite(direction, "direction", 1)
    steps = as_finite(steps, "steps", 1)
    return base_code[None, :] + steps[:, None] * direction[None, :]


def unintended_movement(decoded, traversed: int) -> float:
    """Movement of the variables a traversal should leave fixed (DESIGN §7.6).

    ``decoded`` (n_steps, n_variables) holds the decoded variables at each step of a traversal
    of variable ``traversed``. For every step ``s >= 1`` the absolute changes
    ``|decoded[s, v] - decoded[0, v]|`` of the other variables are summed; the result is the
    mean of these sums over the steps. Lower is better; 0 for perfectly disentangled codes.

    Examples
    --------
    >>> decoded = np.array([[0.0, 5.0], [1.0, 5.5], [2.0, 4.0]])  # traversing variable 0
    >>> unintended_movement(decoded, 0)  # (0.5 + 1.0) / 2
    0.75
    """
    decoded = as_finite(decoded, "decoded", 2)
    if decoded.shape[0] < 2:
        raise InvalidArgumentError(f"decoded needs at least 2 steps; got shape {decoded.shape}")
    if not 0 <= traversed < decoded.shape[1]:
        raise InvalidArgumentError(
            f"traversed must index one of {decoded.shape[1]} variables; got {traversed}"
        )
    fixed = np.delete(np.arange(decoded.shape[1]), traversed)
    change = np.abs(decoded[1:, fixed] - decoded[0, fixed])  # (n_steps - 1, n_fixed)
    return float(change.sum(axis=1).mean())


# ---------------------------------------------------------------------- fairness rules (c)
class BiasSpread(NamedTuple):
    """Output of :func:`bias_and_spread`: floats, or (n_conditions,) arrays when batched."""

    bias: float | np.ndarray
    spread: float | np.ndarray


def bias_and_spread(decoded, goal) -> BiasSpread:
    """Navigation error split into the bias of the mean and the spread of the samples.

    ``bias = ||mean_k decoded_k - goal||`` and ``spread = sqrt(mean_k ||decoded_k - m||^2)``
    with ``m`` the mean over samples (RMS distance to the mean, ddof 0; 0 for one sample).
    The mean squared per-sample error is ``bias^2 + spread^2``. A deterministic model has no
    spread; a stochastic one is judged on its bias, with the spread reported beside it.

    Parameters
    ----------
    decoded : array (K, D) or (n_conditions, K, D)
        Decoded values (e.g. endpoints) of K samples of one navigated condition, or of each.
    goal : array (D,) or (n_conditions, D)
        The intended values.

    Returns
    -------
    BiasSpread
        ``bias`` and ``spread``: floats, or arrays (n_conditions,) when batched.

    Examples
    --------
    >>> decoded = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # mean (1, 1)
    >>> bias, spread = bias_and_spread(decoded, np.array([1.0, 4.0]))
    >>> round(bias, 6), round(spread**2, 6)  # |(0, -3)|, mean squared distance to (1, 1)
    (3.0, 2.0)
    """
    decoded = check_finite_array(decoded, "decoded").astype(np.float64)
    goal = check_finite_array(goal, "goal").astype(np.float64)
    if decoded.ndim not in (2, 3) or goal.shape != decoded.shape[:-2] + decoded.shape[-1:]:
        raise InvalidArgumentError(
            "decoded must be (K, D) with goal (D,), or (n_conditions, K, D) with goal "
            f"(n_conditions, D); got {decoded.shape} and {goal.shape}"
        )
    if decoded.shape[-2] < 1 or decoded.shape[-1] < 1:
        raise InvalidArgumentError(f"decoded needs K >= 1 and D >= 1; got {decoded.shape}")
    mean = decoded.mean(axis=-2)  # (..., D)
    bias = np.linalg.norm(mean - goal, axis=-1)  # (...)
    spread = np.sqrt(((decoded - mean[..., None, :]) ** 2).sum(axis=-1).mean(axis=-1))
    if decoded.ndim == 2:
        return BiasSpread(float(bias), float(spread))
    return BiasSpread(bias, spread)


def intended_gain(decoded_traversed, requested) -> float:
    """How far a traversal moves the traversed variable, per unit of requested change.

    With ``dd_s = decoded[s] - decoded[0]`` and ``dr_s = requested[s] - requested[0]``, the
    gain is the least-squares slope through the origin over steps ``s = 1 .. n_steps - 1``:
    ``sum_s dd_s dr_s / sum_s dr_s^2``. 1 when the decoded value follows the request exactly,
    0 when the output ignores the code, negative when it moves the wrong way.

    Parameters
    ----------
    decoded_traversed : array (n_steps,)
        Decoded value of the traversed variable at each step (e.g. ``decoded[:, j]`` of
        :func:`unintended_movement`), from the mean of the samples.
    requested : array (n_steps,)
        The variable's requested value at each step (only the changes matter).

    Returns
    -------
    float

    Examples
    --------
    >>> intended_gain([3.0, 3.5, 4.0], [0.0, 1.0, 2.0])  # half of every requested change
    0.5
    """
    decoded = check_finite_array(decoded_traversed, "decoded_traversed", ndim=1)
    requested = check_finite_array(requested, "requested", ndim=1)
    if len(decoded) != len(requested) or len(decoded) < 2:
        raise InvalidArgumentError(
            "decoded_traversed and requested need one value per step and >= 2 steps; "
            f"got lengths {len(decoded)} and {len(requested)}"
        )
    decoded_change = decoded[1:].astype(np.float64) - decoded[0]  # (n_steps - 1,)
    requested_change = requested[1:].astype(np.float64) - requested[0]
    scale = float((requested_change**2).sum())
    if scale == 0:
        raise InvalidArgumentError("requested must change between steps; got a constant")
    return float((decoded_change * requested_change).sum() / scale)


def unintended_per_gain(unintended, gain, *, min_gain: float = 0.1):
    """Unintended movement per unit of intended change: ``unintended / gain``.

    The unintended movement of a traversal (:func:`unintended_movement`, data units) divided
    by its :func:`intended_gain`: the unintended movement the traversal would cause if it
    moved the traversed variable as far as requested (equal to ``unintended`` at gain 1).
    A model that barely moves (or moves backwards) must not look disentangled, so where
    ``gain < min_gain`` the result is NaN, meaning "undefined: too little intended
    movement"; report it as such, never as 0.

    Parameters
    ----------
    unintended : float or array
        Unintended movement (>= 0).
    gain : float or array, broadcastable with ``unintended``
        Intended gain.
    min_gain : float, optional
        Smallest gain for which the ratio is reported (> 0).

    Returns
    -------
    float, or an array of the broadcast shape

    Examples
    --------
    >>> unintended_per_gain(0.25, 0.5), unintended_per_gain(0.0, 0.0)
    (0.5, nan)
    """
    min_gain = check_real(min_gain, "min_gain", low=0.0, low_open=True)
    unintended = check_finite_array(unintended, "unintended").astype(np.float64)
    gain = check_finite_array(gain, "gain").astype(np.float64)
    if np.any(unintended < 0):
        raise InvalidArgumentError("unintended must be non-negative")
    moved = gain >= min_gain
    ratio = np.where(moved, unintended / np.where(moved, gain, 1.0), np.nan)
    return float(ratio) if ratio.ndim == 0 else ratio
