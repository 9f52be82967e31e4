"""Spike statistics of generated vs real spike counts (issue 18, item 1), after LDNS (Kapoor et
al., NeurIPS 2024), each with a real-vs-real floor.

Every statistic is a plain function of two arrays ``(n_trials, n_time, n_neurons)`` of
non-negative integer counts per bin (``generated`` first, ``real`` second; any trial counts,
one neuron count), plus ``bin_size_s`` where seconds matter:

* :func:`population_count_kl`: KL(model ‖ data) of Gaussian-KDE population spike counts;
* :func:`pairwise_correlation_rmse`: RMSE of the neurons' pairwise Pearson correlations;
* :func:`isi_rmse`: RMSE of each neuron's mean and s.d. of inter-spike intervals (seconds);
* :func:`rate_rmse`: RMSE of each neuron's mean rate and rate s.d. (Hz);
* :func:`pc1_spectrum_error` and :func:`pca_frechet_distance` (from
  `neurognocchi.evaluation.spike_features`): power spectrum of the first principal component and
  Fréchet distance of PCA trial features.

:func:`spike_floor` computes any of them between two disjoint random halves of the real trials,
:func:`all_statistics` returns all of them under stable keys, and :func:`spike_statistics` all of
them and their floors.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from scipy.stats import gaussian_kde

from neurognocchi._checks import InvalidArgumentError, check_choice, check_random_state
from neurognocchi.evaluation.spike_features import (
    check_bin_size,
    check_counts,
    check_pair,
    pc1_spectrum_error,
    pca_frechet_distance,
)

__all__ = [
    "KL_FLOOR",
    "MIN_ISIS",
    "STATISTIC_KEYS",
    "all_statistics",
    "discrete_kl",
    "isi_rmse",
    "isi_statistics",
    "pairwise_correlation_rmse",
    "population_count_densities",
    "population_count_kl",
    "rate_rmse",
    "spike_floor",
    "spike_statistics",
    "spike_times",
    "split_halves",
]

#: Where the data's probability is below this (after normalisation) it is raised to it in the
#: KL, so mass of the model where the data has none costs ``p log(p / 1e-12)``, not infinity.
KL_FLOOR = 1e-12
#: A neuron enters the ISI RMSE only with at least this many ISIs in both sets (LDNS: 1).
MIN_ISIS = 2
#: The keys of :func:`spike_statistics` (each also with the suffix ``_floor``).
STATISTIC_KEYS = (
    "population_count_kl",
    "correlation_rmse",
    "correlation_n_neurons",
    "mean_isi_rmse_s",
    "sd_isi_rmse_s",
    "isi_n_neurons",
    "mean_rate_rmse_hz",
    "sd_rate_rmse_hz",
    "pc1_log10_power_rmse",
    "pca_frechet",
)


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2))) if a.size else float("nan")


# ---------------------------------------------------------------------- population count KL
def discrete_kl(p, q) -> float:
    """KL(p ‖ q) = ``sum p log(p / q)`` (nats) of two probability vectors on one support.

    Both are normalised to sum 1 first. Terms with ``p = 0`` are 0; ``q`` is raised to
    :data:`KL_FLOOR` where it is smaller, so the result is finite.

    Examples
    --------
    >>> round(discrete_kl([0.5, 0.5], [0.9, 0.1]), 4)  # 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1)
    0.5108
    """
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.ndim != 1 or p.shape != q.shape or np.any(p < 0) or np.any(q < 0) or p.sum() <= 0:
        raise InvalidArgumentError(
            "p and q must be non-negative vectors of one length, p with mass; "
            f"got shapes {p.shape}, {q.shape}"
        )
    p, q = p / p.sum(), np.maximum(q / q.sum(), KL_FLOOR)
    support = p > 0
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def _kde_on_grid(population: np.ndarray, grid: np.ndarray) -> np.ndarray:
    if np.ptp(population) == 0:  # Scott's bandwidth is 0: the KDE's limit is a point mass
        density = (grid == population[0]).astype(np.float64)
    else:
        density = gaussian_kde(population, bw_method="scott")(grid)
    return density / density.sum()


def population_count_densities(generated, real) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian-KDE densities of the population spike count per bin, on the integers.

    The population count is the sum over neurons of one bin, pooled over all trials and bins.
    Each set gets a :class:`scipy.stats.gaussian_kde` with Scott's bandwidth rule (scipy's
    default, as LDNS), evaluated on ``0, 1, ..., max`` (max over both sets) and normalised to
    sum 1. A constant population count (zero bandwidth) gives a point mass.

    Returns
    -------
    grid : array (max + 1,)
    generated, real : arrays (max + 1,), each summing to 1
    """
    generated, real = check_pair(generated, real)
    pop_gen, pop_real = generated.sum(axis=2).ravel(), real.sum(axis=2).ravel()
    grid = np.arange(int(max(pop_gen.max(), pop_real.max())) + 1, dtype=np.float64)
    return grid, _kde_on_grid(pop_gen, grid), _kde_on_grid(pop_real, grid)


def population_count_kl(generated, real) -> float:
    """KL(model ‖ data) of the population spike-count densities, in nats.

    :func:`discrete_kl` of :func:`population_count_densities`, ``generated`` as ``p``: the
    direction and normalisation of LDNS (``sum p_model log(p_model / p_data)``; LDNS evaluates
    the KDEs on a fixed grid ``0..17`` for its monkey data, here on ``0..max`` of both sets).

    Examples
    --------
    >>> counts = np.arange(12).reshape(2, 3, 2)
    >>> population_count_kl(counts, counts)
    0.0
    """
    _, p_gen, p_real = population_count_densities(generated, real)
    return discrete_kl(p_gen, p_real)


# ---------------------------------------------------------------------- pairwise correlations
def _correlation_parts(generated: np.ndarray, real: np.ndarray) -> tuple[float, int]:
    flat_gen = generated.reshape(-1, generated.shape[2])
    flat_real = real.reshape(-1, real.shape[2])
    kept = (np.ptp(flat_gen, axis=0) > 0) & (np.ptp(flat_real, axis=0) > 0)
    n_kept = int(kept.sum())
    if n_kept < 2:
        return float("nan"), n_kept
    upper = np.triu_indices(n_kept, k=1)
    corr_gen = np.corrcoef(flat_gen[:, kept], rowvar=False)[upper]
    corr_real = np.corrcoef(flat_real[:, kept], rowvar=False)[upper]
    return _rmse(corr_gen, corr_real), n_kept


def pairwise_correlation_rmse(generated, real) -> float:
    """RMSE of the neurons' pairwise Pearson correlations, generated vs real.

    Each set's correlation matrix is computed with trials and bins concatenated (LDNS's
    ``mode="concatenate"``); the RMSE runs over the upper-triangle entries (each pair once, no
    diagonal). Neurons constant (e.g. silent) in either set have no correlation and are left
    out; :func:`spike_statistics` reports the kept count as ``correlation_n_neurons``. NaN
    when fewer than two neurons are kept.

    Examples
    --------
    >>> real = np.array([[0, 0], [1, 1], [2, 2], [3, 3]]).reshape(1, 4, 2)  # r = 1
    >>> generated = np.array([[0, 0], [1, 1], [2, 0], [3, 1]]).reshape(1, 4, 2)  # r = 1/sqrt 5
    >>> round(pairwise_correlation_rmse(generated, real), 4)  # 1 - 1/sqrt(5)
    0.5528
    """
    return _correlation_parts(*check_pair(generated, real))[0]


# ---------------------------------------------------------------------- inter-spike intervals
_PLACEMENTS = ("centred", "ldns")


def _offsets(within: np.ndarray, counts: np.ndarray, placement: str) -> np.ndarray:
    if placement == "centred":
        return (within + 0.5) / counts
    return (within + 1.0) / (counts + 1.0)


def _spike_times(counts: np.ndarray, bin_size_s: float, placement: str):
    """Times and group ids of all spikes of ``counts`` (n_groups, n_time), group-major."""
    n_time = counts.shape[1]
    flat = counts.ravel().astype(np.int64)
    cell = np.repeat(np.arange(flat.size), flat)  # the (group, bin) of every spike
    within = np.arange(cell.size) - (np.cumsum(flat) - flat)[cell]  # j = 0..k-1 in its bin
    times = (cell % n_time + _offsets(within, flat[cell], placement)) * bin_size_s
    return times, cell // n_time


def spike_times(counts, *, bin_size_s: float, placement: str = "centred") -> np.ndarray:
    """Spike times (seconds) of one spike train given as counts per bin, shape (n_time,).

    The ``k`` spikes of bin ``i`` are placed evenly inside it: with ``placement="centred"`` at
    ``(i + (j + 0.5) / k) * bin_size_s`` for ``j = 0..k-1`` (so equal counts give a regular
    train), with ``"ldns"`` at ``(i + (j + 1) / (k + 1)) * bin_size_s`` (LDNS's
    ``linspace(start, end, k + 2)[1:-1]``).

    Examples
    --------
    >>> spike_times([0, 2], bin_size_s=0.5).tolist()  # 0.5 + 0.125, 0.5 + 0.375
    [0.625, 0.875]
    """
    counts = np.asarray(counts)
    if counts.ndim != 1:
        raise InvalidArgumentError(f"counts must have 1 dimension; got shape {counts.shape}")
    counts = check_counts(counts.reshape(1, -1, 1), "counts")
    bin_size_s = check_bin_size(bin_size_s)
    check_choice(placement, "placement", _PLACEMENTS)
    return _spike_times(counts[0].T, bin_size_s, placement)[0]


def isi_statistics(
    spikes, *, bin_size_s: float, placement: str = "centred"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each neuron's mean and s.d. of inter-spike intervals (seconds) and its ISI count.

    Spike times come from :func:`spike_times`; ISIs are differences of consecutive spikes
    within one trial (never across trials), pooled over all trials of a neuron; the s.d. is
    the population s.d. (ddof 0, as LDNS). NaN for a neuron without ISIs.

    Returns
    -------
    mean, sd : arrays (n_neurons,) of float
    n_isis : array (n_neurons,) of int
    """
    spikes = check_counts(spikes, "spikes")
    bin_size_s = check_bin_size(bin_size_s)
    check_choice(placement, "placement", _PLACEMENTS)
    n_trials, _, n_neurons = spikes.shape
    trains = spikes.transpose(2, 0, 1).reshape(n_neurons * n_trials, -1)  # neuron-major
    times, train = _spike_times(trains, bin_size_s, placement)
    same = train[1:] == train[:-1]
    isis, neuron = np.diff(times)[same], train[1:][same] // n_trials
    n_isis = np.bincount(neuron, minlength=n_neurons)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(neuron, weights=isis, minlength=n_neurons) / n_isis
        square = np.bincount(neuron, weights=(isis - mean[neuron]) ** 2, minlength=n_neurons)
        sd = np.sqrt(square / n_isis)
    return mean, sd, n_isis


def isi_rmse(generated, real, *, bin_size_s: float, placement: str = "centred") -> dict:
    """RMSE over neurons of the mean ISI and of the ISI s.d. (seconds), generated vs real.

    Per-neuron values from :func:`isi_statistics`; only neurons with at least
    :data:`MIN_ISIS` (2) ISIs in both sets enter (LDNS keeps every neuron with one ISI).

    Returns
    -------
    dict
        ``mean_isi_rmse_s``, ``sd_isi_rmse_s`` (NaN when no neuron is kept) and
        ``isi_n_neurons`` (the neurons kept).
    """
    generated, real = check_pair(generated, real)
    mean_gen, sd_gen, n_gen = isi_statistics(generated, bin_size_s=bin_size_s, placement=placement)
    mean_real, sd_real, n_real = isi_statistics(real, bin_size_s=bin_size_s, placement=placement)
    kept = (n_gen >= MIN_ISIS) & (n_real >= MIN_ISIS)
    return {
        "mean_isi_rmse_s": _rmse(mean_gen[kept], mean_real[kept]),
        "sd_isi_rmse_s": _rmse(sd_gen[kept], sd_real[kept]),
        "isi_n_neurons": int(kept.sum()),
    }


# ---------------------------------------------------------------------- rates
def rate_rmse(generated, real, *, bin_size_s: float) -> dict:
    """RMSE over neurons of the mean rate and of the rate s.d., in Hz (LDNS's ``"neur"`` mode).

    A neuron's mean rate is its mean count per bin over all trials and bins divided by
    ``bin_size_s``; its rate s.d. is the s.d. (ddof 0) of its count over all bins of all trials
    divided by ``bin_size_s``. Every neuron enters.

    Returns
    -------
    dict
        ``mean_rate_rmse_hz`` and ``sd_rate_rmse_hz``.

    Examples
    --------
    >>> real = np.array([0, 2]).reshape(1, 2, 1)  # mean 1 count, s.d. 1 count per 0.5 s
    >>> rate_rmse(np.zeros((3, 2, 1)), real, bin_size_s=0.5)
    {'mean_rate_rmse_hz': 2.0, 'sd_rate_rmse_hz': 2.0}
    """
    generated, real = check_pair(generated, real)
    bin_size_s = check_bin_size(bin_size_s)
    gen, ref = (x.reshape(-1, x.shape[2]) / bin_size_s for x in (generated, real))
    return {
        "mean_rate_rmse_hz": _rmse(gen.mean(axis=0), ref.mean(axis=0)),
        "sd_rate_rmse_hz": _rmse(gen.std(axis=0), ref.std(axis=0)),
    }


# ---------------------------------------------------------------------- floors and entry point
def split_halves(n_trials: int, random_state=0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random halves of ``range(n_trials)``: the first ``n_trials // 2`` of
    ``numpy.random.default_rng(random_state).permutation(n_trials)`` and the rest."""
    order = np.random.default_rng(check_random_state(random_state)).permutation(n_trials)
    return order[: n_trials // 2], order[n_trials // 2 :]


def spike_floor(real, statistic: Callable[[np.ndarray, np.ndarray], Any], *, random_state=0):
    """``statistic`` between two disjoint random halves of the real trials: its floor.

    The trials are permuted with ``numpy.random.default_rng(random_state)``; the first
    ``n_trials // 2`` play the generated set and the rest (one more when ``n_trials`` is odd)
    the real one: ``statistic(real[first], real[rest])``. Each half holds about half the trials,
    so sampling noise makes the floor slightly higher than for two full-size sets.

    Parameters
    ----------
    real : array (n_trials, n_time, n_neurons)
        Real counts, at least two trials.
    statistic : callable
        ``statistic(generated, real)``, e.g. :func:`population_count_kl` or
        ``functools.partial(rate_rmse, bin_size_s=0.02)``.
    random_state : int or None
        Seed of the split (None for fresh entropy).

    Returns
    -------
    Whatever ``statistic`` returns.
    """
    real = check_counts(real, "real")
    if real.shape[0] < 2:
        raise InvalidArgumentError(f"real needs at least 2 trials for a floor; got {real.shape[0]}")
    if not callable(statistic):
        raise InvalidArgumentError(f"statistic must be callable; got {statistic!r}")
    first, rest = split_halves(real.shape[0], random_state)
    return statistic(real[first], real[rest])


def all_statistics(generated, real, *, bin_size_s: float) -> dict:
    """Every statistic of this module, generated vs real, without floors: the keys of
    :data:`STATISTIC_KEYS` (floats, except the kept-neuron counts, ints)."""
    generated, real = check_pair(generated, real, same_time=True, min_trials=2)
    bin_size_s = check_bin_size(bin_size_s)
    correlation, n_kept = _correlation_parts(generated, real)
    stats = {"population_count_kl": population_count_kl(generated, real)}
    stats |= {"correlation_rmse": correlation, "correlation_n_neurons": n_kept}
    stats |= isi_rmse(generated, real, bin_size_s=bin_size_s)
    stats |= rate_rmse(generated, real, bin_size_s=bin_size_s)
    stats["pc1_log10_power_rmse"] = pc1_spectrum_error(generated, real, bin_size_s=bin_size_s)
    stats["pca_frechet"] = pca_frechet_distance(generated, real, bin_size_s=bin_size_s)
    return {key: stats[key] for key in STATISTIC_KEYS}


def spike_statistics(generated, real, *, bin_size_s: float, random_state=0) -> dict:
    """Every spike statistic of this module, generated vs real, and its real-vs-real floor.

    Defaults throughout: centred spike placement, 30 ms Gaussian smoothing, 3 PCA components.
    The floors are the same statistics by :func:`spike_floor` (one split, ``random_state``).

    Parameters
    ----------
    generated, real : arrays (n_trials, n_time, n_neurons)
        Non-negative integer counts with equal ``n_time`` and ``n_neurons``; ``real`` needs at
        least 4 trials (2 per half) and both at least 2.
    bin_size_s : float
        Bin width in seconds, > 0.
    random_state : int or None
        Seed of the floor's split.

    Returns
    -------
    dict
        The keys of :data:`STATISTIC_KEYS` and each with ``_floor`` appended: floats, except
        the kept-neuron counts ``correlation_n_neurons`` and ``isi_n_neurons`` (ints).
    """
    generated, real = check_pair(generated, real, same_time=True, min_trials=2)
    if real.shape[0] < 4:
        raise InvalidArgumentError(f"real needs at least 4 trials for floors; got {real.shape[0]}")
    compute = partial(all_statistics, bin_size_s=check_bin_size(bin_size_s))
    floor = spike_floor(real, compute, random_state=random_state)
    return compute(generated, real) | {f"{key}_floor": value for key, value in floor.items()}
