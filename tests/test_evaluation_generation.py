"""Model output on equal terms: the data's smoothing, samplers vs rate models, common noise."""

import numpy as np
import pytest
from scipy import stats

from neurognocchi.data import make_reaching_dataset
from neurognocchi.data.preprocess import gaussian_smooth
from neurognocchi.evaluation import evaluate, protocol_split
from neurognocchi.evaluation.generation import (
    Smoothing,
    generate_activity,
    infer_smoothing,
    output_kind,
    poisson_inverse_cdf,
)


@pytest.fixture(scope="module")
def trials():
    return make_reaching_dataset(120, n_neurons=8, n_time=60, bin_size_s=0.04, random_state=0)


def test_infer_smoothing_finds_the_kernel_that_made_activity(trials):
    assert infer_smoothing(trials) == Smoothing(0.05, 0.04)  # the dataset's default kernel
    resmoothed = gaussian_smooth(trials.spikes, sigma_s=0.1, bin_size_s=0.04) / 0.04
    assert infer_smoothing(trials.replace(activity=resmoothed)).sigma_s == 0.1
    raw = trials.replace(activity=trials.spikes / 0.04)
    assert infer_smoothing(raw).sigma_s == 0.0
    noisy = trials.replace(activity=trials.activity + 1.0)  # not made from the spikes
    assert infer_smoothing(noisy) is None
    assert infer_smoothing(trials.replace(spikes=None)) is None


def test_poisson_inverse_cdf_equals_scipy():
    rng = np.random.default_rng(0)
    uniforms, means = rng.random(20_000), rng.gamma(1.0, 2.0, 20_000)
    expected = stats.poisson.ppf(uniforms, means)
    np.testing.assert_array_equal(poisson_inverse_cdf(uniforms, means), expected)
    assert poisson_inverse_cdf(np.array([0.5]), np.array([0.0])).tolist() == [0.0]


class Rates:
    """A deterministic rate model: the code's first entry (Hz) in every bin and neuron."""

    output_kind = "rates"

    def generate(self, codes, *, n_samples=1, random_state=None, common_noise=False):
        rates = np.broadcast_to(
            np.asarray(codes)[:, :1, None, None], (len(codes), n_samples, 30, 4)
        )
        return np.array(rates, dtype=float)


def test_rate_model_mean_is_smoothed_rates_and_samples_are_poisson():
    smoothing = Smoothing(0.05, 0.02)
    codes = np.array([[10.0], [10.0], [40.0]])
    out = generate_activity(
        Rates(), codes, n_samples=64, random_state=0, common_noise=True, smoothing=smoothing
    )
    assert out.samples.shape == (3, 64, 30, 4) and out.rates.shape == (3, 30, 4)
    np.testing.assert_allclose(out.mean, smoothing.apply(out.rates))
    np.testing.assert_array_equal(out.samples[0], out.samples[1])  # common noise, same rates
    assert np.all(out.samples[2] >= out.samples[0] - 1e-9)  # larger rates, never fewer counts
    assert out.samples[2].mean() == pytest.approx(40.0, rel=0.1)  # Hz, like the data
    fresh = generate_activity(
        Rates(), codes, n_samples=64, random_state=0, common_noise=False, smoothing=smoothing
    )
    assert not np.array_equal(fresh.samples[0], fresh.samples[1])
    unknown = generate_activity(Rates(), codes, n_samples=2, random_state=0, smoothing=None)
    np.testing.assert_array_equal(unknown.samples[:, 1], unknown.rates)  # used as returned


def test_output_kind_must_be_known():
    assert output_kind(object()) == "samples"
    with pytest.raises(ValueError, match="output_kind"):
        output_kind(type("Odd", (), {"output_kind": "spikes"})())


def test_evaluate_without_truth_or_spikes_uses_activity_and_condition_means(trials):
    from test_evaluation_fairness import Oracle

    model = Oracle(trials)
    plain = trials.replace(truth=None, spikes=None)
    split = protocol_split(plain, random_state=0)
    result = evaluate(model, plain, split=split, n_samples=4, n_sampling_seeds=2)
    assert result["config"]["reference"] == "activity"
    assert result["config"]["smoothing_sigma_s"] is None
    assert result["floors"]["noise_free_source"] == "condition means"
    assert "conditional_spikes_corr_rmse" not in result["summary"]
    with pytest.raises(ValueError, match="smooth_sigma_s"):
        evaluate(model, plain, split=split, smooth_sigma_s=-1.0)
