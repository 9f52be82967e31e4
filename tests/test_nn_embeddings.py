"""Tests of neurognocchi.nn.embeddings."""

import math

import pytest
import torch

from neurognocchi.nn import StepEmbedding, sinusoidal_embedding


def test_sinusoidal_at_zero_is_sin_zero_cos_one():
    emb = sinusoidal_embedding(torch.zeros(3, dtype=torch.long), 8)
    assert emb.shape == (3, 8)
    assert emb.dtype == torch.float32
    torch.testing.assert_close(emb[:, :4], torch.zeros(3, 4))
    torch.testing.assert_close(emb[:, 4:], torch.ones(3, 4))


def test_sinusoidal_known_values():
    # dim 4: frequencies 1 and 1 / sqrt(max_period).
    emb = sinusoidal_embedding(torch.tensor([1, 100]), 4, max_period=10000.0)
    expected = torch.tensor(
        [
            [math.sin(1.0), math.sin(0.01), math.cos(1.0), math.cos(0.01)],
            [math.sin(100.0), math.sin(1.0), math.cos(100.0), math.cos(1.0)],
        ]
    )
    torch.testing.assert_close(emb, expected)


@pytest.mark.parametrize("dim", [1, 5, 9])
def test_sinusoidal_odd_dim_pads_a_zero_column(dim):
    emb = sinusoidal_embedding(torch.arange(4), dim)
    assert emb.shape == (4, dim)
    torch.testing.assert_close(emb[:, -1], torch.zeros(4))
    if dim > 1:
        torch.testing.assert_close(emb[:, :-1], sinusoidal_embedding(torch.arange(4), dim - 1))


def test_sinusoidal_distinct_steps_differ():
    emb = sinusoidal_embedding(torch.arange(1000), 32)
    assert torch.cdist(emb, emb).add(torch.eye(1000) * 1e3).min() > 1e-3


@pytest.mark.parametrize(
    ("t", "dim", "error", "match"),
    [
        (torch.zeros(2, 1), 8, ValueError, "t must have shape"),
        ([0, 1], 8, TypeError, "t must be a torch.Tensor"),
        (torch.zeros(2, dtype=torch.bool), 8, TypeError, "dtype"),
        (torch.zeros(2), 0, ValueError, "dim"),
        (torch.zeros(2), 2.0, TypeError, "dim"),
    ],
)
def test_sinusoidal_bad_arguments(t, dim, error, match):
    with pytest.raises(error, match=match):
        sinusoidal_embedding(t, dim)


def test_step_embedding_shape_and_dependence_on_t():
    torch.manual_seed(0)
    embed = StepEmbedding(6, hidden_dim=10)
    out = embed(torch.tensor([0, 1, 500]))
    assert out.shape == (3, 6)
    assert not torch.allclose(out[0], out[1])
    assert StepEmbedding(6).hidden_dim == 24
