"""Binning spike times, rebinning counts and Gaussian smoothing, against hand-computed arrays."""

from __future__ import annotations

import numpy as np
import pytest

from neurognocchi.data import bin_spike_times, gaussian_kernel, gaussian_smooth, rebin

A = np.exp(-0.5)  # Gaussian weight one s.d. away from the centre


# ---------------------------------------------------------------------- bin_spike_times


def test_bin_spike_times_edges_and_window():
    # Window [1.0, 1.5) in 5 bins of 0.1 s: edges at 1.0, 1.1, 1.2, 1.3, 1.4, stop at 1.5.
    spike_times = [
        np.array([0.95, 1.0, 1.1, 1.15, 1.3, 1.4999, 1.5, 1.7]),  # 0.95, 1.5, 1.7 dropped
        np.array([]),
        np.array([1.2, 1.2, 1.05]),
    ]
    counts = bin_spike_times(spike_times, t_start=1.0, t_stop=1.5, bin_size_s=0.1)
    expected = np.array(
        [
            [1, 0, 1],
            [2, 0, 0],
            [0, 0, 2],
            [1, 0, 0],
            [1, 0, 0],
        ]
    )
    assert counts.shape == (5, 3)
    assert counts.dtype == np.int32
    assert np.array_equal(counts, expected)


def test_bin_spike_times_every_edge_goes_to_the_bin_it_starts():
    bin_size_s, t_start, n_bins = 0.02, -0.2, 50
    edges = t_start + np.arange(n_bins + 1) * bin_size_s  # includes t_stop itself
    counts = bin_spike_times(
        [edges], t_start=t_start, t_stop=t_start + n_bins * bin_size_s, bin_size_s=bin_size_s
    )
    assert np.array_equal(counts[:, 0], np.ones(n_bins))


def test_bin_spike_times_accepts_lists():
    counts = bin_spike_times([[0.0, 0.25], [0.75]], t_start=0.0, t_stop=1.0, bin_size_s=0.5)
    assert np.array_equal(counts, [[2, 0], [0, 1]])


@pytest.mark.parametrize(
    ("t_start", "t_stop", "bin_size_s", "match"),
    [
        (0.0, 1.0, 0.3, "not a whole number of bins"),
        (0.0, 0.25, 0.1, "not a whole number of bins"),
        (1.0, 1.0, 0.1, "t_stop must be after t_start"),
        (1.0, 0.5, 0.1, "t_stop must be after t_start"),
        (0.0, 1.0, 0.0, "bin_size_s must be a positive"),
        (0.0, 1.0, -0.1, "bin_size_s must be a positive"),
        (0.0, 1.0, np.nan, "bin_size_s must be a positive"),
    ],
)
def test_bin_spike_times_bad_window(t_start, t_stop, bin_size_s, match):
    with pytest.raises(ValueError, match=match):
        bin_spike_times([np.array([0.1])], t_start=t_start, t_stop=t_stop, bin_size_s=bin_size_s)


# ---------------------------------------------------------------------- rebin


def test_rebin_sums_pairs_along_time_of_2d():
    counts = np.array([[1, 0], [2, 5], [0, 1], [3, 3], [4, 0], [0, 2]])
    expected = np.array([[3, 5], [3, 4], [4, 2]])
    assert np.array_equal(rebin(counts, 2), expected)


def test_rebin_3d_default_axis_is_time():
    counts = np.arange(2 * 6 * 3).reshape(2, 6, 3)
    out = rebin(counts, 3)
    assert out.shape == (2, 2, 3)
    # Trial 0, neuron 0: bins 0..2 hold 0, 3, 6 -> 9; bins 3..5 hold 9, 12, 15 -> 36.
    assert out[0, :, 0].tolist() == [9, 36]
    # Trial 1, neuron 2: values 20 + 3t for t=0..5 -> 20+23+26, 29+32+35.
    assert out[1, :, 2].tolist() == [69, 96]


def test_rebin_other_axis_and_factor_one():
    counts = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert np.array_equal(rebin(counts, 2, axis=1), [[3, 7], [11, 15]])
    assert np.array_equal(rebin(counts, 1), counts)


def test_rebin_non_multiple():
    with pytest.raises(ValueError, match="not a multiple of factor=4"):
        rebin(np.zeros((10, 2)), 4)


@pytest.mark.parametrize("factor", [0, -2, 2.0])
def test_rebin_bad_factor(factor):
    with pytest.raises(ValueError, match="factor must be a positive integer"):
        rebin(np.zeros((10, 2)), factor)


# ---------------------------------------------------------------------- gaussian_kernel


def test_gaussian_kernel_acausal_is_normalised_and_symmetric():
    kernel = gaussian_kernel(2.0)
    assert len(kernel) == 2 * 8 + 1  # K = ceil(4 * 2)
    assert np.isclose(kernel.sum(), 1.0)
    assert np.allclose(kernel, kernel[::-1])
    assert np.argmax(kernel) == 8
    assert np.all(np.diff(kernel[8:]) < 0)


def test_gaussian_kernel_by_hand():
    expected = np.array([A, 1.0, A]) / (1 + 2 * A)
    assert np.allclose(gaussian_kernel(1.0, truncate=1.0), expected)
    lags = np.arange(-3, 4)
    weights = np.exp(-0.5 * (lags / 1.5) ** 2)
    assert np.allclose(gaussian_kernel(1.5, truncate=2.0), weights / weights.sum())


def test_gaussian_kernel_causal_is_right_half_renormalised():
    sigma = 1.7
    acausal = gaussian_kernel(sigma)
    causal = gaussian_kernel(sigma, causal=True)
    half_width = len(acausal) // 2
    assert len(causal) == half_width + 1  # lags 0..K only
    assert np.isclose(causal.sum(), 1.0)
    assert np.allclose(causal, acausal[half_width:] / acausal[half_width:].sum())
    assert np.all(np.diff(causal) < 0)  # weight falls with the lag into the past
    assert np.allclose(gaussian_kernel(1.0, causal=True, truncate=1.0), [1 / (1 + A), A / (1 + A)])


@pytest.mark.parametrize("sigma", [0.0, -1.0, np.nan, np.inf])
def test_gaussian_kernel_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma must be positive"):
        gaussian_kernel(sigma)


# ---------------------------------------------------------------------- gaussian_smooth


def test_acausal_smooth_of_impulse_is_the_kernel():
    sigma_bins, n_time, at = 1.5, 41, 20
    kernel = gaussian_kernel(sigma_bins)
    half_width = len(kernel) // 2
    x = np.zeros(n_time)
    x[at] = 1.0
    out = gaussian_smooth(x, sigma_s=sigma_bins * 0.01, bin_size_s=0.01, axis=0)
    expected = np.zeros(n_time)
    expected[at - half_width : at + half_width + 1] = kernel
    assert np.allclose(out, expected)


def test_causal_smooth_of_impulse_is_zero_before_and_kernel_after():
    sigma_bins, n_time, at = 1.5, 41, 20
    kernel = gaussian_kernel(sigma_bins, causal=True)
    x = np.zeros(n_time)
    x[at] = 2.0
    out = gaussian_smooth(x, sigma_s=sigma_bins * 0.01, bin_size_s=0.01, causal=True, axis=0)
    assert np.all(out[:at] == 0.0)
    expected = np.zeros(n_time)
    expected[at : at + len(kernel)] = 2.0 * kernel
    assert np.allclose(out, expected)


@pytest.mark.parametrize("causal", [False, True])
def test_constant_stays_constant_including_edges(causal):
    x = np.full((3, 12, 2), 7.5)
    out = gaussian_smooth(x, sigma_s=0.03, bin_size_s=0.01, causal=causal)
    assert out.shape == x.shape
    assert out.dtype == np.float64
    assert np.allclose(out, 7.5)


def test_acausal_five_bins_by_hand():
    # sigma = 1 bin, truncate = 1 -> taps (A, 1, A) on lags (-1, 0, 1); at the edges only the
    # taps that fall inside the signal are used and renormalised.
    x = np.array([1.0, 0.0, 2.0, 4.0, 0.0])
    expected = np.array(
        [
            (1.0 * 1 + A * 0.0) / (1 + A),
            (A * 1.0 + 0.0 + A * 2.0) / (1 + 2 * A),
            (A * 0.0 + 2.0 + A * 4.0) / (1 + 2 * A),
            (A * 2.0 + 4.0 + A * 0.0) / (1 + 2 * A),
            (A * 4.0 + 0.0) / (1 + A),
        ]
    )
    out = gaussian_smooth(x, sigma_s=0.02, bin_size_s=0.02, truncate=1.0, axis=0)
    assert np.allclose(out, expected)


def test_causal_five_bins_by_hand():
    # Causal taps (1, A) on lags (0, 1 in the past); the first bin has no past.
    x = np.array([1.0, 0.0, 2.0, 4.0, 0.0])
    expected = np.array(
        [
            1.0,
            (0.0 + A * 1.0) / (1 + A),
            (2.0 + A * 0.0) / (1 + A),
            (4.0 + A * 2.0) / (1 + A),
            (0.0 + A * 4.0) / (1 + A),
        ]
    )
    out = gaussian_smooth(x, sigma_s=0.02, bin_size_s=0.02, causal=True, truncate=1.0, axis=0)
    assert np.allclose(out, expected)


def test_smooth_along_axis_1_of_3d_matches_each_trace():
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, size=(3, 30, 4))  # (n_trials, n_time, n_neurons)
    out = gaussian_smooth(x, sigma_s=0.05, bin_size_s=0.02, axis=1)
    assert out.shape == x.shape
    assert np.array_equal(out, gaussian_smooth(x, sigma_s=0.05, bin_size_s=0.02))  # default
    for trial in range(3):
        for neuron in range(4):
            trace = gaussian_smooth(x[trial, :, neuron], sigma_s=0.05, bin_size_s=0.02, axis=0)
            assert np.allclose(out[trial, :, neuron], trace)


def test_smooth_along_axis_0_of_2d():
    x = np.zeros((9, 2))  # (n_time, n_neurons)
    x[4, 0] = 1.0
    x[:, 1] = 3.0
    out = gaussian_smooth(x, sigma_s=1.0, bin_size_s=1.0, truncate=1.0, axis=0)
    assert np.allclose(out[:, 0], np.array([0, 0, 0, A, 1, A, 0, 0, 0]) / (1 + 2 * A))
    assert np.allclose(out[:, 1], 3.0)


def test_smooth_does_not_modify_input():
    x = np.arange(10.0)
    copy = x.copy()
    gaussian_smooth(x, sigma_s=0.02, bin_size_s=0.01, axis=0)
    assert np.array_equal(x, copy)


@pytest.mark.parametrize(
    ("sigma_s", "bin_size_s", "match"),
    [
        (0.0, 0.01, "sigma_s must be a positive"),
        (-0.02, 0.01, "sigma_s must be a positive"),
        (np.nan, 0.01, "sigma_s must be a positive"),
        (0.02, 0.0, "bin_size_s must be a positive"),
        (0.02, -0.01, "bin_size_s must be a positive"),
        (0.02, np.inf, "bin_size_s must be a positive"),
    ],
)
def test_smooth_bad_sigma_or_bin_size(sigma_s, bin_size_s, match):
    with pytest.raises(ValueError, match=match):
        gaussian_smooth(np.zeros((2, 5, 1)), sigma_s=sigma_s, bin_size_s=bin_size_s)
