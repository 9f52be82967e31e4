"""Tests of neurognocchi.nn.gru (the clipped GRU cell): construction arguments."""

from __future__ import annotations

import math

import pytest
import torch

from neurognocchi.nn import ClippedGRUCell


def test_infinite_clip_value_disables_clipping():
    cell = ClippedGRUCell(2, 3, clip_value=math.inf)
    assert cell.clip_value == math.inf
    assert cell(torch.zeros(4, 2), torch.full((4, 3), 1e3)).abs().max() > 5.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"input_size": -1}, "input_size"),
        ({"input_size": 1.5}, "input_size"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"clip_value": 0.0}, "clip_value"),
        ({"clip_value": math.nan}, "clip_value"),
        ({"forget_bias": "1"}, "forget_bias"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ClippedGRUCell(**({"input_size": 2, "hidden_size": 3} | kwargs))
