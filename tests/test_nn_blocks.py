"""Tests of neurognocchi.nn.blocks."""

import pytest
import torch

from neurognocchi.nn import ConditionedResBlock1d, Downsample1d, Upsample1d, group_count


@pytest.mark.parametrize(
    ("channels", "groups", "expected"),
    [(6, 8, 6), (7, 8, 7), (12, 8, 6), (16, 8, 8), (1, 8, 1), (7, 4, 1), (64, 8, 8), (9, 8, 3)],
)
def test_group_count(channels, groups, expected):
    assert group_count(channels, groups) == expected
    assert channels % expected == 0


@pytest.mark.parametrize("channels", [6, 7, 12])
def test_res_block_any_channel_count(channels):
    block = ConditionedResBlock1d(channels, channels, cond_dim=4)
    out = block(torch.randn(2, channels, 5), torch.randn(2, 4))
    assert out.shape == (2, channels, 5)


def test_res_block_changes_channels_with_a_skip_conv():
    block = ConditionedResBlock1d(3, 10, cond_dim=5, groups=4)
    assert isinstance(block.skip, torch.nn.Conv1d)
    assert ConditionedResBlock1d(4, 4, cond_dim=5).skip.__class__.__name__ == "Identity"
    out = block(torch.randn(2, 3, 9), torch.randn(2, 5))
    assert out.shape == (2, 10, 9)


def test_res_block_conditioning_matters_when_fresh():
    torch.manual_seed(0)
    block = ConditionedResBlock1d(4, 4, cond_dim=3, groups=2)
    h = torch.randn(2, 4, 8)
    assert not torch.allclose(block(h, torch.randn(2, 3)), block(h, torch.randn(2, 3)))


@pytest.mark.parametrize("n_time", [1, 2, 7, 8])
def test_down_and_upsample_lengths(n_time):
    h = torch.randn(2, 4, n_time)
    assert Downsample1d(4)(h).shape == (2, 4, (n_time + 1) // 2)
    assert Upsample1d(4)(h).shape == (2, 4, 2 * n_time)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_channels": 0}, ValueError, "in_channels"),
        ({"cond_dim": 2.5}, TypeError, "cond_dim"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"groups": 0}, ValueError, "groups"),
    ],
)
def test_res_block_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConditionedResBlock1d(**{"in_channels": 4, "out_channels": 4, "cond_dim": 2, **kwargs})
