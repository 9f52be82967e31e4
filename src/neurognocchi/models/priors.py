"""Divergences between a batch of codes and the standard normal prior."""

from __future__ import annotations

import torch

from neurognocchi._checks import InvalidArgumentError

__all__ = ["MMD_BANDWIDTHS", "mmd_to_standard_normal", "rbf_kernel"]


def rbf_kernel(a: torch.Tensor, b: torch.Tensor, *, bandwidth_sq: float) -> torch.Tensor:
    """``exp(-||a_i - b_j||^2 / (2 * bandwidth_sq))`` for a (n, L) and b (m, L) -> (n, m).

    Examples
    --------
    >>> rbf_kernel(torch.zeros(1, 2), torch.tensor([[0.0, 0.0], [1.0, 1.0]]), bandwidth_sq=1.0)
    tensor([[1.0000, 0.3679]])
    """
    return torch.exp(-torch.cdist(a, b).pow(2) / (2.0 * bandwidth_sq))


#: Squared bandwidths of the MMD's RBF kernel ``exp(-d² / (2 bandwidth_sq))`` for codes of
#: length L: "code_dim" (bandwidth_sq = L, so the denominator 2L is the expected squared
#: distance between two prior draws) or "code_dim_squared" (bandwidth_sq = L² / 2, i.e.
#: ``exp(-d² / L²)``, the kernel of the InfoVAE/InfoDiffusion code: wider for L > 2).
MMD_BANDWIDTHS = {"code_dim": lambda dim: float(dim), "code_dim_squared": lambda dim: dim**2 / 2}


def mmd_to_standard_normal(
    code: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    bandwidth: str = "code_dim",
) -> torch.Tensor:
    """Unbiased estimate of MMD^2 between codes (B, L) and as many draws from N(0, I_L).

    Kernel: RBF with the squared bandwidth :data:`MMD_BANDWIDTHS` names; both scale with L so
    that the kernel neither saturates nor vanishes for codes on the prior's scale whatever
    the code dimension. The estimate can be slightly negative when the batch matches the
    prior.
    """
    n, dim = code.shape
    if n < 2:
        raise InvalidArgumentError(f"MMD needs at least 2 codes in the batch; got {n}")
    if bandwidth not in MMD_BANDWIDTHS:
        raise InvalidArgumentError(
            f"bandwidth must be one of {sorted(MMD_BANDWIDTHS)}; got {bandwidth!r}"
        )
    prior = torch.randn((n, dim), generator=generator, device="cpu").to(code)
    bandwidth_sq = MMD_BANDWIDTHS[bandwidth](dim)
    off_diagonal = 1.0 - torch.eye(n, device=code.device, dtype=code.dtype)
    k_cc = (rbf_kernel(code, code, bandwidth_sq=bandwidth_sq) * off_diagonal).sum() / (n * (n - 1))
    k_pp = (rbf_kernel(prior, prior, bandwidth_sq=bandwidth_sq) * off_diagonal).sum() / (
        n * (n - 1)
    )
    k_cp = rbf_kernel(code, prior, bandwidth_sq=bandwidth_sq).mean()
    return k_cc + k_pp - 2.0 * k_cp
