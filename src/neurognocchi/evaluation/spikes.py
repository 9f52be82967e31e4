"""Spike-level scores of predicted rates: the Poisson log-likelihood and NLB's bits/spike
(issue 16, item 10), for models that return rates."""

from __future__ import annotations

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_finite_array

__all__ = ["RATE_FLOOR", "bits_per_spike"]

#: Rates below this (counts per bin) are raised to it before taking logs, as in NLB's
#: ``nlb_tools.evaluation`` (which does so only when some rate is exactly 0; here always).
RATE_FLOOR = 1e-9


def _spikes(value) -> np.ndarray:
    spikes = check_finite_array(value, "spikes", ndim=3).astype(np.float64)
    if np.any(spikes < 0) or np.any(spikes != np.round(spikes)):
        raise InvalidArgumentError("spikes must be non-negative integer counts")
    if spikes.sum() == 0:
        raise InvalidArgumentError("spikes holds no spike; bits/spike is undefined")
    return spikes


def _rates(value, name: str, shape: tuple[int, ...], *, broadcast: bool) -> np.ndarray:
    rates = check_finite_array(value, name).astype(np.float64)
    if np.any(rates < 0):
        raise InvalidArgumentError(f"{name} must be non-negative (counts per bin)")
    if not broadcast and rates.shape != shape:
        raise InvalidArgumentError(
            f"{name} must have the shape of spikes {shape}; got {rates.shape}"
        )
    try:
        return np.broadcast_to(rates, shape)
    except ValueError:
        raise InvalidArgumentError(
            f"{name} must have the shape of spikes {shape} or broadcast to it; got {rates.shape}"
        ) from None


def bits_per_spike(rates, spikes, *, null_rates=None) -> float:
    """NLB's bits/spike: ``(LL(rates) - LL(null)) / (n_spikes * ln 2)``.

    ``LL`` is the Poisson log-likelihood of the counts, summed over trials, bins and
    neurons: ``sum(y log r - r - log y!)``; the ``log y!`` terms cancel in the difference.
    Rates are expected counts per bin (multiply rates in Hz by ``bin_size_s`` first) and are
    raised to :data:`RATE_FLOOR` (1e-9) before the logarithm, so a zero rate where a spike
    occurred gives a large but finite penalty (``log 1e-9`` per spike) instead of -inf.
    Positive when the rates explain the counts better than the null, 0 when they equal it.

    Parameters
    ----------
    rates : array (n_trials, n_time, n_neurons)
        Predicted counts per bin, non-negative.
    spikes : array (n_trials, n_time, n_neurons)
        Observed counts: non-negative integers, at least one spike.
    null_rates : array, optional
        The null model's counts per bin, any shape that broadcasts to ``spikes`` (e.g.
        (n_neurons,) or a PSTH (n_time, n_neurons)). Default, as NLB: each neuron's mean count
        per bin over the evaluated trials and bins.

    Returns
    -------
    float

    Examples
    --------
    >>> spikes = np.array([2, 0]).reshape(1, 2, 1)  # one neuron, two bins, null rate 1
    >>> rates = np.array([2.0, 0.5]).reshape(1, 2, 1)
    >>> round(bits_per_spike(rates, spikes), 4)  # (2 ln 2 - 0.5) / (2 ln 2)
    0.6393
    """
    spikes = _spikes(spikes)  # (n_trials, n_time, n_neurons)
    rates = _rates(rates, "rates", spikes.shape, broadcast=False)
    if null_rates is None:
        null_rates = spikes.mean(axis=(0, 1))  # (n_neurons,)
    null_rates = _rates(null_rates, "null_rates", spikes.shape, broadcast=True)
    rates, null_rates = np.maximum(rates, RATE_FLOOR), np.maximum(null_rates, RATE_FLOOR)
    gain = spikes * (np.log(rates) - np.log(null_rates)) - (rates - null_rates)
    return float(gain.sum() / (spikes.sum() * np.log(2.0)))
