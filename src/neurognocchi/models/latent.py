"""Latent GNOCCHI: GNOCCHI's encoder and code-conditioned diffusion on the smooth latents of a
Poisson autoencoder (the two-stage design of LDNS, Kapoor et al. 2024, with GNOCCHI's codes).

``autoencoder`` (:class:`~neurognocchi.models.poisson_ae.PoissonAutoencoder`) maps spike counts
(B, T, N) to latents (B, T, D) and latents to rates per bin; ``diffusion`` (a
:class:`~neurognocchi.models.gnocchi.GnocchiModel` with ``n_neurons = D``) encodes a trial's
latents into a code and generates latents from codes. A trial's code is the diffusion encoder's
code of its latents; generation is code -> latents -> rates (-> Poisson spikes, in the
estimator). The two parts are trained one after the other, each with its own ``loss``
(:class:`~neurognocchi.estimators.latent.LatentGNOCCHI` does both), so this model's own
``loss`` refuses to run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from neurognocchi.models.config import LatentGnocchiConfig
from neurognocchi.models.gnocchi import GnocchiModel
from neurognocchi.models.poisson_ae import PoissonAutoencoder

__all__ = ["LatentGnocchiConfig", "LatentGnocchiModel"]


class LatentGnocchiModel(nn.Module):
    """A Poisson autoencoder and a GNOCCHI model of its latents.

    Implements :class:`~neurognocchi.models.base.LatentDiffusionTrialModel`: ``x`` is
    (B, T, N) spike counts; ``generate`` returns rates in counts per bin.

    Parameters
    ----------
    config : LatentGnocchiConfig
    """

    def __init__(self, config: LatentGnocchiConfig):
        super().__init__()
        self.config = config
        self.autoencoder = PoissonAutoencoder(config.autoencoder)
        self.diffusion = GnocchiModel(config.diffusion)

    # ------------------------------------------------------------------ TrialModel members
    @property
    def n_time(self) -> int:
        """Time bins per trial."""
        return self.config.autoencoder.n_time

    @property
    def n_neurons(self) -> int:
        """Neurons per trial (of the counts, not of the latents)."""
        return self.config.autoencoder.n_neurons

    @property
    def code_dim(self) -> int:
        """Length of a code."""
        return self.config.diffusion.code_dim

    @property
    def latent_dim(self) -> int:
        """Latents per time bin."""
        return self.config.autoencoder.latent_dim

    @property
    def n_train_steps(self) -> int:
        """Diffusion steps of training (the most a sampler may use)."""
        return self.diffusion.n_train_steps

    @property
    def bin_size_s(self) -> float | None:
        """Bin width of the counts in seconds (None when unknown)."""
        return self.config.bin_size_s

    @property
    def smooth_sigma_s(self) -> float:
        """S.d. in seconds of the Gaussian that made the data's activity from its counts."""
        return self.config.smooth_sigma_s

    @property
    def behavior_names(self) -> tuple[str, ...]:
        """None: behaviour is not generated with the latents."""
        return ()

    @property
    def heldout_neurons(self) -> tuple[int, ...]:
        """Neurons the autoencoder's encoder never sees (co-smoothing; empty: none)."""
        return self.config.autoencoder.heldout_neurons

    def config_dict(self) -> dict[str, Any]:
        """The config as a JSON-able dict (``LatentGnocchiConfig.from_dict`` rebuilds it)."""
        return json.loads(self.config.to_json())

    def set_statistics(self, stats: Mapping[str, Any]) -> None:
        """Statistics of the training *counts* (the autoencoder's); the diffusion model's,
        of the latents, are set by :meth:`set_latent_statistics` once the autoencoder is
        trained."""
        self.autoencoder.set_statistics(stats)

    def set_latent_statistics(self, stats: Mapping[str, Any]) -> None:
        """Statistics of the training trials' latents (``neuron_statistics`` of them)."""
        self.diffusion.set_statistics(stats)

    def loss(self, x: torch.Tensor, *, generator=None, step: int = 0):
        """Not trainable in one piece: train ``autoencoder.loss``, then ``diffusion.loss`` on
        the latents (as ``LatentGNOCCHI.fit`` does)."""
        raise TypeError(
            "LatentGnocchiModel is trained in two stages: autoencoder.loss on the counts, then "
            "diffusion.loss on autoencoder.latents(counts) (LatentGNOCCHI.fit does both)"
        )

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """Latents (B, T, D) of counts x (B, T, N)."""
        return self.autoencoder.latents(x)

    def raw_code(self, x: torch.Tensor) -> torch.Tensor:
        """The diffusion encoder's raw code (B, code_dim) of counts x (B, T, N)."""
        return self.diffusion.raw_code(self.latents(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (B, code_dim) of counts x (B, T, N)."""
        return self.diffusion.encode(self.latents(x))

    def set_code_whitening(self, raw_codes: torch.Tensor) -> None:
        """Whiten :meth:`encode`'s codes by raw codes (n, code_dim) of training trials."""
        self.diffusion.set_code_whitening(raw_codes)

    def prior_codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` codes (n, code_dim) from the code prior N(0, I)."""
        return self.diffusion.prior_codes(n, generator)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Rates per bin (B, T, N) the autoencoder infers from counts x (B, T, N)."""
        return self.autoencoder.reconstruct(x)

    @torch.no_grad()
    def generate(self, code: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Rates in counts per bin (B, T, N) for codes (B, code_dim): latents generated by
        the diffusion model (``kwargs`` as :meth:`GnocchiModel.generate` takes them), read
        out by the autoencoder."""
        return self.autoencoder.rates(self.diffusion.generate(code, **kwargs))
