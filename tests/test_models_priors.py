"""The RBF kernel and the unbiased MMD^2 between codes and the standard normal prior."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurognocchi.models.priors import mmd_to_standard_normal, rbf_kernel


def test_rbf_kernel_two_point_example_by_hand():
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    k = rbf_kernel(a, b, bandwidth_sq=2.0)
    # squared distances: [[0, 9], [2, 5]]; k = exp(-d2 / 4)
    expected = torch.tensor([[1.0, math.exp(-9 / 4)], [math.exp(-2 / 4), math.exp(-5 / 4)]])
    torch.testing.assert_close(k, expected)


def test_rbf_kernel_is_symmetric_with_unit_diagonal():
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    k = rbf_kernel(x, x, bandwidth_sq=3.0)
    assert k.shape == (6, 6)
    torch.testing.assert_close(k, k.T)
    torch.testing.assert_close(torch.diagonal(k), torch.ones(6))
    assert torch.all((k > 0) & (k <= 1 + 1e-6))


def test_mmd_matches_hand_computed_unbiased_estimate():
    code = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    mmd = mmd_to_standard_normal(code, generator=torch.Generator().manual_seed(4))
    prior = torch.randn((3, 2), generator=torch.Generator().manual_seed(4)).double().numpy()
    c = code.numpy()

    def k(u, v):  # bandwidth^2 = code_dim = 2
        return math.exp(-float(np.sum((u - v) ** 2)) / (2 * 2))

    off = [(i, j) for i in range(3) for j in range(3) if i != j]
    k_cc = sum(k(c[i], c[j]) for i, j in off) / 6
    k_pp = sum(k(prior[i], prior[j]) for i, j in off) / 6
    k_cp = sum(k(c[i], prior[j]) for i in range(3) for j in range(3)) / 9
    assert float(mmd) == pytest.approx(k_cc + k_pp - 2 * k_cp, rel=1e-5)


def test_mmd_is_near_zero_for_prior_codes():
    generator = torch.Generator().manual_seed(0)
    code = torch.randn((400, 3), generator=generator)
    values = [float(mmd_to_standard_normal(code, generator=generator)) for _ in range(3)]
    assert all(abs(value) < 0.02 for value in values), values


def test_mmd_is_clearly_positive_for_shifted_codes():
    generator = torch.Generator().manual_seed(0)
    code = torch.randn((400, 3), generator=generator)
    near = float(mmd_to_standard_normal(code, generator=generator))
    far = float(mmd_to_standard_normal(code + 3.0, generator=generator))
    assert far > 0.3
    assert far > near + 0.3


def test_mmd_is_differentiable_in_the_codes():
    code = torch.full((8, 2), 2.0, requires_grad=True)
    mmd_to_standard_normal(code, generator=torch.Generator().manual_seed(0)).backward()
    assert code.grad is not None and code.grad.abs().sum() > 0


@pytest.mark.parametrize("n", [0, 1])
def test_mmd_needs_two_codes(n):
    with pytest.raises(ValueError, match="at least 2"):
        mmd_to_standard_normal(torch.zeros((n, 3)))
