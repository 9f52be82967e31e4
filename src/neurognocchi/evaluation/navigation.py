"""Latent navigation (DESIGN §7.5-6): code directions of behavioural variables, codes moved
along them, and how much a traversal moves the variables it should leave alone."""

from __future__ import annotations

import numpy as np

from neurognocchi.evaluation.metrics import as_finite, check_lengths


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
    codes = as_finite("codes", codes, 2)
    variables = as_finite("variables", variables, 2)
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
    directions = as_finite("directions", directions, 2)
    norms = np.linalg.norm(directions, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = directions / np.where(norms > 0, norms, np.nan)
    return np.abs(unit.T @ unit)


def nearest_conditions(condition_targets, goal, *, rtol: float = 1e-6) -> np.ndarray:
    """Indices of the rows of ``condition_targets`` (n_conditions, 2) nearest to ``goal`` (2,),
    ties (within ``rtol`` of the smallest distance) included."""
    condition_targets = as_finite("condition_targets", condition_targets, 2)
    goal = as_finite("goal", goal, 1)
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
    source_codes = as_finite("source_codes", source_codes, 2)
    source_variables = as_finite("source_variables", source_variables, 2)
    goal_variables = as_finite("goal_variables", goal_variables, 1)
    directions = as_finite("directions", directions, 2)
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
    base_code = as_finite("base_code", base_code, 1)
    direction = as_finite("direction", direction, 1)
    steps = as_finite("steps", steps, 1)
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
    decoded = as_finite("decoded", decoded, 2)
    if decoded.shape[0] < 2:
        raise ValueError(f"decoded needs at least 2 steps; got shape {decoded.shape}")
    if not 0 <= traversed < decoded.shape[1]:
        raise ValueError(
            f"traversed must index one of {decoded.shape[1]} variables; got {traversed}"
        )
    fixed = np.delete(np.arange(decoded.shape[1]), traversed)
    change = np.abs(decoded[1:, fixed] - decoded[0, fixed])  # (n_steps - 1, n_fixed)
    return float(change.sum(axis=1).mean())
