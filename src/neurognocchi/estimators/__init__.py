"""Estimator facades: ``fit`` / ``encode`` / ``generate`` / ``sample_prior`` / ``save`` / ``load``.

``base`` holds what both trained estimators share (parameter checks, fitting, batched inference,
the model-directory files through :mod:`neurognocchi._saving`); ``gnocchi`` and ``lfads`` hold
one estimator each, ``latent`` GNOCCHI on a Poisson autoencoder's latents (spikes in, spikes
out), ``ppca`` the closed-form linear baseline (no training loop) and ``cebra``
the CEBRA code baseline (optional extra ``cebra``; it encodes and cannot generate). The names
of the former ``neurognocchi/estimators.py`` module stay importable from here
(``resolve_device`` now lives in :mod:`neurognocchi._checks`).
"""

from neurognocchi._checks import resolve_device
from neurognocchi._saving import SAVE_FORMAT_VERSION
from neurognocchi.estimators.base import TrialEstimator, as_activity
from neurognocchi.estimators.cebra import CEBRA
from neurognocchi.estimators.gnocchi import GNOCCHI
from neurognocchi.estimators.latent import LatentGNOCCHI
from neurognocchi.estimators.lfads import LFADS
from neurognocchi.estimators.ppca import PPCA

__all__ = [
    "CEBRA",
    "GNOCCHI",
    "LFADS",
    "PPCA",
    "SAVE_FORMAT_VERSION",
    "LatentGNOCCHI",
    "TrialEstimator",
    "as_activity",
    "resolve_device",
]
