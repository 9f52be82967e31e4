"""Tests of neurognocchi.nn.encoder.ConvTrialEncoder (tiny widths to stay fast)."""

import json

import pytest
import torch

from neurognocchi.nn import ConvTrialEncoder


def make_encoder(n_neurons=3, code_dim=4, **kwargs):
    torch.manual_seed(0)
    return ConvTrialEncoder(n_neurons, code_dim=code_dim, **{"channels": 8, "groups": 2, **kwargs})


def trials(n_batch, n_time, n_neurons):
    return torch.randn(n_batch, n_time, n_neurons, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("n_neurons", [1, 3, 13])
@pytest.mark.parametrize("n_time", [1, 7, 37, 64])
def test_code_shape(n_time, n_neurons):
    code = make_encoder(n_neurons)(trials(2, n_time, n_neurons))
    assert code.shape == (2, 4)
    assert torch.isfinite(code).all()


def test_deterministic():
    encoder = make_encoder()
    x = trials(3, 20, 3)
    encoder.train()  # no dropout or sampling, even in training mode
    torch.testing.assert_close(encoder(x), encoder(x), rtol=0, atol=0)


@pytest.mark.parametrize("n_time", [2, 7, 37, 64])
@pytest.mark.parametrize("n_layers", [1, 3, 5])
def test_code_depends_on_start_and_end_of_trial(n_time, n_layers):
    encoder = make_encoder(n_layers=n_layers)
    x = trials(2, n_time, 3)
    code = encoder(x)
    for index in (0, -1):
        perturbed = x.clone()
        perturbed[:, index] += 1.0
        assert not torch.allclose(encoder(perturbed), code, atol=1e-6), index


def test_gradients_reach_every_parameter():
    encoder = make_encoder()
    encoder(trials(4, 16, 3)).pow(2).sum().backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_config_round_trip():
    encoder = make_encoder(n_neurons=5, code_dim=2, kernel_size=3)
    config = json.loads(json.dumps(encoder.config))
    rebuilt = type(encoder)(**config)
    rebuilt.load_state_dict(encoder.state_dict())
    x = trials(2, 11, 5)
    torch.testing.assert_close(rebuilt(x), encoder(x))


@pytest.mark.parametrize(
    ("shape", "match"),
    [((2, 7), "x must have shape"), ((2, 7, 4), "N = 3"), ((2, 0, 3), "T >= 1")],
)
def test_bad_shapes_raise_value_error(shape, match):
    with pytest.raises(ValueError, match=match):
        make_encoder()(torch.randn(shape))


def test_bad_arguments():
    with pytest.raises(TypeError, match="x"):
        make_encoder()(torch.zeros(2, 7, 3, dtype=torch.long))
    for kernel_size in (1, 4):
        with pytest.raises(ValueError, match="kernel_size"):
            make_encoder(kernel_size=kernel_size)
    with pytest.raises(ValueError, match="code_dim"):
        make_encoder(code_dim=0)


# ---------------------------------------------------------------------- GRU encoder
@pytest.mark.parametrize("n_time", [1, 7, 20])
def test_gru_encoder_shapes_determinism_and_whole_trial_dependence(n_time):
    from neurognocchi.nn import GRUTrialEncoder

    torch.manual_seed(0)
    encoder = GRUTrialEncoder(5, code_dim=3, hidden=8)
    x = torch.randn(4, n_time, 5)
    code = encoder(x)
    assert code.shape == (4, 3)
    assert torch.equal(code, encoder(x))
    for index in (0, -1):
        changed = x.clone()
        changed[:, index] += 1.0
        assert not torch.allclose(encoder(changed), code)


def test_gru_encoder_gradients_reach_every_parameter_and_config_round_trip():
    from neurognocchi.nn import GRUTrialEncoder

    encoder = GRUTrialEncoder(5, code_dim=3, hidden=8)
    encoder(torch.randn(4, 9, 5)).pow(2).sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    rebuilt = GRUTrialEncoder(**encoder.config)
    rebuilt.load_state_dict(encoder.state_dict())
    x = torch.randn(2, 6, 5)
    assert torch.equal(rebuilt(x), encoder(x))


def test_gru_encoder_rejects_wrong_neuron_count():
    from neurognocchi.nn import GRUTrialEncoder

    with pytest.raises(ValueError, match="x"):
        GRUTrialEncoder(5, code_dim=3)(torch.randn(2, 4, 6))
