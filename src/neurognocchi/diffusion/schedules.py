"""Noise schedules: pure functions that return the per-step variances ``beta``.

Every function returns a float64 NumPy array of shape ``(n_steps,)`` with values in ``(0, 1)``.
Step ``i`` (0-based) adds noise with variance ``beta[i]``, so that
``abar[i] = prod_{j <= i} (1 - beta[j])`` is the signal fraction kept after step ``i``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["SCHEDULES", "cosine_betas", "linear_betas", "make_betas"]

#: Names accepted by :func:`make_betas`.
SCHEDULES = ("linear", "cosine")


def _check_n_steps(n_steps: int) -> int:
    """Return ``n_steps`` as an ``int`` after checking it is an integer ``>= 1``."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral):
        raise TypeError(f"n_steps must be an int >= 1, got {n_steps!r} ({type(n_steps).__name__})")
    if n_steps < 1:
        raise ValueError(f"n_steps must be an int >= 1, got {n_steps}")
    return int(n_steps)


def _check_real(name: str, value: float) -> float:
    """Return ``value`` as a finite ``float``, raising ``TypeError``/``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def linear_betas(n_steps: int, *, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Betas spaced linearly from ``beta_start`` to ``beta_end`` (Ho et al. 2020).

    Parameters
    ----------
    n_steps : int
        Number of diffusion steps, ``>= 1``.
    beta_start, beta_end : float
        First and last beta; ``0 < beta_start < beta_end < 1``. With ``n_steps == 1`` the single
        beta is ``beta_start``.

    Returns
    -------
    betas : numpy.ndarray, float64, shape (n_steps,)
        Increasing betas; ``betas[0] == beta_start`` and ``betas[-1] == beta_end`` exactly.
    """
    n_steps = _check_n_steps(n_steps)
    beta_start = _check_real("beta_start", beta_start)
    beta_end = _check_real("beta_end", beta_end)
    if not 0.0 < beta_start < beta_end < 1.0:
        raise ValueError(
            f"need 0 < beta_start < beta_end < 1, got beta_start={beta_start}, beta_end={beta_end}"
        )
    return np.linspace(beta_start, beta_end, n_steps, dtype=np.float64)


def cosine_betas(n_steps: int, *, offset: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Betas of the cosine schedule (Nichol & Dhariwal 2021).

    With ``f(u) = cos^2((u + offset) / (1 + offset) * pi / 2)`` for ``u = i / n_steps``, the
    cumulative signal fraction is ``abar[i] = f((i + 1) / n_steps) / f(0)``, hence
    ``beta[i] = 1 - f((i + 1) / n_steps) / f(i / n_steps)``, clipped at ``max_beta`` (the last
    step would otherwise have ``beta == 1``).

    Parameters
    ----------
    n_steps : int
        Number of diffusion steps, ``>= 1``.
    offset : float
        The small offset ``s >= 0`` that keeps the first betas away from zero.
    max_beta : float
        Upper clip for the betas, ``0 < max_beta < 1``.

    Returns
    -------
    betas : numpy.ndarray, float64, shape (n_steps,)
        Non-decreasing betas in ``(0, max_beta]``.
    """
    n_steps = _check_n_steps(n_steps)
    offset = _check_real("offset", offset)
    max_beta = _check_real("max_beta", max_beta)
    if offset < 0.0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if not 0.0 < max_beta < 1.0:
        raise ValueError(f"max_beta must be in (0, 1), got {max_beta}")
    u = np.arange(n_steps + 1, dtype=np.float64) / n_steps  # (n_steps + 1,)
    f = np.cos((u + offset) / (1.0 + offset) * (np.pi / 2.0)) ** 2
    betas = 1.0 - f[1:] / f[:-1]
    return np.minimum(betas, max_beta)


def make_betas(schedule: str, n_steps: int, **kwargs: float) -> np.ndarray:
    """Betas of the schedule named ``schedule``.

    Parameters
    ----------
    schedule : {"linear", "cosine"}
        Which schedule; dispatches to :func:`linear_betas` or :func:`cosine_betas`.
    n_steps : int
        Number of diffusion steps, ``>= 1``.
    **kwargs
        Keyword arguments of the chosen schedule function (e.g. ``beta_start`` for "linear").

    Returns
    -------
    betas : numpy.ndarray, float64, shape (n_steps,)
    """
    if schedule == "linear":
        return linear_betas(n_steps, **kwargs)
    if schedule == "cosine":
        return cosine_betas(n_steps, **kwargs)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
