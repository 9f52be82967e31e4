"""Observation log-likelihoods and Gaussian KL divergences for sequential VAEs (LFADS).

Every function works entry-wise and returns a tensor of the broadcast shape (no reduction), so
callers can mask entries (coordinated dropout) before averaging.
"""

from __future__ import annotations

import math

import torch

__all__ = ["ar1_step_prior", "gaussian_nll", "kl_diagonal_normal", "poisson_nll"]

_LOG_2PI = math.log(2.0 * math.pi)


def poisson_nll(log_rate: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``-log Poisson(counts | exp(log_rate))`` entry-wise, including ``log(counts!)``.

    Parameters
    ----------
    log_rate : torch.Tensor
        Log of the expected count per bin.
    counts : torch.Tensor
        Non-negative counts (float dtype), broadcastable with ``log_rate``.

    Examples
    --------
    >>> poisson_nll(torch.tensor([0.0]), torch.tensor([0.0]))  # rate 1, no spike: -log(e^-1)
    tensor([1.])
    """
    return torch.exp(log_rate) - counts * log_rate + torch.lgamma(counts + 1.0)


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``-log N(x | mean, exp(log_var))`` entry-wise (``log_var`` broadcasts, e.g. per neuron)."""
    return 0.5 * (_LOG_2PI + log_var + (x - mean).pow(2) * torch.exp(-log_var))


def kl_diagonal_normal(
    mean_q: torch.Tensor,
    var_q: torch.Tensor,
    mean_p: torch.Tensor | float,
    var_p: torch.Tensor | float,
) -> torch.Tensor:
    """``KL(N(mean_q, var_q) || N(mean_p, var_p))`` for diagonal Gaussians, summed over the
    last axis: ``0.5 * sum(log(var_p / var_q) + (var_q + (mean_q - mean_p)^2) / var_p - 1)``.

    Shapes broadcast; the result has the leading shape (e.g. (B,)). Exact, hence >= 0 (up to
    rounding).

    Examples
    --------
    >>> kl_diagonal_normal(torch.zeros(2, 3), torch.ones(2, 3), 0.0, 1.0)  # (B,) = (2,)
    tensor([0., 0.])
    """
    var_p = torch.as_tensor(var_p, dtype=mean_q.dtype, device=mean_q.device)
    terms = torch.log(var_p / var_q) + (var_q + (mean_q - mean_p).pow(2)) / var_p - 1.0
    return 0.5 * terms.sum(dim=-1)


def ar1_step_prior(
    previous: torch.Tensor | None, log_tau: torch.Tensor, log_var: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of a stationary AR(1) prior at one step, per input dimension.

    The process ``u_t = a u_{t-1} + noise`` with ``a = exp(-1 / tau)`` (``tau`` in bins) has
    stationary variance ``var``. The first step is ``N(0, var)``; each later step, given the
    previous value, is ``N(a u_{t-1}, var (1 - a^2))``.

    Parameters
    ----------
    previous : torch.Tensor, shape (B, D), or None at the first step
    log_tau, log_var : torch.Tensor, shape (D,)

    Returns
    -------
    mean : torch.Tensor, shape (B, D) (zeros of shape (D,) at the first step)
    var : torch.Tensor, shape (D,)
    """
    var = torch.exp(log_var)
    if previous is None:
        return torch.zeros_like(var), var
    alpha = torch.exp(-torch.exp(-log_tau))
    return alpha * previous, var * (1.0 - alpha.pow(2))
