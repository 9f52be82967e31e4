"""The GNOCCHI estimator: scikit-learn conventions, fit/encode/generate, checks, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI
from neurognocchi.models import GnocchiModel
from neurognocchi.training import load_checkpoint

TINY = dict(
    code_dim=3,
    channels=8,
    channel_mults=(1, 2),
    encoder_dim=8,
    n_train_steps=50,
    sampler="ddim",  # the noise tests below are about DDIM's stochastic steps (eta)
    n_sample_steps=5,
    max_epochs=2,
    batch_size=8,
    verbose=False,
    random_state=0,
    device="cpu",
)
N_TIME, N_NEURONS = 12, 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trials():
    return make_toy_dataset(40, n_neurons=N_NEURONS, n_time=N_TIME, random_state=0)


@pytest.fixture(scope="module")
def fitted(trials):
    return GNOCCHI(**TINY).fit(trials)


# ---------------------------------------------------------------------- scikit-learn API
def test_get_params_set_params_and_clone():
    model = GNOCCHI(**TINY)
    params = model.get_params()
    assert params["code_dim"] == 3 and params["channel_mults"] == (1, 2)
    assert model.set_params(code_dim=5, max_epochs=7) is model
    assert model.code_dim == 5 and model.max_epochs == 7
    copy = clone(model)
    assert copy is not model
    assert copy.get_params() == model.get_params()
    with pytest.raises(ValueError):
        model.set_params(no_such_parameter=1)


def test_clone_of_fitted_estimator_is_unfitted(fitted):
    copy = clone(fitted)
    assert not hasattr(copy, "model_")
    with pytest.raises(NotFittedError):
        copy.encode(np.zeros((2, N_TIME, N_NEURONS)))


def test_constructor_arguments_after_code_dim_are_keyword_only():
    with pytest.raises(TypeError):
        GNOCCHI(3, 10)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.encode(np.zeros((2, N_TIME, N_NEURONS))),
        lambda m: m.generate(np.zeros((1, 3))),
        lambda m: m.sample_prior(2),
        lambda m: m.save("never-written"),
    ],
    ids=["encode", "generate", "sample_prior", "save"],
)
def test_methods_before_fit_raise_not_fitted(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFittedError, match="fit"):
        call(GNOCCHI(**TINY))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- fit / encode
def test_fit_on_trials_sets_fitted_attributes(fitted):
    assert len(fitted.history_) == 2
    assert fitted.best_epoch_ in (1, 2)
    assert fitted.fit_seconds_ > 0
    assert fitted.device_ == torch.device("cpu")
    assert "valid_loss" in fitted.history_[-1]


def test_select_on_mmd_keeps_the_epoch_of_the_lowest_validation_code_mmd(trials):
    model = GNOCCHI(**(TINY | {"max_epochs": 4, "select_on": "mmd"})).fit(trials)
    mmd = [row["valid_mmd"] for row in model.history_]
    assert model.best_epoch_ == int(np.argmin(mmd)) + 1
    with pytest.raises(ValueError, match="select_on"):
        GNOCCHI(**(TINY | {"select_on": "score"})).fit(trials)


def test_fit_on_raw_array(trials):
    model = GNOCCHI(**(TINY | {"max_epochs": 1})).fit(trials.activity.astype(np.float64))
    codes = model.encode(trials.activity)
    assert codes.shape == (40, 3)
    assert np.all(np.isfinite(codes))


def test_encode_shape_and_accepts_arrays(fitted, trials):
    codes = fitted.encode(trials)
    assert codes.shape == (trials.n_trials, 3)
    assert codes.dtype == np.float32
    np.testing.assert_array_equal(fitted.encode(trials.activity), codes)
    np.testing.assert_allclose(fitted.encode(trials.activity, batch_size=7), codes, atol=1e-5)
    assert np.unique(codes.round(5), axis=0).shape[0] > 1  # codes differ between trials


def test_transform_is_encode_so_the_estimator_fits_in_a_pipeline(fitted, trials):
    np.testing.assert_array_equal(fitted.transform(trials), fitted.encode(trials))
    target = trials.trial_info["target_x"]
    pipeline = make_pipeline(GNOCCHI(**(TINY | {"max_epochs": 1})), Ridge())
    predicted = pipeline.fit(trials.activity, target).predict(trials.activity)
    assert predicted.shape == (trials.n_trials,)
    assert pipeline[0].encode(trials).shape == (trials.n_trials, 3)


@pytest.mark.parametrize(
    "X",
    [
        np.zeros((3, N_TIME, N_NEURONS + 1)),
        np.zeros((3, N_TIME + 2, N_NEURONS)),
        np.zeros((N_TIME, N_NEURONS)),
    ],
    ids=["neurons", "time", "rank"],
)
def test_encode_rejects_wrong_shape(fitted, X):
    with pytest.raises(ValueError, match="X"):
        fitted.encode(X)


def test_same_random_state_gives_identical_codes_and_samples(trials):
    a = GNOCCHI(**TINY).fit(trials)
    b = GNOCCHI(**TINY).fit(trials)
    codes_a, codes_b = a.encode(trials), b.encode(trials)
    np.testing.assert_array_equal(codes_a, codes_b)
    np.testing.assert_array_equal(
        a.generate(codes_a[:3], n_samples=2, random_state=1),
        b.generate(codes_b[:3], n_samples=2, random_state=1),
    )
    c = GNOCCHI(**(TINY | {"random_state": 1})).fit(trials)
    assert not np.allclose(c.encode(trials), codes_a)


def test_fit_leaves_global_torch_rng_alone(trials):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    GNOCCHI(**(TINY | {"max_epochs": 1})).fit(trials)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------- generate
def test_generate_shape_and_seeds(fitted, trials):
    codes = fitted.encode(trials)[:3]
    x = fitted.generate(codes, n_samples=2, random_state=0)
    assert x.shape == (3, 2, N_TIME, N_NEURONS)
    assert np.all(np.isfinite(x))
    np.testing.assert_array_equal(fitted.generate(codes, n_samples=2, random_state=0), x)
    other = fitted.generate(codes, n_samples=2, random_state=1)
    assert not np.allclose(other, x)
    assert not np.allclose(x[:, 0], x[:, 1])  # each sample has its own starting noise
    listed = fitted.generate(codes.tolist(), n_samples=2, random_state=0)
    np.testing.assert_allclose(listed, x, atol=1e-6)


def test_generate_is_in_data_units(fitted, trials):
    x = fitted.generate(np.zeros((4, 3)), n_samples=2, random_state=0)
    scale = np.abs(trials.activity).max()
    assert np.abs(x).max() < 10 * scale
    assert abs(x.mean() - trials.activity.mean()) < trials.activity.std() * 3


def test_sample_prior_shape_and_determinism(fitted):
    x = fitted.sample_prior(3, random_state=0)
    assert x.shape == (3, N_TIME, N_NEURONS)
    np.testing.assert_array_equal(fitted.sample_prior(3, random_state=0), x)
    assert not np.allclose(fitted.sample_prior(3, random_state=1), x)
    with pytest.raises(ValueError, match="n"):
        fitted.sample_prior(0)


@pytest.mark.parametrize(
    "codes",
    [np.zeros((2, 4)), np.array([[0.0, np.nan, 0.0]]), np.array([[np.inf, 0, 0]]), np.zeros(3)],
    ids=["wrong-dim", "nan", "inf", "1-d"],
)
def test_generate_rejects_bad_codes(fitted, codes):
    with pytest.raises(ValueError, match="codes"):
        fitted.generate(codes)


@pytest.mark.parametrize("n_steps", [0, -1, 51])
def test_generate_rejects_n_steps_out_of_range(fitted, n_steps):
    with pytest.raises(ValueError, match="n_steps"):
        fitted.generate(np.zeros((1, 3)), n_steps=n_steps)


def test_generate_accepts_n_steps_at_n_train_steps(fitted):
    x = fitted.generate(np.zeros((1, 3)), n_steps=50, random_state=0)
    assert x.shape == (1, 1, N_TIME, N_NEURONS)


@pytest.mark.parametrize("n_samples", [0, -2, 1.5, True])
def test_generate_rejects_bad_n_samples(fitted, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        fitted.generate(np.zeros((1, 3)), n_samples=n_samples)


# ---------------------------------------------------------------------- save / load
def test_save_load_round_trip(fitted, trials, tmp_path):
    fitted.save(tmp_path / "model")
    assert {p.name for p in (tmp_path / "model").iterdir()} >= {"config.json", "weights.pt"}
    loaded = GNOCCHI.load(tmp_path / "model")
    codes = fitted.encode(trials)
    np.testing.assert_array_equal(loaded.encode(trials), codes)
    np.testing.assert_array_equal(
        loaded.generate(codes[:2], n_samples=2, random_state=3),
        fitted.generate(codes[:2], n_samples=2, random_state=3),
    )
    assert loaded.history_ == fitted.history_
    assert loaded.code_dim == 3 and tuple(loaded.channel_mults) == (1, 2)


def _rewrite_config(path, **changes):
    config = json.loads((path / "config.json").read_text())
    config.update(changes)
    (path / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "changes", [{"format": "neurognocchi.LFADS"}, {"version": 999}, {"format": "something"}]
)
def test_load_rejects_other_class_or_version(fitted, tmp_path, changes):
    fitted.save(tmp_path)
    _rewrite_config(tmp_path, **changes)
    with pytest.raises(ValueError, match="GNOCCHI"):
        GNOCCHI.load(tmp_path)


def test_load_of_directory_without_config_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        GNOCCHI.load(tmp_path)


# ---------------------------------------------------------------------- devices, splits
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_device_auto_resolves_to_cpu(trials):
    model = GNOCCHI(**(TINY | {"device": "auto", "max_epochs": 1})).fit(trials)
    assert model.device_ == torch.device("cpu")
    assert next(model.model_.parameters()).device == torch.device("cpu")


@pytest.mark.parametrize("device", ["gpu", "banana"])
def test_bad_device_string_raises(trials, device, tmp_path):
    with pytest.raises(ValueError, match="device"):
        GNOCCHI(**(TINY | {"device": device})).fit(trials, run_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_raises(trials):
    with pytest.raises(ValueError, match="CUDA"):
        GNOCCHI(**(TINY | {"device": "cuda"})).fit(trials)


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5])
def test_valid_fraction_out_of_range_raises(trials, fraction):
    with pytest.raises(ValueError, match="valid_fraction"):
        GNOCCHI(**(TINY | {"valid_fraction": fraction})).fit(trials)


def test_valid_fraction_zero_trains_without_validation(trials):
    model = GNOCCHI(**(TINY | {"valid_fraction": 0.0, "max_epochs": 1})).fit(trials)
    assert "valid_loss" not in model.history_[0]
    assert model.best_epoch_ is None


def test_explicit_validation_trials_are_used(trials):
    model = GNOCCHI(**(TINY | {"max_epochs": 1})).fit(trials[:30], valid=trials[30:])
    assert "valid_loss" in model.history_[0]


def test_random_state_must_be_an_int(trials):
    with pytest.raises(TypeError, match="random_state"):
        GNOCCHI(**(TINY | {"random_state": 1.5})).fit(trials)


def test_fit_on_few_trials_with_default_valid_fraction(trials):
    few = trials[:12]
    try:
        model = GNOCCHI(**TINY).fit(few)
    except ValueError as error:
        assert "valid" in str(error)
    else:
        assert len(model.history_) == 2


@pytest.mark.parametrize("shape", [(5, N_TIME, N_NEURONS - 1), (5, N_TIME - 2, N_NEURONS)])
def test_fit_rejects_validation_trials_of_another_shape(trials, tmp_path, shape):
    with pytest.raises(ValueError, match="valid"):
        GNOCCHI(**TINY).fit(trials, valid=np.ones(shape), run_dir=tmp_path)
    assert not (tmp_path / "checkpoints").exists()


# ---------------------------------------------------------------------- run_dir / resume
def test_fit_with_run_dir_resumes_to_the_uninterrupted_result(trials, tmp_path, monkeypatch):
    # The default warm-up (200 steps) spans these runs, so max_epochs does not change the LR.
    full = GNOCCHI(**TINY).fit(trials, run_dir=tmp_path / "full")
    assert load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["epoch"] == 2
    assert (tmp_path / "full" / "history.json").exists()

    part = GNOCCHI(**(TINY | {"max_epochs": 1})).fit(trials, run_dir=tmp_path / "part")
    assert len(part.history_) == 1
    with pytest.raises(FileExistsError):
        GNOCCHI(**TINY).fit(trials, run_dir=tmp_path / "part")
    steps_run = []
    original_loss = GnocchiModel.loss

    def spy_loss(self, x, *, generator=None, step=0):
        if self.training:
            steps_run.append(step)
        return original_loss(self, x, generator=generator, step=step)

    monkeypatch.setattr(GnocchiModel, "loss", spy_loss)
    resumed = GNOCCHI(**TINY).fit(trials, run_dir=tmp_path / "part", resume=True)
    steps_per_epoch = full.history_[0]["step"]
    assert steps_run == list(range(steps_per_epoch, 2 * steps_per_epoch))  # only epoch 2
    assert len(resumed.history_) == 2
    assert resumed.history_ == full.history_
    np.testing.assert_array_equal(resumed.encode(trials), full.encode(trials))


def test_codes_are_whitened_on_the_training_trials(trials):
    fitted = GNOCCHI(**(TINY | {"valid_fraction": 0.0})).fit(trials)
    codes = fitted.encode(trials)
    np.testing.assert_allclose(codes.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.cov(codes.T), np.eye(3), atol=1e-3)
    raw = GNOCCHI(**(TINY | {"valid_fraction": 0.0, "whiten_codes": False})).fit(trials)
    raw_codes = raw.encode(trials)
    # Same weights, codes differ by an affine map: an exact linear fit from raw to whitened.
    design = np.column_stack([raw_codes, np.ones(len(raw_codes))])
    residual = codes - design @ np.linalg.lstsq(design, codes, rcond=None)[0]
    assert np.abs(residual).max() < 1e-4
    assert np.abs(raw_codes - codes).max() > 1e-2
    with pytest.raises(TypeError, match="whiten_codes"):
        GNOCCHI(whiten_codes="yes").check_params()


# ---------------------------------------------------------------------- common random numbers
SAMPLERS = {
    "ddim": {},
    "ddim-eta": {"eta": 0.5},
    "ddpm": {"method": "ddpm", "n_steps": 50},
    "unipc": {"method": "unipc"},
}


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_common_noise_samples_of_a_code_do_not_depend_on_the_other_codes(fitted, trials, sampler):
    codes = fitted.encode(trials)[:3]
    kwargs = SAMPLERS[sampler] | {"n_samples": 3, "random_state": 5, "common_noise": True}
    alone = fitted.generate(codes[1:2], **kwargs)[0]  # (K, T, N)
    close = {"rtol": 1e-4, "atol": 1e-4 * np.abs(alone).max()}  # float32 rounding of a batch
    together = fitted.generate(codes, **kwargs)
    np.testing.assert_allclose(together[1], alone, **close)
    # Other batchings (c1's rows split across batches, with other codes' rows in them) give
    # each sample k the same noise too, and alone the same batches give the same numbers.
    for batch_size in (2, 4):
        batched = fitted.generate(codes[::-1], batch_size=batch_size, **kwargs)
        np.testing.assert_allclose(batched[1], alone, **close)
        np.testing.assert_array_equal(
            fitted.generate(codes[::-1], batch_size=batch_size, **kwargs), batched
        )


def test_without_common_noise_a_codes_samples_depend_on_the_codes_before_it(fitted, trials):
    codes = fitted.encode(trials)[:3]
    kwargs = {"n_samples": 3, "random_state": 5}
    alone = fitted.generate(codes[1:2], **kwargs)[0]
    assert not np.allclose(fitted.generate(codes, **kwargs)[1], alone)


def test_common_noise_gives_identical_codes_identical_samples(fitted, trials):
    code = fitted.encode(trials)[:1]
    twice = np.concatenate([code, code])
    for eta in (0.0, 0.5):
        shared = fitted.generate(twice, n_samples=2, eta=eta, random_state=0, common_noise=True)
        np.testing.assert_array_equal(shared[0], shared[1])
        fresh = fitted.generate(twice, n_samples=2, eta=eta, random_state=0)
        assert not np.allclose(fresh[0], fresh[1])


def test_common_noise_is_seeded_and_differs_between_sample_indices(fitted, trials):
    codes = fitted.encode(trials)[:2]
    x = fitted.generate(codes, n_samples=3, eta=0.5, random_state=1, common_noise=True)
    again = fitted.generate(codes, n_samples=3, eta=0.5, random_state=1, common_noise=True)
    np.testing.assert_array_equal(x, again)
    other = fitted.generate(codes, n_samples=3, eta=0.5, random_state=2, common_noise=True)
    assert not np.allclose(x, other)
    for k, j in [(0, 1), (0, 2), (1, 2)]:
        assert not np.allclose(x[:, k], x[:, j])
    with pytest.raises(TypeError, match="common_noise"):
        fitted.generate(codes, common_noise="yes")


def test_default_generate_is_the_independent_noise_path(fitted, trials):
    codes = fitted.encode(trials)[:2]
    default = fitted.generate(codes, n_samples=2, eta=0.5, random_state=3)
    explicit = fitted.generate(codes, n_samples=2, eta=0.5, random_state=3, common_noise=False)
    np.testing.assert_array_equal(default, explicit)
    # The first code's samples are the first rows of the batch: sample(), seeded as before.
    generator = torch.Generator().manual_seed(3)
    rows = torch.from_numpy(np.repeat(codes, 2, axis=0))
    with torch.no_grad():
        direct = fitted.model_.generate(
            rows, n_steps=5, method=fitted.sampler, eta=0.5, generator=generator
        )
    np.testing.assert_array_equal(default.reshape(direct.shape), direct.numpy())
