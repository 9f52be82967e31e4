"""The estimators: ``fit`` / ``encode`` / ``generate`` / ``sample_prior`` / ``save`` / ``load``.

``gnocchi`` and ``lfads`` hold one estimator each, ``latent`` GNOCCHI on a Poisson
autoencoder's latents (spikes in, spikes out), ``ppca`` the closed-form linear baseline (no
training loop) and ``cebra`` the CEBRA code baseline (optional extra ``cebra``; it encodes and
cannot generate). ``base`` holds what the trained estimators share (parameter checks, fitting,
batched inference, the model-directory files through :mod:`neurognocchi._saving`); it is not
exported here.
"""

from neurognocchi.estimators.cebra import CEBRA
from neurognocchi.estimators.gnocchi import GNOCCHI
from neurognocchi.estimators.latent import LatentGNOCCHI
from neurognocchi.estimators.lfads import LFADS
from neurognocchi.estimators.ppca import PPCA

__all__ = ["CEBRA", "GNOCCHI", "LFADS", "PPCA", "LatentGNOCCHI"]
