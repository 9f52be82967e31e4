"""The PPCA baseline: the closed-form fit against oracles, codes and generation, files, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from neurognocchi.cli import main
from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI, PPCA
from neurognocchi.evaluation import evaluate, protocol_split
from neurognocchi.runs.directory import load_model

N_TIME, N_NEURONS, CODE_DIM = 4, 5, 3  # D = 20 features


def _structured(n_trials: int, seed: int = 0) -> np.ndarray:
    """Trials (n, N_TIME, N_NEURONS) with a few strong directions and per-neuron offsets."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(CODE_DIM, N_TIME * N_NEURONS))
    flat = 2.0 * rng.normal(size=(n_trials, CODE_DIM)) @ loadings
    flat += 0.3 * rng.normal(size=(n_trials, N_TIME * N_NEURONS))
    offsets = np.tile(np.arange(N_NEURONS, dtype=float), N_TIME)  # per-neuron means
    return (flat + offsets).reshape(n_trials, N_TIME, N_NEURONS)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return _structured(200)


@pytest.fixture(scope="module")
def fitted(data) -> PPCA:
    return PPCA(CODE_DIM).fit(data)


def _z_scored(model: PPCA, x: np.ndarray) -> np.ndarray:
    """Trials (..., T, N) in the model's z-scored units, flattened to (..., D)."""
    z = model.scaler_(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    return z.reshape(*x.shape[:-2], -1)


# ---------------------------------------------------------------------- the fit
@pytest.mark.parametrize("n_trials", [12, 200], ids=["fewer-trials-than-features", "more"])
def test_fit_is_the_maximum_likelihood_solution(n_trials):
    # Oracle: Tipping & Bishop's eqs. 7-8 from the eigendecomposition of the D x D covariance.
    x = _structured(n_trials, seed=1)
    model = PPCA(CODE_DIM).fit(x)
    flat = _z_scored(model, x)
    centred = flat - flat.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred / n_trials)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    sigma2 = eigenvalues[CODE_DIM:].sum() / (flat.shape[1] - CODE_DIM)
    u = vectors[:, :CODE_DIM]
    expected_wwt = u @ np.diag(eigenvalues[:CODE_DIM] - sigma2) @ u.T
    w = model.components_
    assert model.noise_variance_ == pytest.approx(sigma2, rel=1e-9)
    np.testing.assert_allclose(w @ w.T, expected_wwt, atol=1e-9 * eigenvalues[0])
    np.testing.assert_allclose(model.mean_, flat.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(model.explained_variance_, eigenvalues[:CODE_DIM], rtol=1e-9)
    gram = w.T @ w
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-9 * eigenvalues[0])


def test_fit_recovers_the_parameters_of_an_exact_ppca_model():
    # One neuron: z-scoring is then one affine map, under which the data stay an exact PPCA
    # with W / s and sigma^2 / s^2 (s the neuron's s.d.).
    rng = np.random.default_rng(0)
    n_time, sigma = 40, 0.5
    w_true = 2.0 * rng.normal(size=(n_time, CODE_DIM))
    mu = np.sin(np.linspace(0, 3, n_time))
    flat = mu + rng.normal(size=(3000, CODE_DIM)) @ w_true.T
    flat += sigma * rng.normal(size=flat.shape)
    model = PPCA(CODE_DIM).fit(flat[:, :, None])
    scale = float(model.scaler_.std[0])
    assert model.noise_variance_ * scale**2 == pytest.approx(sigma**2, rel=0.03)
    assert np.max(subspace_angles(model.components_, w_true)) < 0.02  # radians
    wwt = model.components_ @ model.components_.T * scale**2
    assert np.linalg.norm(wwt - w_true @ w_true.T) / np.linalg.norm(w_true @ w_true.T) < 0.1


@pytest.mark.parametrize("code_dim", [4, 5, 30])
def test_code_dim_not_below_the_rank_is_refused(code_dim):
    x = _structured(5)  # 5 trials: centred rank 4
    with pytest.raises(ValueError, match=rf"code_dim={code_dim} must be smaller than the rank 4"):
        PPCA(code_dim).fit(x)
    assert PPCA(3).fit(x).components_.shape == (N_TIME * N_NEURONS, 3)


def test_fit_on_trials_equals_fit_on_their_array():
    trials = make_toy_dataset(30, n_neurons=N_NEURONS, n_time=N_TIME, random_state=0)
    a, b = PPCA(CODE_DIM).fit(trials), PPCA(CODE_DIM).fit(trials.activity)
    np.testing.assert_array_equal(a.encode(trials), b.encode(trials.activity))


# ---------------------------------------------------------------------- codes and generation
def test_generate_has_the_conditional_distribution_given_the_code(fitted, data):
    codes = fitted.encode(data[:3])
    x = fitted.generate(codes, n_samples=4000, random_state=0)  # (3, K, T, N)
    # Every sample encodes back to its code: the noise lies off the columns of W ...
    recoded = fitted.encode(x.reshape(-1, N_TIME, N_NEURONS)).reshape(3, 4000, CODE_DIM)
    np.testing.assert_allclose(recoded, np.broadcast_to(codes[:, None], recoded.shape), atol=1e-4)
    # ... with variance sigma^2 in each of the other D - q directions.
    flat = _z_scored(fitted, x)
    residual = flat - flat.mean(axis=1, keepdims=True)
    total = (residual**2).sum(axis=-1).mean()
    expected = fitted.noise_variance_ * (N_TIME * N_NEURONS - CODE_DIM)
    assert total == pytest.approx(expected, rel=0.02)
    # The mean is Tipping & Bishop's reconstruction mu + W (W^T W)^-1 M c.
    w = fitted.components_
    m = w.T @ w + fitted.noise_variance_ * np.eye(CODE_DIM)
    mean = fitted.mean_ + codes @ np.linalg.solve(w.T @ w, m @ w.T)
    np.testing.assert_allclose(flat.mean(axis=1), mean, atol=0.02)


def test_sample_prior_has_the_model_covariance(fitted):
    x = fitted.sample_prior(20000, random_state=0)
    assert x.shape == (20000, N_TIME, N_NEURONS) and x.dtype == np.float32
    flat = _z_scored(fitted, x)
    w = fitted.components_
    model_cov = w @ w.T + fitted.noise_variance_ * np.eye(len(w))
    error = np.linalg.norm(np.cov(flat.T) - model_cov) / np.linalg.norm(model_cov)
    assert error < 0.05
    np.testing.assert_allclose(flat.mean(axis=0), fitted.mean_, atol=0.1)
    np.testing.assert_array_equal(
        fitted.sample_prior(5, random_state=1), fitted.sample_prior(5, random_state=1)
    )
    np.testing.assert_allclose(
        fitted.sample_prior(7, random_state=2, batch_size=3),
        fitted.sample_prior(7, random_state=2),
        atol=1e-5,
    )


def test_common_noise_makes_a_codes_samples_independent_of_the_others(fitted, data):
    codes = fitted.encode(data[:3])
    kwargs = {"n_samples": 4, "random_state": 3, "common_noise": True}
    alone = fitted.generate(codes[1:2], **kwargs)[0]
    np.testing.assert_array_equal(fitted.generate(codes, **kwargs)[1], alone)
    np.testing.assert_array_equal(fitted.generate(codes, batch_size=5, **kwargs)[1], alone)
    twice = fitted.generate(np.stack([codes[0], codes[0]]), **kwargs)
    np.testing.assert_array_equal(twice[0], twice[1])
    # Shared noise: two codes' samples differ by the difference of their conditional means.
    x = fitted.generate(codes, **kwargs)
    shift = _z_scored(fitted, x[0]) - _z_scored(fitted, x[1])  # (K, D)
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-4)
    for k, j in [(0, 1), (1, 2)]:
        assert not np.allclose(x[:, k], x[:, j])


def test_independent_noise_is_seeded_and_differs_between_codes(fitted, data):
    codes = np.stack([fitted.encode(data[:1])[0]] * 2)
    x = fitted.generate(codes, n_samples=2, random_state=0)
    np.testing.assert_array_equal(x, fitted.generate(codes, n_samples=2, random_state=0))
    assert not np.allclose(x[0], x[1])  # same code, own noise
    assert not np.allclose(x, fitted.generate(codes, n_samples=2, random_state=1))
    np.testing.assert_allclose(
        fitted.generate(codes, n_samples=2, random_state=0, batch_size=2), x, atol=1e-5
    )


@pytest.mark.parametrize(
    "codes",
    [np.zeros((2, CODE_DIM + 1)), np.array([[0.0, np.nan, 0.0]]), np.zeros(CODE_DIM)],
    ids=["wrong-dim", "nan", "1-d"],
)
def test_generate_rejects_bad_codes(fitted, codes):
    with pytest.raises(ValueError, match="codes"):
        fitted.generate(codes)


def test_encode_rejects_trials_of_another_shape(fitted):
    with pytest.raises(ValueError, match="X has shape"):
        fitted.encode(np.zeros((2, N_TIME + 1, N_NEURONS)))


# ---------------------------------------------------------------------- conventions and files
def test_parameters_are_checked_at_fit_not_in_init(data):
    assert PPCA(code_dim=-1, verbose="loud").get_params()["code_dim"] == -1
    for params, exc, name in [
        ({"code_dim": 0}, ValueError, "code_dim"),
        ({"random_state": 1.5}, TypeError, "random_state"),
        ({"verbose": "loud"}, TypeError, "verbose"),
    ]:
        with pytest.raises(exc, match=name):
            PPCA(**params).fit(data)
    with pytest.raises(TypeError):
        PPCA(3, 0)  # keyword-only after code_dim
    with pytest.raises(NotFittedError, match="fit"):
        clone(PPCA(CODE_DIM)).encode(data)


def test_save_load_round_trip(fitted, data, tmp_path):
    fitted.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["format"] == "neurognocchi.PPCA" and config["params"]["code_dim"] == CODE_DIM
    loaded = PPCA.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.encode(data), fitted.encode(data))
    codes = fitted.encode(data[:2])
    for kwargs in ({}, {"common_noise": True}):
        np.testing.assert_array_equal(
            loaded.generate(codes, n_samples=3, random_state=1, **kwargs),
            fitted.generate(codes, n_samples=3, random_state=1, **kwargs),
        )
    np.testing.assert_array_equal(
        loaded.sample_prior(4, random_state=0), fitted.sample_prior(4, random_state=0)
    )
    with pytest.raises(ValueError, match="GNOCCHI"):
        GNOCCHI.load(tmp_path / "model")


# ---------------------------------------------------------------------- protocol and CLI
def test_the_protocol_evaluates_a_fitted_ppca():
    trials = make_toy_dataset(120, n_neurons=8, n_time=20, random_state=0)
    model = PPCA(4).fit(trials[protocol_split(trials).train])
    result = evaluate(model, trials, n_samples=32)
    json.dumps(result, allow_nan=False)
    summary = result["summary"]
    assert result["config"]["model"] == "PPCA" and result["config"]["code_dim"] == 4
    # Seed 0: 0.62 (0.11 with 2 samples, whose mean keeps half the noise variance).
    assert 0.5 < summary["reconstruction_r2"] <= 1.0
    assert summary["code_r2_target_x"] > 0.8  # 0.88: the leading PCs carry the target


def test_cli_fits_and_generates_with_ppca(tmp_path):
    data, run = tmp_path / "toy.npz", tmp_path / "run"
    small = ["--n-trials", "40", "--n-neurons", "5", "--n-time", "8"]
    assert main(["synth", "toy", "--out", str(data), *small]) == 0
    fit = ["fit", str(data), "--out", str(run), "--model", "ppca", "--set", "code_dim=3"]
    assert main([*fit, "--quiet"]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["model"] == "ppca" and record["params"]["code_dim"] == 3
    model = load_model(run)
    assert isinstance(model, PPCA) and model.components_.shape == (40, 3)
    out = tmp_path / "prior.npz"
    assert main(["generate", str(run), "--prior", "6", "--out", str(out)]) == 0
    assert np.load(out)["samples"].shape == (6, 1, 8, 5)
