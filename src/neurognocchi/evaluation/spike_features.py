"""Population features of spike counts for `neurognocchi.evaluation.spike_stats` (issue 18,
item 1): the checks of count arrays, Gaussian smoothing, a PCA fitted on the real trials, the
power spectrum of the first principal component and the Fréchet distance.

* :func:`pc1_spectra` / :func:`pc1_spectrum_error`: median periodogram of PC 1 per set and the
  RMSE of log10 power, generated vs real;
* :func:`frechet_distance`: Fréchet distance between Gaussians fitted to two feature sets;
* :func:`pca_frechet_distance`: the same on PCA trajectories of smoothed trials.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.ndimage import gaussian_filter1d

from neurognocchi._checks import (
    InvalidArgumentError,
    check_finite_array,
    check_positive_int,
    check_real,
)

__all__ = [
    "POWER_FLOOR",
    "SMOOTHING_S",
    "check_bin_size",
    "check_counts",
    "check_pair",
    "frechet_distance",
    "pc1_spectra",
    "pc1_spectrum_error",
    "pca_frechet_distance",
    "pca_trajectories",
    "smooth_counts",
]

#: Default s.d. (seconds) of the Gaussian smoothing kernel, as LDNS's spectral analysis (30 ms).
SMOOTHING_S = 0.03
#: Powers below this fraction of the real median spectrum's maximum are raised to it before
#: log10, so a silent PC gives a large finite error instead of -inf.
POWER_FLOOR = 1e-12


# ---------------------------------------------------------------------- checks
def check_counts(value, name: str) -> np.ndarray:
    """``value`` as a float64 array (n_trials, n_time, n_neurons) of non-negative integer
    counts, each axis non-empty; raises ValueError naming ``name`` otherwise."""
    counts = check_finite_array(value, name, ndim=3).astype(np.float64)
    if 0 in counts.shape:
        raise InvalidArgumentError(f"{name} must have non-empty axes; got shape {counts.shape}")
    if np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise InvalidArgumentError(f"{name} must hold non-negative integer counts")
    return counts


def check_pair(generated, real, *, same_time: bool = False, min_trials: int = 1):
    """Check ``generated`` and ``real`` with :func:`check_counts`: one neuron count (and one
    bin count with ``same_time``), at least ``min_trials`` trials each."""
    generated, real = check_counts(generated, "generated"), check_counts(real, "real")
    if generated.shape[2] != real.shape[2]:
        raise InvalidArgumentError(
            f"generated and real must have one n_neurons; got {generated.shape}, {real.shape}"
        )
    if same_time and generated.shape[1] != real.shape[1]:
        raise InvalidArgumentError(
            f"generated and real must have one n_time; got {generated.shape}, {real.shape}"
        )
    for name, counts in (("generated", generated), ("real", real)):
        if counts.shape[0] < min_trials:
            raise InvalidArgumentError(
                f"{name} needs at least {min_trials} trials; got {counts.shape[0]}"
            )
    return generated, real


def check_bin_size(value) -> float:
    """``bin_size_s`` as a float > 0."""
    return check_real(value, "bin_size_s", low=0.0, low_open=True)


# ---------------------------------------------------------------------- smoothing and PCA
def smooth_counts(counts, *, bin_size_s: float, smoothing_s: float = SMOOTHING_S) -> np.ndarray:
    """Counts smoothed along time by a Gaussian of s.d. ``smoothing_s`` seconds.

    ``scipy.ndimage.gaussian_filter1d`` with ``sigma = smoothing_s / bin_size_s`` bins, a kernel
    truncated at 4 s.d. and zeros beyond the trial's ends (``mode="constant"``, as LDNS's
    ``np.convolve(..., mode="same")``); ``smoothing_s = 0`` returns the counts unchanged.
    """
    counts = check_counts(counts, "counts")
    sigma = check_real(smoothing_s, "smoothing_s", low=0.0) / check_bin_size(bin_size_s)
    if sigma == 0:
        return counts
    return gaussian_filter1d(counts, sigma, axis=1, mode="constant", truncate=4.0)


def pca_trajectories(
    generated,
    real,
    *,
    bin_size_s: float,
    n_components: int,
    smoothing_s: float = SMOOTHING_S,
) -> tuple[np.ndarray, np.ndarray]:
    """Both sets projected on the leading principal components of the real smoothed activity.

    Both are smoothed (:func:`smooth_counts`), then z-scored per neuron with the real set's
    mean and s.d. over trials and bins (s.d. 0 -> 1; LDNS's ``StandardScaler``); the PCA is
    fitted on the real set's z-scored bins of all trials (SVD; a component's sign is
    arbitrary) and applied to both. ``n_components`` is capped at ``n_neurons``.

    Returns
    -------
    generated, real : arrays (n_trials, n_time, k)
    """
    generated, real = check_pair(generated, real)
    k = min(check_positive_int(n_components, "n_components"), real.shape[2])
    smoothed = [
        smooth_counts(x, bin_size_s=bin_size_s, smoothing_s=smoothing_s) for x in (generated, real)
    ]
    flat_real = smoothed[1].reshape(-1, real.shape[2])
    mean, sd = flat_real.mean(axis=0), flat_real.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    _, _, components = np.linalg.svd((flat_real - mean) / sd, full_matrices=False)
    gen_pcs, real_pcs = (((x - mean) / sd) @ components[:k].T for x in smoothed)
    return gen_pcs, real_pcs


# ---------------------------------------------------------------------- PC 1 spectrum
def pc1_spectra(
    generated, real, *, bin_size_s: float, smoothing_s: float = SMOOTHING_S
) -> dict[str, np.ndarray]:
    """Median power spectrum over trials of the first principal component, per set.

    PC 1 from :func:`pca_trajectories` (fitted on the real set). Each trial's PC 1 gets a
    periodogram (``scipy.signal.periodogram``: Hann window, mean removed, one-sided power
    density in units² / Hz at ``fs = 1 / bin_size_s``; LDNS's ``signal.csd`` with one segment
    of the trial's length is the same), and the median over trials is taken per frequency.

    Returns
    -------
    dict
        ``frequencies_hz`` (n_time // 2 + 1,), ``generated`` and ``real`` (same shape).
    """
    from scipy import signal  # here: scipy.signal takes seconds to import

    generated, real = check_pair(generated, real, same_time=True)
    if real.shape[1] < 2:
        raise InvalidArgumentError(f"real needs at least 2 bins for a spectrum; got {real.shape}")
    pcs = pca_trajectories(
        generated, real, bin_size_s=bin_size_s, n_components=1, smoothing_s=smoothing_s
    )
    fs = 1.0 / check_bin_size(bin_size_s)
    spectra = {}
    for name, pc in zip(("generated", "real"), pcs, strict=True):
        frequencies, power = signal.periodogram(pc[:, :, 0], fs=fs, window="hann", axis=1)
        spectra[name] = np.median(power, axis=0)
    return {"frequencies_hz": frequencies, **spectra}


def pc1_spectrum_error(
    generated, real, *, bin_size_s: float, smoothing_s: float = SMOOTHING_S
) -> float:
    """RMSE over frequencies > 0 of ``log10`` median PC 1 power (:func:`pc1_spectra`).

    Powers are raised to :data:`POWER_FLOOR` times the real spectrum's maximum before the log
    (to 1e-300 when that is 0). LDNS reports the MSE of the linear median powers instead,
    which the lowest frequencies dominate; the log weighs every frequency alike.
    """
    spectra = pc1_spectra(generated, real, bin_size_s=bin_size_s, smoothing_s=smoothing_s)
    positive = spectra["frequencies_hz"] > 0
    floor = max(POWER_FLOOR * float(spectra["real"].max()), 1e-300)
    log_gen, log_real = (
        np.log10(np.maximum(spectra[k][positive], floor)) for k in ("generated", "real")
    )
    return float(np.sqrt(np.mean((log_gen - log_real) ** 2)))


# ---------------------------------------------------------------------- Fréchet distance
def frechet_distance(a, b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

    ``|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))`` with sample means and
    covariances (ddof 1, ``numpy.cov``). The matrix square root is ``scipy.linalg.sqrtm``; as in
    pytorch-fid, when it is not finite ``1e-6 I`` is added to both covariances first, and a
    complex result (round-off) is replaced by its real part. Clipped at 0.

    Parameters
    ----------
    a, b : arrays (n_samples, n_features)
        At least 2 samples each, one feature count.

    Returns
    -------
    float

    Examples
    --------
    >>> frechet_distance([[0.0], [2.0]], [[3.0], [4.0], [5.0]])  # 9 + 2 + 1 - 2 sqrt(2)
    9.17157287525381
    """
    a, b = check_finite_array(a, "a", ndim=2), check_finite_array(b, "b", ndim=2)
    for name, x in (("a", a), ("b", b)):
        if x.shape[0] < 2 or x.shape[1] < 1:
            raise InvalidArgumentError(
                f"{name} needs at least 2 samples and 1 feature; got shape {x.shape}"
            )
    if a.shape[1] != b.shape[1]:
        raise InvalidArgumentError(
            f"a and b must have one n_features; got shapes {a.shape}, {b.shape}"
        )
    a, b = a.astype(np.float64), b.astype(np.float64)
    diff = a.mean(axis=0) - b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(covmean)):
        offset = 1e-6 * np.eye(len(cov_a))
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    distance = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    return float(max(distance, 0.0))


def pca_frechet_distance(
    generated,
    real,
    *,
    bin_size_s: float,
    n_components: int = 3,
    smoothing_s: float = SMOOTHING_S,
) -> float:
    """:func:`frechet_distance` of trials as PCA trajectories, generated vs real.

    Each trial becomes the vector of its first ``n_components`` PC scores over all bins
    (:func:`pca_trajectories`, PCA fitted on the real set), shape ``n_time * k``. With more
    features than trials the fitted covariances are singular; the distance is still defined
    but noisier, so keep ``n_time * k`` well below the trial counts where possible.
    """
    generated, real = check_pair(generated, real, same_time=True, min_trials=2)
    gen_pcs, real_pcs = pca_trajectories(
        generated, real, bin_size_s=bin_size_s, n_components=n_components, smoothing_s=smoothing_s
    )
    return frechet_distance(gen_pcs.reshape(len(gen_pcs), -1), real_pcs.reshape(len(real_pcs), -1))
