"""Model output on equal terms (issue 16, items 1, 2 and 7): what the protocol scores of any
model is the same pair of arrays, whatever kind of generator the model is.

* A **sampler** (``output_kind = "samples"``, e.g. GNOCCHI, PPCA) returns activity-like
  samples; its conditional mean is estimated by the mean of the K samples.
* A **rate model** (``output_kind = "rates"``, e.g. LFADS) returns noise-free rates. Its
  conditional mean *of activity* is the rates passed through the data's own smoothing
  (E[smoothed spikes] = kernel * rates), and its activity-like samples are Poisson counts of
  the rates, smoothed the same way as the data.

With ``common_noise`` all codes of one call share their random numbers (the model's own
starting and sampler noise where its ``generate`` accepts ``common_noise``; the uniforms of
the Poisson draws of a rate model), so differences between codes come from the codes alone.

A model that only encodes (``output_kind = "codes"``, e.g. CEBRA) cannot generate: the
protocol scores its codes only, and the comparison table says "cannot generate" in place of
its generation numbers.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from neurognocchi._checks import InvalidArgumentError
from neurognocchi.data.preprocess import gaussian_smooth

__all__ = ["Generated", "Smoothing", "generate_activity", "infer_smoothing", "output_kind"]

OUTPUT_KINDS = ("samples", "rates", "codes")  # "codes": encodes, cannot generate
SMOOTHING_GRID_S = np.round(np.arange(0.005, 0.2001, 0.005), 3)  # candidate kernel s.d. (s)
SMOOTHING_TOLERANCE = 1e-4  # relative residual below which a candidate kernel is "the" kernel
N_SMOOTHING_TRIALS = 20  # trials the kernel is inferred from


class Smoothing(NamedTuple):
    """How the data's ``activity`` was made from its ``spikes``: Gaussian of s.d. ``sigma_s``
    (0: none), counts divided by ``bin_size_s`` (activity in Hz)."""

    sigma_s: float
    bin_size_s: float

    def apply(self, rates: np.ndarray) -> np.ndarray:
        """Rates (..., T, N) in activity units smoothed along time as the data were."""
        if self.sigma_s == 0:
            return np.asarray(rates, dtype=np.float64)
        return gaussian_smooth(rates, sigma_s=self.sigma_s, bin_size_s=self.bin_size_s)


def infer_smoothing(trials) -> Smoothing | None:
    """The Gaussian kernel that turned ``trials.spikes`` into ``trials.activity``, if any.

    Tries no smoothing and s.d. 5-200 ms (5 ms steps) on the first trials and returns the
    one that reproduces ``activity == smooth(spikes) / bin_size_s`` to a relative residual
    below 1e-4; None when none does (or the trials hold no spikes or bin size), in which
    case rates cannot be put on the data's footing and are used as returned.
    """
    if trials.spikes is None or trials.bin_size_s is None:
        return None
    spikes = np.asarray(trials.spikes[:N_SMOOTHING_TRIALS], dtype=np.float64)
    activity = np.asarray(trials.activity[:N_SMOOTHING_TRIALS], dtype=np.float64)
    scale = float(np.linalg.norm(activity)) or 1.0
    for sigma in (0.0, *SMOOTHING_GRID_S):
        candidate = Smoothing(float(sigma), float(trials.bin_size_s))
        residual = np.linalg.norm(candidate.apply(spikes / trials.bin_size_s) - activity)
        if residual / scale < SMOOTHING_TOLERANCE:
            return candidate
    return None


def output_kind(model) -> str:
    """``model.output_kind`` ("samples", "rates" or "codes"); "samples" when the model does
    not say."""
    kind = getattr(model, "output_kind", "samples")
    if kind not in OUTPUT_KINDS:
        raise InvalidArgumentError(
            f"model.output_kind must be one of {OUTPUT_KINDS}; {type(model).__name__} has {kind!r}"
        )
    return kind


def takes_keyword(method, name: str, *, any_keyword: bool = False) -> bool:
    """Whether ``method`` takes keyword ``name``; with ``any_keyword``, also when it takes
    ``**options`` (a wrapper that passes keywords on). False where it has no signature."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or (any_keyword and p.kind is p.VAR_KEYWORD) for p in parameters)


def accepts_common_noise(model) -> bool:
    """Whether ``model.generate`` takes a ``common_noise`` keyword."""
    return takes_keyword(model.generate, "common_noise")


class Generated(NamedTuple):
    """What the protocol scores of a model's output for ``n_codes`` codes.

    ``mean`` (n_codes, T, N): the conditional mean of activity (mean of the samples, or
    rates smoothed like the data); ``samples`` (n_codes, K, T, N): activity-like samples;
    ``rates`` (n_codes, T, N): a rate model's rates as returned, else None.
    """

    mean: np.ndarray
    samples: np.ndarray
    rates: np.ndarray | None


def _checked(output, n_codes: int, n_samples: int) -> np.ndarray:
    output = np.asarray(output, dtype=np.float64)
    if output.ndim != 4 or output.shape[:2] != (n_codes, n_samples):
        raise ValueError(
            f"model.generate returned shape {output.shape}; expected "
            f"({n_codes}, {n_samples}, n_time, n_neurons)"
        )
    if not np.all(np.isfinite(output)):
        raise ValueError("model.generate returned NaN or infinite values")
    return output


def poisson_inverse_cdf(uniforms, means) -> np.ndarray:
    """Poisson counts by inversion: the smallest ``k`` with ``P(X <= k) >= u`` for each
    uniform ``u`` and mean (arrays that broadcast together). Equal uniforms give counts that
    grow with the mean: the coupling that common random numbers need.

    Examples
    --------
    >>> poisson_inverse_cdf(np.array([0.3, 0.3, 0.9]), np.array([0.1, 2.0, 2.0])).tolist()
    [0.0, 1.0, 4.0]
    """
    uniforms, means = np.broadcast_arrays(np.asarray(uniforms, float), np.asarray(means, float))
    pmf = np.exp(-means)
    cdf, counts = pmf.copy(), np.zeros(means.shape)
    largest = float(means.max(initial=0.0))
    for k in range(1, int(largest + 12 * np.sqrt(largest) + 30)):  # beyond: P < 1e-30
        above = uniforms > cdf
        if not above.any():
            break
        counts += above
        pmf = pmf * means / k
        cdf = cdf + pmf
    return counts


def poisson_activity(
    rates, n_samples: int, smoothing: Smoothing, *, random_state: int, common_noise: bool
) -> np.ndarray:
    """Activity-like samples (n, K, T, N) of rates (n, T, N) in Hz: Poisson counts per bin,
    smoothed and divided by the bin as the data were. With ``common_noise`` every row of
    ``rates`` uses the same uniforms (inverse-CDF draws), so equal rates give equal counts
    and nearby rates nearby counts."""
    means = np.clip(rates, 0, None)[:, None] * smoothing.bin_size_s  # (n, 1, T, N)
    rng = np.random.default_rng(random_state)
    if common_noise:
        uniforms = rng.random((1, n_samples, *rates.shape[1:]))  # (1, K, T, N)
        counts = np.concatenate(
            [poisson_inverse_cdf(uniforms, means[i : i + 8]) for i in range(0, len(rates), 8)]
        )
    else:
        counts = rng.poisson(np.broadcast_to(means, (len(rates), n_samples, *rates.shape[1:])))
    return smoothing.apply(counts / smoothing.bin_size_s)


def generate_activity(
    model,
    codes,
    *,
    n_samples: int,
    random_state: int,
    common_noise: bool = True,
    smoothing: Smoothing | None = None,
) -> Generated:
    """K activity-like samples and the conditional mean of each code (see the module doc).

    Parameters
    ----------
    model : fitted model with ``generate(codes, n_samples=, random_state=)``
    codes : array (n_codes, code_dim), in the model's own frame
    n_samples : int
        K, samples per code.
    random_state : int
        Seed of the samples (and of a rate model's Poisson draws).
    common_noise : bool
        Share random numbers across the codes of this call (passed to ``generate`` when it
        accepts ``common_noise``).
    smoothing : Smoothing or None
        The data's smoothing; a rate model's output is used as returned without it (its
        samples are then K copies of its rates).
    """
    codes = np.asarray(codes, dtype=np.float64)
    options = {"common_noise": True} if common_noise and accepts_common_noise(model) else {}
    if output_kind(model) == "samples":
        samples = _checked(
            model.generate(codes, n_samples=n_samples, random_state=random_state, **options),
            len(codes),
            n_samples,
        )
        return Generated(samples.mean(axis=1), samples, None)
    rates = _checked(
        model.generate(codes, n_samples=1, random_state=random_state, **options), len(codes), 1
    )[:, 0]
    if smoothing is None:
        return Generated(rates, np.repeat(rates[:, None], n_samples, axis=1), rates)
    samples = poisson_activity(
        rates, n_samples, smoothing, random_state=random_state, common_noise=common_noise
    )
    return Generated(smoothing.apply(rates), samples, rates)
