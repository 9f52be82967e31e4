"""Tests of neurognocchi.diffusion.schedules (pure beta schedules)."""

import math

import numpy as np
import pytest

from neurognocchi.diffusion import cosine_betas, linear_betas, make_betas


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("n_steps", [1, 2, 20, 1000])
def test_betas_shape_dtype_range_and_monotone_abar(schedule, n_steps):
    betas = make_betas(schedule, n_steps)
    assert betas.shape == (n_steps,)
    assert betas.dtype == np.float64
    assert np.all(betas > 0.0) and np.all(betas < 1.0)
    abar = np.cumprod(1.0 - betas)
    assert np.all(np.diff(abar) < 0.0)


def test_linear_endpoints_exact():
    betas = linear_betas(1000, beta_start=1e-4, beta_end=0.02)
    assert betas[0] == 1e-4
    assert betas[-1] == 0.02
    np.testing.assert_allclose(np.diff(betas), (0.02 - 1e-4) / 999, rtol=1e-9)


def test_cosine_abar_matches_formula():
    n_steps, offset = 1000, 0.008
    betas = cosine_betas(n_steps, offset=offset, max_beta=0.999)
    abar = np.cumprod(1.0 - betas)

    def f(u):
        return math.cos((u + offset) / (1.0 + offset) * math.pi / 2.0) ** 2

    expected = np.array([f((i + 1) / n_steps) / f(0.0) for i in range(n_steps)])
    # The clip at max_beta only bites on the final steps, where abar is ~0 anyway.
    unclipped = betas < 0.999
    assert unclipped.sum() >= n_steps - 2
    np.testing.assert_allclose(abar[unclipped], expected[unclipped], rtol=1e-9)
    assert betas[-1] == 0.999


def test_make_betas_dispatches_with_kwargs():
    np.testing.assert_array_equal(
        make_betas("linear", 10, beta_start=1e-3, beta_end=0.05),
        linear_betas(10, beta_start=1e-3, beta_end=0.05),
    )
    np.testing.assert_array_equal(make_betas("cosine", 10), cosine_betas(10))


def test_make_betas_unknown_schedule_names_choices():
    with pytest.raises(ValueError, match=r"schedule.*'quadratic'") as info:
        make_betas("quadratic", 10)
    assert "linear" in str(info.value) and "cosine" in str(info.value)


@pytest.mark.parametrize("fn", [linear_betas, cosine_betas])
@pytest.mark.parametrize("bad", [0, -3])
def test_bad_n_steps_value(fn, bad):
    with pytest.raises(ValueError, match="n_steps"):
        fn(bad)


@pytest.mark.parametrize("bad", [2.0, "10", True])
def test_bad_n_steps_type(bad):
    with pytest.raises(TypeError, match="n_steps"):
        make_betas("linear", bad)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"beta_start": 0.02, "beta_end": 0.01}, "beta_start"),
        ({"beta_start": 0.0}, "beta_start"),
        ({"beta_end": 1.0}, "beta_end"),
    ],
)
def test_linear_bad_betas(kwargs, name):
    with pytest.raises(ValueError, match=name):
        linear_betas(10, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"offset": -0.1}, "offset"), ({"max_beta": 1.0}, "max_beta")]
)
def test_cosine_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        cosine_betas(10, **kwargs)
