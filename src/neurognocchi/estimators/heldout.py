"""The ``heldout_neurons`` parameter of the spike models (LFADS, LatentGNOCCHI): co-smoothing.

``heldout_neurons`` is the share of neurons hidden from the model's encoder (0 by default: none);
which neurons is drawn from ``random_state`` (:func:`~neurognocchi.models.heldout.
choose_heldout_neurons`), so models fitted with the same seed on the same data hide the same
neurons. ``heldout_neurons_`` lists them after ``fit``; ``reconstruct(X, output="rates")``
predicts their rates from the other neurons' counts (scored by `evaluate` in bits per spike).
"""

from __future__ import annotations

import numpy as np

from neurognocchi._checks import check_choice, check_random_state
from neurognocchi.models.heldout import choose_heldout_neurons

__all__ = ["RECONSTRUCT_OUTPUTS", "HeldoutNeurons"]

#: What ``reconstruct(..., output=)`` can return: data units or expected counts per bin.
RECONSTRUCT_OUTPUTS = ("activity", "rates")


class HeldoutNeurons:
    """Mixin of an estimator with a ``heldout_neurons`` parameter (see the module docstring)."""

    heldout_neurons: float

    def _heldout_indices(self, n_neurons: int) -> list[int]:
        """The neurons to hide from the encoder for data of ``n_neurons`` (JSON-able)."""
        seed = check_random_state(self.random_state)
        return list(choose_heldout_neurons(n_neurons, self.heldout_neurons, seed))

    @property
    def heldout_neurons_(self) -> np.ndarray:
        """Indices of the neurons the fitted encoder never sees (empty: none)."""
        self._check_fitted()
        return np.asarray(self._heldout_config().heldout_neurons, dtype=np.intp)

    def _heldout_config(self):
        """The fitted model's config that holds ``heldout_neurons``."""
        return self.model_.config

    @staticmethod
    def _check_reconstruct_output(output) -> str:
        return check_choice(output, "output", RECONSTRUCT_OUTPUTS)
