"""The ``heldout_neurons`` parameter of the spike models (LFADS, LatentGNOCCHI): co-smoothing.

``heldout_neurons`` is the share of neurons hidden from the model's encoder (0 by default: none);
which neurons is drawn from ``random_state`` (:func:`~neurognocchi.models.heldout.
choose_heldout_neurons`), so models fitted with the same seed on the same data hide the same
neurons. ``heldout_neurons_`` lists them after ``fit``; ``reconstruct(X, output="rates")``
predicts their rates from the other neurons' counts (scored by `evaluate` in bits per spike).
"""

from __future__ import annotations

from neurognocchi._checks import check_choice, check_random_state
from neurognocchi.models.heldout import choose_heldout_neurons

__all__ = ["RECONSTRUCT_OUTPUTS", "check_reconstruct_output", "heldout_indices"]

#: What ``reconstruct(..., output=)`` can return: data units or expected counts per bin.
RECONSTRUCT_OUTPUTS = ("activity", "rates")


def heldout_indices(n_neurons: int, fraction: float, random_state) -> list[int]:
    """The neurons to hide from the encoder for data of ``n_neurons``: a share ``fraction``
    drawn from ``random_state`` (JSON-able, for the model's config)."""
    seed = check_random_state(random_state)
    return list(choose_heldout_neurons(n_neurons, fraction, seed))


def check_reconstruct_output(output) -> str:
    """``output`` of ``reconstruct``, checked: one of :data:`RECONSTRUCT_OUTPUTS`."""
    return check_choice(output, "output", RECONSTRUCT_OUTPUTS)
