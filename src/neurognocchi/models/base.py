"""The interface the estimators use to talk to a model.

An estimator (:mod:`neurognocchi.estimators`) holds a fitted model in ``model_`` and reaches it
only through the members below, never through ``model_.config`` or a model's internals, so a
new model plugs in by implementing them. Models are also ``torch.nn.Module`` objects (the
estimator calls ``eval``, ``to``, ``state_dict`` and ``load_state_dict``; the training loop
calls ``loss``).

:class:`TrialModel` is what every model offers; :class:`DiffusionTrialModel` (GNOCCHI),
:class:`LatentDiffusionTrialModel` (latent GNOCCHI) and :class:`SequentialVAETrialModel` (LFADS)
add what only one estimator uses. The protocols are
``runtime_checkable``, so ``isinstance(model, TrialModel)`` checks that the members exist.
:class:`ConfiguredModel` is the shared base of the package's models: the members that only read
the config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = [
    "ConfiguredModel",
    "DiffusionTrialModel",
    "LatentDiffusionTrialModel",
    "SequentialVAETrialModel",
    "TrialModel",
]


@runtime_checkable
class TrialModel(Protocol):
    """A generative model of trials (n_time, n_neurons) with a code per trial.

    ``x`` and ``batch`` are (B, T, N) in data units; codes are (B, code_dim).

    Members
    -------
    n_time -- read-only int: time bins per trial the model was built for.
    n_neurons -- read-only int: neurons per trial the model was built for.
    code_dim -- read-only int: length of a trial's code.
    config_dict() -> dict -- the JSON-able config, saved next to the weights.
    set_statistics(stats) -- store the training trials' ``neuron_statistics`` (mean, std, min, max).
    loss(batch, *, generator=None, step=0) -> dict -- training loss ``{"loss": total, **parts}``.
    encode(x) -> Tensor (B, code_dim) -- the codes of trials x.
    generate(code, **kwargs) -> Tensor (B, T, N) -- trials in data units from ``encode``'s codes.
    prior_codes(n, generator) -> Tensor (n, code_dim) -- draws of the prior of ``encode``'s codes.
    """

    @property
    def n_time(self) -> int: ...

    @property
    def n_neurons(self) -> int: ...

    @property
    def code_dim(self) -> int: ...

    def config_dict(self) -> dict[str, Any]: ...

    def set_statistics(self, stats: Mapping[str, Any]) -> None: ...

    def loss(
        self, batch: torch.Tensor, *, generator: torch.Generator | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]: ...

    def encode(self, x: torch.Tensor) -> torch.Tensor: ...

    def generate(self, code: torch.Tensor, **kwargs: Any) -> torch.Tensor: ...

    def prior_codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor: ...


@runtime_checkable
class DiffusionTrialModel(TrialModel, Protocol):
    """A :class:`TrialModel` that generates by denoising (GNOCCHI).

    It adds these members to those of :class:`TrialModel`.

    Members
    -------
    n_train_steps -- read-only int: diffusion steps of training, the most a sampler may use.
    bin_size_s -- read-only float or None: bin width of the fitted activity (None: unknown).
    behavior_names -- read-only tuple of str: behaviour channels ``generate`` returns after
        the activity's N (empty: activity only).
    raw_code(x) -> Tensor (B, code_dim) -- the encoder's output before code whitening.
    set_code_whitening(raw_codes) -- whiten ``encode``'s codes by raw codes (n, code_dim).
    """

    @property
    def n_train_steps(self) -> int: ...

    @property
    def bin_size_s(self) -> float | None: ...

    @property
    def behavior_names(self) -> tuple[str, ...]: ...

    def raw_code(self, x: torch.Tensor) -> torch.Tensor: ...

    def set_code_whitening(self, raw_codes: torch.Tensor) -> None: ...


@runtime_checkable
class SequentialVAETrialModel(TrialModel, Protocol):
    """A :class:`TrialModel` with a likelihood and a posterior-mean read-out (LFADS).

    It adds these members to those of :class:`TrialModel`.

    Members
    -------
    likelihood -- read-only str: "poisson" (fits spike counts) or "gaussian" (activity).
    bin_size_s -- read-only float or None: bin width turning rates per bin into spikes/s.
    heldout_neurons -- read-only tuple of int: neurons the encoders never see (co-smoothing).
    reconstruct(x) -> Tensor (B, T, N) -- posterior-mean rates or activity of trials x.
    """

    @property
    def likelihood(self) -> str: ...

    @property
    def bin_size_s(self) -> float | None: ...

    @property
    def heldout_neurons(self) -> tuple[int, ...]: ...

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class LatentDiffusionTrialModel(DiffusionTrialModel, Protocol):
    """A :class:`DiffusionTrialModel` of spike counts through an autoencoder's latents
    (latent GNOCCHI), trained in two stages: ``autoencoder`` on the counts, then ``diffusion``
    on their latents.

    It adds these members to those of :class:`DiffusionTrialModel`.

    Members
    -------
    autoencoder -- the first stage, a module with ``loss(batch, *, generator, step)``.
    diffusion -- the second stage, a :class:`DiffusionTrialModel` of the latents.
    latents(x) -> Tensor (B, T, D) -- the autoencoder's latents of counts x.
    set_latent_statistics(stats) -- ``neuron_statistics`` of the training trials' latents.
    reconstruct(x) -> Tensor (B, T, N) -- rates per bin the autoencoder infers from counts x.
    heldout_neurons -- read-only tuple of int: neurons the autoencoder's encoder never sees.
    smooth_sigma_s -- read-only float: s.d. of the kernel that made the data's activity.
    """

    autoencoder: nn.Module
    diffusion: DiffusionTrialModel

    def latents(self, x: torch.Tensor) -> torch.Tensor: ...

    def set_latent_statistics(self, stats: Mapping[str, Any]) -> None: ...

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor: ...

    @property
    def heldout_neurons(self) -> tuple[int, ...]: ...

    @property
    def smooth_sigma_s(self) -> float: ...


class ConfiguredModel(nn.Module):
    """Base of a model built from a frozen config (``self.config``, a ``JsonConfig`` with
    ``n_time``, ``n_neurons`` and ``code_dim``) that normalises with ``self.scaler``.

    Provides the :class:`TrialModel` members that only read the config.
    """

    config: Any

    @property
    def n_time(self) -> int:
        """Time bins per trial."""
        return self.config.n_time

    @property
    def n_neurons(self) -> int:
        """Neurons per trial."""
        return self.config.n_neurons

    @property
    def code_dim(self) -> int:
        """Length of a code."""
        return self.config.code_dim

    def config_dict(self) -> dict[str, Any]:
        """The config as a JSON-able dict (the config class's ``from_dict`` rebuilds it)."""
        return json.loads(self.config.to_json())
