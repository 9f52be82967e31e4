"""Noise schedules: pure functions that return the per-step variances ``beta``; and the grid
of steps a strided sampler visits.

Every ``*_betas`` function returns a float64 NumPy array of shape ``(n_steps,)`` with values in
``(0, 1)``. Step ``i`` (0-based) adds noise with variance ``beta[i]``, so that
``abar[i] = prod_{j <= i} (1 - beta[j])`` is the signal fraction kept after step ``i``.
"""

from __future__ import annotations

import numpy as np
import torch

from neurognocchi._checks import InvalidArgumentError, check_choice, check_int, check_real

__all__ = ["SCHEDULES", "cosine_betas", "linear_betas", "make_betas", "strided_timesteps"]

#: Names accepted by :func:`make_betas`.
SCHEDULES = ("linear", "cosine")


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

    Examples
    --------
    >>> linear_betas(3, beta_start=0.1, beta_end=0.3).tolist()
    [0.1, 0.2, 0.3]
    """
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    beta_start = check_real(beta_start, "beta_start")
    beta_end = check_real(beta_end, "beta_end")
    if not 0.0 < beta_start < beta_end < 1.0:
        raise InvalidArgumentError(
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

    Examples
    --------
    >>> betas = cosine_betas(1000)
    >>> float(betas[-1])  # the last step is clipped
    0.999
    """
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    offset = check_real(offset, "offset", low=0.0)
    max_beta = check_real(max_beta, "max_beta", low=0.0, high=1.0, low_open=True, high_open=True)
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
    check_choice(schedule, "schedule", SCHEDULES)
    if schedule == "linear":
        return linear_betas(n_steps, **kwargs)
    return cosine_betas(n_steps, **kwargs)


def strided_timesteps(n_train_steps: int, n_steps: int) -> torch.Tensor:
    """Evenly strided sampling steps, from ``n_train_steps - 1`` down to 0.

    Step ``k`` is ``n_train_steps - 1 - round(k * (n_train_steps - 1) / (n_steps - 1))``
    (rounding half up, in integer arithmetic); the stride is ``>= 1``, so no step repeats.

    Parameters
    ----------
    n_train_steps : int
        Number of training diffusion steps, ``>= 1``.
    n_steps : int
        Number of sampling steps, ``1 <= n_steps <= n_train_steps``. With 1 the only step is
        ``n_train_steps - 1``; with more, the last step is 0.

    Returns
    -------
    timesteps : torch.LongTensor, shape (n_steps,)
        Strictly decreasing step indices.

    Examples
    --------
    >>> strided_timesteps(1000, 10).tolist()
    [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
    """
    last = check_int(n_train_steps, "n_train_steps", minimum=1) - 1
    n_steps = check_int(n_steps, "n_steps")
    if not 1 <= n_steps <= n_train_steps:
        raise InvalidArgumentError(f"n_steps must be in [1, {n_train_steps}], got {n_steps}")
    if n_steps == 1:
        return torch.tensor([last], dtype=torch.long)
    k = torch.arange(n_steps, dtype=torch.long)
    offsets = (2 * k * last + (n_steps - 1)) // (2 * (n_steps - 1))  # round(k*last/(n-1))
    return last - offsets
