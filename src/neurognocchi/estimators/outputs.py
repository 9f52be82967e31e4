"""What ``generate`` returns: ``output="activity"``, ``"rates"`` or ``"spikes"``.

Every generating estimator takes ``output``. "activity" is the model's own output in data
units (the default, unchanged); "rates" are expected spike counts per bin; "spikes" are
Poisson counts of those rates (int64). A sampler of activity (GNOCCHI, PPCA) has as rates the
non-negative part of its samples times the bin width (the activity is smoothed rates in
spikes/s), so it needs the bin size of the data it was fitted on; a rate model (a Poisson
LFADS) has rates of its own. The Poisson draws are seeded by :func:`spike_seed` of the call's
``random_state``, apart from the model's own noise, so that asking for spikes leaves the
activity and rates of the same call unchanged.
"""

from __future__ import annotations

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_choice
from neurognocchi.evaluation.generation import poisson_inverse_cdf

__all__ = [
    "OUTPUTS",
    "activity_to_rates",
    "check_output",
    "check_sample_output",
    "poisson_spikes",
    "samples_as_output",
    "spike_seed",
]

#: What ``generate(..., output=)`` can return.
OUTPUTS = ("activity", "rates", "spikes")
CODES_PER_CHUNK = 8  # codes drawn at a time: bounds the float64 work arrays, as poisson_activity


def check_output(output) -> str:
    """``output`` if it is one of :data:`OUTPUTS` (else an error naming ``output``).

    Examples
    --------
    >>> check_output("spikes")
    'spikes'
    """
    return check_choice(output, "output", OUTPUTS)


def spike_seed(seed: int) -> int:
    """The seed of the Poisson draws of ``generate(random_state=seed, output="spikes")``,
    derived from ``seed`` apart from the stream that seeds the model's own noise."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def poisson_spikes(rates, *, random_state: int, common_noise: bool) -> np.ndarray:
    """Poisson counts of expected counts per bin.

    Parameters
    ----------
    rates : array, shape (n_codes, n_samples, n_time, n_neurons)
        Expected counts per bin, finite and non-negative.
    random_state : int
        Seed of the draws; the same seed gives the same counts.
    common_noise : bool
        Every code (axis 0) uses the same uniforms (1, n_samples, T, N), turned into counts by
        inversion (:func:`~neurognocchi.evaluation.generation.poisson_inverse_cdf`): equal
        rates give equal counts and a larger rate never fewer, whatever the other codes.
        Otherwise independent draws (``numpy.random.Generator.poisson``).

    Returns
    -------
    array, shape (n_codes, n_samples, n_time, n_neurons), int64

    Examples
    --------
    >>> rates = np.full((2, 1, 3, 1), 4.0)
    >>> counts = poisson_spikes(rates, random_state=0, common_noise=True)
    >>> counts.dtype, bool((counts[0] == counts[1]).all())
    (dtype('int64'), True)
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 4:
        raise InvalidArgumentError(
            f"rates must have shape (n_codes, n_samples, T, N); got {rates.shape}"
        )
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise InvalidArgumentError("rates must be finite and non-negative expected counts per bin")
    rng = np.random.default_rng(random_state)
    if common_noise:
        uniforms = rng.random((1, *rates.shape[1:]))  # (1, K, T, N), shared by every code
    counts = np.empty(rates.shape, dtype=np.int64)  # (n_codes, K, T, N)
    for i in range(0, len(rates), CODES_PER_CHUNK):
        chunk = rates[i : i + CODES_PER_CHUNK]  # (c, K, T, N)
        if common_noise:
            counts[i : i + len(chunk)] = poisson_inverse_cdf(uniforms, chunk)
        else:
            counts[i : i + len(chunk)] = rng.poisson(chunk)
    return counts


def activity_to_rates(activity, bin_size_s: float) -> np.ndarray:
    """Expected counts per bin (float64) of activity in spikes/s: its non-negative part
    times the bin width.

    Examples
    --------
    >>> activity_to_rates(np.array([-5.0, 50.0]), 0.02).tolist()
    [0.0, 1.0]
    """
    return np.clip(np.asarray(activity, dtype=np.float64), 0, None) * bin_size_s


def check_sample_output(output, *, bin_size_s: float | None, owner: str) -> str:
    """``output`` checked for a sampler of activity: "rates" and "spikes" need the bin size
    of the fitted data (``owner``, e.g. "GNOCCHI", says whose)."""
    output = check_output(output)
    if output != "activity" and bin_size_s is None:
        raise InvalidArgumentError(
            f"output={output!r} needs the data's bin size, but this {owner} was fitted without "
            "one (on a raw array); fit it on Trials with bin_size_s, or use output='activity'"
        )
    return output


def samples_as_output(
    samples, output: str, *, bin_size_s: float | None, seed: int, common_noise: bool
) -> np.ndarray:
    """A sampler's activity samples (n_codes, K, T, N) as ``output`` (checked by
    :func:`check_sample_output`): unchanged, rates per bin, or their Poisson counts drawn
    with :func:`spike_seed` of ``seed``."""
    if output == "activity":
        return samples
    rates = activity_to_rates(samples, bin_size_s)  # (n_codes, K, T, N)
    if output == "rates":
        return rates
    return poisson_spikes(rates, random_state=spike_seed(seed), common_noise=common_noise)
