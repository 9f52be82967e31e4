"""Held-out neurons for co-smoothing (Neural Latents Benchmark, Pei et al. 2021).

A model fitted with held-out neurons never lets them into its encoder: their input entries are
zeroed, always, in training and inference, while its read-out still predicts every neuron and
its loss still scores the held-out neurons' counts on the training trials. The rates it infers
for the held-out neurons of new trials are then a prediction from the held-in neurons alone,
scored in bits per spike (:func:`neurognocchi.evaluation.cosmoothing.cosmoothing_section`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from neurognocchi._checks import InvalidArgumentError, check_fraction

__all__ = ["check_heldout_neurons", "choose_heldout_neurons", "input_keep"]

_STREAM = 20  # the held-out draw's own seed stream: SeedSequence([random_state, _STREAM])


def choose_heldout_neurons(n_neurons: int, fraction: float, random_state: int) -> tuple[int, ...]:
    """Sorted indices of ``round(fraction * n_neurons)`` neurons, at least one when
    ``fraction > 0`` and at most ``n_neurons - 1`` (one neuron always stays held in), drawn at
    random from ``random_state``: the same seed and number of neurons give the same set,
    whatever the model."""
    fraction = check_fraction(fraction, "heldout_neurons")
    n_heldout = min(max(1, round(fraction * n_neurons)), n_neurons - 1) if fraction > 0 else 0
    if n_heldout == 0:
        return ()
    rng = np.random.default_rng(np.random.SeedSequence([random_state, _STREAM]))
    return tuple(int(i) for i in np.sort(rng.choice(n_neurons, n_heldout, replace=False)))


def check_heldout_neurons(indices: Sequence[int], n_neurons: int) -> tuple[int, ...]:
    """``indices`` as a sorted tuple of distinct ints in ``[0, n_neurons)``, fewer than
    ``n_neurons`` (a config field; ValueError naming ``heldout_neurons`` otherwise)."""
    if isinstance(indices, str | bytes) or not isinstance(indices, Sequence | np.ndarray):
        raise InvalidArgumentError(
            f"heldout_neurons must be a sequence of neuron indices; got {indices!r}"
        )
    if any(isinstance(i, bool | np.bool_) or not isinstance(i, int | np.integer) for i in indices):
        raise InvalidArgumentError(f"heldout_neurons must be whole neuron indices; got {indices!r}")
    values = [int(i) for i in indices]
    if len(set(values)) != len(values) or any(not 0 <= i < n_neurons for i in values):
        raise InvalidArgumentError(
            f"heldout_neurons must be distinct indices in [0, {n_neurons}); got {indices!r}"
        )
    if values and len(values) >= n_neurons:
        raise InvalidArgumentError(
            f"heldout_neurons holds out all {n_neurons} neurons; keep one held in"
        )
    return tuple(sorted(values))


def input_keep(n_neurons: int, indices: Sequence[int]) -> torch.Tensor:
    """Float mask (n_neurons,): 0 at the held-out neurons, 1 elsewhere."""
    keep = torch.ones(n_neurons)
    keep[list(indices)] = 0.0
    return keep
