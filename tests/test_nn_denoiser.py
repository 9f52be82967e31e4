"""Tests of neurognocchi.nn.denoiser.UNet1dDenoiser (tiny widths to stay fast)."""

import json

import pytest
import torch

from neurognocchi.nn import UNet1dDenoiser

TINY = {"channels": 4, "channel_mults": (1, 2, 2), "step_dim": 8, "code_embed_dim": 8, "groups": 2}


def make_net(n_neurons=3, code_dim=2, **kwargs):
    torch.manual_seed(0)
    return UNet1dDenoiser(n_neurons, code_dim=code_dim, **{**TINY, **kwargs})


def inputs(n_batch, n_time, n_neurons, code_dim=2):
    gen = torch.Generator().manual_seed(1)
    x_t = torch.randn(n_batch, n_time, n_neurons, generator=gen)
    t = torch.randint(0, 1000, (n_batch,), generator=gen)
    code = torch.randn(n_batch, code_dim, generator=gen)
    return x_t, t, code


@pytest.mark.parametrize("n_neurons", [1, 3, 13])
@pytest.mark.parametrize("n_time", [1, 7, 37, 64])
def test_output_shape_is_exactly_the_input_shape(n_time, n_neurons):
    net = make_net(n_neurons)
    out = net(*inputs(2, n_time, n_neurons))
    assert out.shape == (2, n_time, n_neurons)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("mults", [(1,), (1, 2), (1, 1, 2, 2)])
def test_any_number_of_levels(mults):
    net = make_net(channel_mults=mults, n_res_blocks=2)
    assert net.n_levels == len(mults)
    assert net(*inputs(2, 5, 3)).shape == (2, 5, 3)


def test_padding_does_not_crop_data():
    # The last bins of an odd-length input must influence the output.
    net = make_net()
    x_t, t, code = inputs(1, 7, 3)
    x_late = x_t.clone()
    x_late[:, -1] += 1.0
    assert not torch.allclose(net(x_t, t, code)[:, -1], net(x_late, t, code)[:, -1])


def test_changing_the_code_changes_the_output():
    net = make_net()
    x_t, t, code = inputs(2, 16, 3)
    assert not torch.allclose(net(x_t, t, code), net(x_t, t, code + 1.0), atol=1e-5)


def test_changing_the_step_changes_the_output():
    net = make_net()
    x_t, t, code = inputs(2, 16, 3)
    assert not torch.allclose(net(x_t, t, code), net(x_t, t + 100, code), atol=1e-5)


def test_gradients_reach_every_parameter():
    net = make_net(channels=8, groups=2, dropout=0.1)
    net(*inputs(3, 16, 3)).pow(2).sum().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_config_round_trip():
    net = make_net(n_neurons=5, code_dim=3, dropout=0.2)
    config = json.loads(json.dumps(net.config))
    assert config["n_neurons"] == 5
    rebuilt = type(net)(**config)
    rebuilt.load_state_dict(net.state_dict())
    net.eval()
    rebuilt.eval()
    args = inputs(2, 9, 5, code_dim=3)
    torch.testing.assert_close(rebuilt(*args), net(*args))


@pytest.mark.parametrize(
    ("x_shape", "t_shape", "code_shape", "match"),
    [
        ((2, 7), (2,), (2, 2), "x_t"),
        ((2, 7, 4), (2,), (2, 2), "x_t"),
        ((2, 0, 3), (2,), (2, 2), "x_t"),
        ((2, 7, 3), (3,), (2, 2), "t must have shape"),
        ((2, 7, 3), (2, 1), (2, 2), "t must have shape"),
        ((2, 7, 3), (2,), (2, 5), "code_dim"),
        ((2, 7, 3), (2,), (2,), "code"),
        ((2, 7, 3), (2,), (3, 2), "code must have one row per trial"),
    ],
)
def test_bad_shapes_raise_value_error_naming_the_argument(x_shape, t_shape, code_shape, match):
    net = make_net()
    with pytest.raises(ValueError, match=match):
        net(torch.randn(x_shape), torch.zeros(t_shape, dtype=torch.long), torch.randn(code_shape))


def test_bad_types_raise_type_error():
    net = make_net()
    x_t, t, code = inputs(2, 4, 3)
    with pytest.raises(TypeError, match="x_t"):
        net(x_t.numpy(), t, code)
    with pytest.raises(TypeError, match="x_t"):
        net(x_t.long(), t, code)
    with pytest.raises(TypeError, match="t must be"):
        net(x_t, [0, 1], code)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"channel_mults": ()}, ValueError, "channel_mults"),
        ({"channel_mults": (1, 0)}, ValueError, "channel_mults"),
        ({"channels": 0}, ValueError, "channels"),
        ({"n_res_blocks": True}, TypeError, "n_res_blocks"),
        ({"dropout": -0.1}, ValueError, "dropout"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_net(**kwargs)
