"""Spike statistics vs real counts (issue 18, item 1): hand-computed cases, the KL direction,
the spectrum peak, the Fréchet formula, the floors' halves and bad inputs."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest

from neurognocchi.evaluation.spike_features import (
    frechet_distance,
    pc1_spectra,
    pc1_spectrum_error,
    pca_frechet_distance,
)
from neurognocchi.evaluation.spike_stats import (
    KL_FLOOR,
    STATISTIC_KEYS,
    discrete_kl,
    isi_rmse,
    isi_statistics,
    pairwise_correlation_rmse,
    population_count_kl,
    rate_rmse,
    spike_floor,
    spike_statistics,
    spike_times,
)


def _poisson(seed: int, shape=(12, 40, 5), scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rates = (
        scale
        * rng.uniform(0.2, 1.5, size=shape[2])
        * (1.5 + np.sin(np.arange(shape[1]) / 4))[:, None]
    )
    return rng.poisson(np.broadcast_to(rates, shape))


# ---------------------------------------------------------------------- identical inputs
def test_identical_inputs_score_zero():
    counts = _poisson(0)
    assert population_count_kl(counts, counts) == 0.0
    assert pairwise_correlation_rmse(counts, counts) == 0.0
    isi = isi_rmse(counts, counts, bin_size_s=0.01)
    assert isi["mean_isi_rmse_s"] == 0.0 and isi["sd_isi_rmse_s"] == 0.0
    assert isi["isi_n_neurons"] == 5
    assert rate_rmse(counts, counts, bin_size_s=0.01) == {
        "mean_rate_rmse_hz": 0.0,
        "sd_rate_rmse_hz": 0.0,
    }
    assert pc1_spectrum_error(counts, counts, bin_size_s=0.01) == 0.0
    assert pca_frechet_distance(counts, counts, bin_size_s=0.01, n_components=1) == pytest.approx(
        0.0, abs=1e-6
    )


# ---------------------------------------------------------------------- population count KL
def test_discrete_kl_hand_computed_and_asymmetric():
    forward = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    backward = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert discrete_kl([0.5, 0.5], [0.9, 0.1]) == pytest.approx(forward, rel=1e-12)
    assert discrete_kl([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.5108, abs=1e-4)
    assert discrete_kl([0.9, 0.1], [0.5, 0.5]) == pytest.approx(backward, rel=1e-12)
    assert discrete_kl([1.0, 3.0], [2.0, 2.0]) == pytest.approx(
        discrete_kl([0.25, 0.75], [0.5, 0.5])
    )
    assert discrete_kl([1.0, 0.0], [0.0, 1.0]) == pytest.approx(-math.log(KL_FLOOR))  # floored q


def _scott_kde_on_integers(values: np.ndarray, n_max: int) -> np.ndarray:
    """Independent formula: Gaussian kernels of width n^(-1/5) * s.d. (ddof 1), sum-to-1 grid."""
    values = np.asarray(values, dtype=float)
    width = len(values) ** (-1 / 5) * values.std(ddof=1)
    grid = np.arange(n_max + 1)[:, None]
    density = np.exp(-((grid - values[None, :]) ** 2) / (2 * width**2)).sum(axis=1)
    return density / density.sum()


def test_population_count_kl_is_kl_of_model_from_data():
    generated = np.array([[0, 0], [0, 1], [1, 0], [2, 1]]).reshape(2, 2, 2)  # pops 0, 1, 1, 3
    real = np.array([[1, 1], [2, 0], [0, 2], [3, 0], [4, 0], [4, 0]]).reshape(
        2, 3, 2
    )  # pops 2,2,2,3,4,4
    p_model, p_data = (
        _scott_kde_on_integers([0, 1, 1, 3], 4),
        _scott_kde_on_integers([2, 2, 2, 3, 4, 4], 4),
    )
    forward = float(np.sum(p_model * np.log(p_model / p_data)))
    backward = float(np.sum(p_data * np.log(p_data / p_model)))
    assert abs(forward - backward) > 0.1  # the direction matters here
    assert population_count_kl(generated, real) == pytest.approx(forward, rel=1e-9)
    swapped = population_count_kl(real, generated)
    assert swapped == pytest.approx(backward, rel=1e-9)


def test_constant_population_counts_are_point_masses():
    ones, twos = np.ones((3, 2, 1)), np.full((2, 2, 1), 2)
    assert population_count_kl(ones, twos) == pytest.approx(12 * math.log(10))  # -ln 1e-12
    assert population_count_kl(twos, twos) == 0.0


# ---------------------------------------------------------------------- correlations
REAL_PAIR = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])  # r = 1
GENERATED_PAIR = np.array([[0, 0], [1, 1], [2, 0], [3, 1]])  # r = 1 / sqrt(5) by hand


def test_known_correlation_pair():
    expected = 1.0 - 1.0 / math.sqrt(5.0)
    generated, real = GENERATED_PAIR.reshape(1, 4, 2), REAL_PAIR.reshape(1, 4, 2)
    assert pairwise_correlation_rmse(generated, real) == pytest.approx(expected, rel=1e-12)
    # trials and bins are concatenated: the same bins split into two trials give the same value
    assert pairwise_correlation_rmse(
        GENERATED_PAIR.reshape(2, 2, 2), REAL_PAIR.reshape(2, 2, 2)
    ) == pytest.approx(expected, rel=1e-12)


def test_silent_neuron_is_excluded_and_counted():
    generated = np.concatenate([GENERATED_PAIR, np.zeros((4, 1))], axis=1).reshape(1, 4, 3)
    real = np.concatenate([REAL_PAIR, np.array([[1], [0], [3], [0]])], axis=1).reshape(1, 4, 3)
    expected = 1.0 - 1.0 / math.sqrt(5.0)
    assert pairwise_correlation_rmse(generated, real) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(
        pairwise_correlation_rmse(generated[:, :, 1:], real[:, :, 1:])
    )  # one pair left: no
    real_trials = _poisson(3, shape=(8, 20, 4))
    model = _poisson(4, shape=(6, 20, 4))
    model[:, :, 2] = 0
    stats = spike_statistics(model, real_trials, bin_size_s=0.01)
    assert stats["correlation_n_neurons"] == 3 and stats["correlation_n_neurons_floor"] == 4


# ---------------------------------------------------------------------- spike times and ISIs
def test_two_spikes_in_a_bin_are_placed_evenly():
    assert spike_times([0, 2], bin_size_s=0.5).tolist() == [0.625, 0.875]
    np.testing.assert_allclose(
        spike_times([0, 2], bin_size_s=0.5, placement="ldns"), [0.5 + 0.5 / 3, 0.5 + 1 / 3]
    )
    mean, sd, n_isis = isi_statistics(np.array([0, 2, 0, 1]).reshape(1, 4, 1), bin_size_s=0.5)
    # times 0.625, 0.875, 1.75: ISIs 0.25 and 0.875
    assert n_isis.tolist() == [2]
    assert mean[0] == pytest.approx(0.5625) and sd[0] == pytest.approx(0.3125)


def test_regular_train_has_known_isi_and_zero_sd_within_trials():
    counts = np.zeros((3, 5, 2))
    counts[:, [0, 2, 4], 0] = 1  # every other 10 ms bin; across trials the gap would be 10 ms
    counts[:, 1:4, 1] = 2  # 2 per bin: evenly spaced at bin / 2 with centred placement
    mean, sd, n_isis = isi_statistics(counts, bin_size_s=0.01)
    assert n_isis.tolist() == [6, 15]
    np.testing.assert_allclose(mean, [0.02, 0.005], rtol=1e-12)
    np.testing.assert_allclose(sd, [0.0, 0.0], atol=1e-15)
    # LDNS placement of 2 per bin: ISIs bin/3, 2bin/3, ... -> mean and s.d. by hand (2 bins)
    mean, sd, _ = isi_statistics(np.full((1, 2, 1), 2), bin_size_s=1.0, placement="ldns")
    assert mean[0] == pytest.approx(4 / 9) and sd[0] == pytest.approx(math.sqrt(2) / 9)


def test_isi_rmse_keeps_neurons_with_two_isis_in_both_sets():
    real = np.zeros((1, 6, 2))
    real[0, [0, 2, 4], :] = 1  # both neurons: 2 ISIs of 2 bins
    generated = real.copy()
    generated[0, :, 0] = [1, 0, 0, 0, 0, 1]  # 1 ISI only: excluded
    generated[0, :, 1] = [1, 1, 1, 0, 0, 0]  # ISIs 1, 1 bin: mean off by 1 bin, s.d. 0 in both
    result = isi_rmse(generated, real, bin_size_s=0.1)
    assert result["isi_n_neurons"] == 1
    assert result["mean_isi_rmse_s"] == pytest.approx(0.1) and result[
        "sd_isi_rmse_s"
    ] == pytest.approx(0.0)


# ---------------------------------------------------------------------- rates
def test_rate_rmse_hand_computed():
    real = np.array([[0, 4], [2, 0]]).reshape(1, 2, 2)  # Hz at 0.5 s: means 2, 4; s.d. 2, 4
    generated = np.zeros((3, 2, 2))
    result = rate_rmse(generated, real, bin_size_s=0.5)
    assert result["mean_rate_rmse_hz"] == pytest.approx(math.sqrt((4 + 16) / 2))
    assert result["sd_rate_rmse_hz"] == pytest.approx(math.sqrt((4 + 16) / 2))
    assert rate_rmse(real * 2, real, bin_size_s=0.5)["mean_rate_rmse_hz"] == pytest.approx(
        math.sqrt(10)
    )


# ---------------------------------------------------------------------- spectrum
def _sinusoid_counts(frequency_hz: float, seed: int, n_trials: int = 16) -> np.ndarray:
    t = np.arange(100) * 0.01  # 100 bins of 10 ms: frequencies on a 1 Hz grid to 50 Hz
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=(n_trials, 1))
    drive = 5 + 4 * np.sin(2 * np.pi * frequency_hz * t[None, :] + phase)
    return np.round(drive[:, :, None] * np.array([1.0, 0.5, 1.5])).astype(int)


def test_sinusoid_modulated_counts_peak_at_their_frequency():
    real, same, other = (
        _sinusoid_counts(7.0, 0),
        _sinusoid_counts(7.0, 1),
        _sinusoid_counts(15.0, 2),
    )
    spectra = pc1_spectra(other, real, bin_size_s=0.01, smoothing_s=0.01)
    positive = spectra["frequencies_hz"] > 0
    frequencies = spectra["frequencies_hz"][positive]
    assert frequencies[np.argmax(spectra["real"][positive])] == pytest.approx(7.0)
    assert frequencies[np.argmax(spectra["generated"][positive])] == pytest.approx(15.0)
    near = pc1_spectrum_error(same, real, bin_size_s=0.01, smoothing_s=0.01)
    far = pc1_spectrum_error(other, real, bin_size_s=0.01, smoothing_s=0.01)
    assert near < far


# ---------------------------------------------------------------------- Fréchet
def test_frechet_distance_of_1d_gaussians_is_the_textbook_formula():
    a, b = (
        np.array([[0.0], [2.0]]),
        np.array([[3.0], [4.0], [5.0]]),
    )  # means 1, 4; var (ddof 1) 2, 1
    expected = (1 - 4) ** 2 + 2 + 1 - 2 * math.sqrt(2) * 1
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_with_diagonal_covariances():
    signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)
    a = signs * [1.0, 2.0] + [1.0, -1.0]  # s.d. (ddof 1) 2/sqrt3, 4/sqrt3; mean (1, -1)
    b = signs * [3.0, 1.0]  # s.d. 2 sqrt3, 2/sqrt3; mean 0
    sd_a, sd_b = np.array([2, 4]) / math.sqrt(3), np.array([2 * math.sqrt(3), 2 / math.sqrt(3)])
    expected = 2.0 + float(np.sum((sd_a - sd_b) ** 2))  # = 2 + 20/3
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-12)


def test_pca_frechet_distance_grows_with_a_rate_change():
    real, twin = _poisson(5, shape=(30, 10, 4)), _poisson(6, shape=(30, 10, 4))
    louder = _poisson(7, shape=(30, 10, 4), scale=3.0)
    near = pca_frechet_distance(twin, real, bin_size_s=0.02, n_components=1)
    assert 0 < near < pca_frechet_distance(louder, real, bin_size_s=0.02, n_components=1)


# ---------------------------------------------------------------------- floors and entry point
def test_spike_floor_uses_two_disjoint_random_halves():
    real = np.broadcast_to(np.arange(7.0)[:, None, None], (7, 3, 2))  # trial i holds count i
    halves = spike_floor(real, lambda a, b: (a[:, 0, 0], b[:, 0, 0]), random_state=3)
    assert len(halves[0]) == 3 and len(halves[1]) == 4
    assert sorted(np.concatenate(halves).tolist()) == list(range(7))
    again = spike_floor(real, lambda a, b: (a[:, 0, 0], b[:, 0, 0]), random_state=3)
    assert all(np.array_equal(x, y) for x, y in zip(halves, again, strict=True))
    floor = spike_floor(_poisson(8), partial(rate_rmse, bin_size_s=0.01), random_state=0)
    assert floor["mean_rate_rmse_hz"] > 0


def test_spike_statistics_keys_zeros_and_floors():
    real = _poisson(9)
    stats = spike_statistics(real, real, bin_size_s=0.01)
    assert list(stats) == [*STATISTIC_KEYS, *(f"{key}_floor" for key in STATISTIC_KEYS)]
    for key in STATISTIC_KEYS:
        assert stats[key] == pytest.approx(0.0, abs=1e-6) or key.endswith("n_neurons")
        assert np.isfinite(stats[f"{key}_floor"])
    assert stats["population_count_kl_floor"] > 0 and stats["mean_rate_rmse_hz_floor"] > 0
    louder = spike_statistics(_poisson(10, scale=3.0), real, bin_size_s=0.01)
    assert louder["mean_rate_rmse_hz"] > louder["mean_rate_rmse_hz_floor"]
    assert louder["population_count_kl"] > louder["population_count_kl_floor"]


# ---------------------------------------------------------------------- bad inputs
GOOD = np.ones((4, 5, 3), dtype=int)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: population_count_kl(-GOOD, GOOD), "generated"),
        (lambda: pairwise_correlation_rmse(GOOD, GOOD * 0.5), "real"),
        (lambda: rate_rmse(GOOD[0], GOOD, bin_size_s=0.01), "generated"),
        (lambda: isi_rmse(GOOD, GOOD[:, :, :2], bin_size_s=0.01), "n_neurons"),
        (lambda: rate_rmse(GOOD, GOOD, bin_size_s=0.0), "bin_size_s"),
        (lambda: spike_statistics(GOOD, GOOD, bin_size_s=-0.01), "bin_size_s"),
        (lambda: spike_statistics(GOOD[:, :4], GOOD, bin_size_s=0.01), "n_time"),
        (lambda: spike_statistics(GOOD, GOOD[:3], bin_size_s=0.01), "real"),
        (lambda: spike_times(GOOD[0], bin_size_s=0.01), "counts"),
        (lambda: isi_statistics(GOOD, bin_size_s=0.01, placement="left"), "placement"),
        (lambda: spike_floor(GOOD[:1], population_count_kl), "real"),
        (lambda: frechet_distance(np.ones((3, 2)), np.ones((3, 1))), "n_features"),
        (lambda: frechet_distance(np.ones((1, 2)), np.ones((3, 2))), "a"),
        (lambda: pca_frechet_distance(GOOD, GOOD, bin_size_s=0.01, n_components=0), "n_components"),
        (lambda: discrete_kl([1.0, -1.0], [0.5, 0.5]), "p and q"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
