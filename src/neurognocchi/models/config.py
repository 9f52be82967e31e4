"""The configs of the models: every architecture and loss setting, with its default's reason.

Frozen dataclasses saved as JSON next to the weights (:class:`~neurognocchi._config.JsonConfig`),
read by :class:`~neurognocchi.models.GnocchiModel` and :class:`~neurognocchi.models.LfadsModel`.
Each field's comment gives the default's recorded reason (the estimators' documentation, the
CHANGELOG, docs/DESIGN.md); where none was recorded it says only what the field is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from neurognocchi._checks import (
    check_choice,
    check_dropout,
    check_int,
    check_positive_int,
    check_real,
)
from neurognocchi._config import JsonConfig
from neurognocchi.models.heldout import check_heldout_neurons

__all__ = [
    "LIKELIHOODS",
    "RENAMED_FIELDS",
    "GnocchiConfig",
    "LatentGnocchiConfig",
    "LfadsConfig",
    "PoissonAutoencoderConfig",
]

#: Likelihoods of LFADS: "poisson" on spike counts, "gaussian" on continuous activity.
LIKELIHOODS = ("poisson", "gaussian")

#: Config keys of earlier releases and their current names (read by ``from_dict``).
RENAMED_FIELDS = {"encoder_channels": "encoder_dim"}


@dataclass(frozen=True)
class GnocchiConfig(JsonConfig):
    """Architecture and loss settings of a GNOCCHI model (saved as JSON next to the weights).

    ``rec_weight`` and ``mmd_weight`` weigh the reconstruction and MMD terms against the noise
    MSE (the score term). ``encoder_dim`` was ``encoder_channels`` until 0.2: ``from_dict``
    maps the old key, so configs saved by earlier releases load.
    """

    n_neurons: int  # N, from the data
    n_time: int  # T, from the data
    code_dim: int = 16  # L, the code length
    channels: int = 64  # width of the U-Net's first level
    channel_mults: tuple[int, ...] = (1, 2, 2)  # width per level; T halves between levels
    n_res_blocks: int = 1  # residual blocks per level, in each path
    encoder: str = "conv"  # the auxiliary encoder: "conv" or "gru"
    encoder_dim: int = 64  # encoder width (per direction for "gru")
    encoder_layers: int = 3  # depth of the conv encoder
    dropout: float = 0.0  # dropout in the denoiser's residual blocks
    schedule: str = "cosine"  # noise schedule, "cosine" or "linear" (DESIGN §5)
    n_train_steps: int = 1000  # DESIGN §5: 1000 training steps
    rec_weight: float = 4.0  # weight of the x0 MSE; raised from 1 (reason not recorded)
    mmd_weight: float = 0.01  # light: at 1 it bent the code map (toy R² 0.876 vs 0.917 at 0.01)
    mmd_bandwidth: str = "code_dim"  # the MMD kernel's width (models.priors.MMD_BANDWIDTHS)
    encoder_pooling: str = "mean_max"  # conv encoder head: "mean_max" or "flatten" (InfoDiffusion)
    code_noise: float = 0.0  # training: codes + N(0, (code_noise * batch code s.d.)²); 0: off
    code_dropout: float = 0.0  # training: P(code -> learned null code), for guidance; 0: off
    time_channels: int = 0  # relative-time input channels of the denoiser (even); 0: none
    # bin width of the fitted activity, None when unknown: rates and spikes need it
    bin_size_s: float | None = None
    # behaviour channels generated with the activity (after its N channels); never encoded
    behavior_names: tuple[str, ...] = ()

    @property
    def n_behavior(self) -> int:
        """Behaviour channels generated after the activity's (0: activity only)."""
        return len(self.behavior_names)

    def __post_init__(self):
        for name in ("n_neurons", "n_time", "code_dim", "n_train_steps"):
            check_positive_int(getattr(self, name), name)
        if isinstance(self.behavior_names, str) or not all(
            isinstance(name, str) for name in self.behavior_names
        ):
            raise ValueError(f"behavior_names must be channel names; got {self.behavior_names!r}")
        object.__setattr__(self, "behavior_names", tuple(self.behavior_names))
        for name in ("rec_weight", "mmd_weight", "dropout", "code_noise"):
            check_real(getattr(self, name), name, low=0.0)
        check_dropout(self.code_dropout, "code_dropout")
        if check_int(self.time_channels, "time_channels", minimum=0) % 2:
            raise ValueError(f"time_channels must be an even int >= 0; got {self.time_channels}")
        check_choice(self.mmd_bandwidth, "mmd_bandwidth", ("code_dim", "code_dim_squared"))
        check_choice(self.encoder_pooling, "encoder_pooling", ("mean_max", "flatten"))
        if self.bin_size_s is not None:
            check_real(self.bin_size_s, "bin_size_s", low=0.0, low_open=True)
        object.__setattr__(self, "channel_mults", tuple(int(m) for m in self.channel_mults))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GnocchiConfig:
        """Build the config from a dict, refusing unknown keys; keys of earlier releases
        (:data:`RENAMED_FIELDS`) are read under their current names."""
        if isinstance(data, dict):
            data = {RENAMED_FIELDS.get(key, key): value for key, value in data.items()}
        return super().from_dict(data)


def _set_heldout_neurons(config) -> None:
    """Check ``config.heldout_neurons`` and store it as a sorted tuple (JSON gives a list)."""
    check_positive_int(config.n_neurons, "n_neurons")
    indices = check_heldout_neurons(config.heldout_neurons, config.n_neurons)
    object.__setattr__(config, "heldout_neurons", indices)


@dataclass(frozen=True)
class LfadsConfig(JsonConfig):
    """Architecture and loss settings of an LFADS model (saved as JSON next to the weights).

    ``bin_size_s`` (None when unknown) converts Poisson rates per bin into spikes per second.
    See :mod:`neurognocchi.models.lfads` for what each part is.
    """

    n_neurons: int  # N, from the data
    n_time: int  # T, from the data
    code_dim: int = 16  # as GNOCCHI's, for equal-size codes in comparisons
    encoder_dim: int = 64  # enough for low-dimensional dynamics, fits in minutes on a CPU
    generator_dim: int = 64  # as encoder_dim
    factor_dim: int = 16  # as encoder_dim
    use_controller: bool = False  # autonomous generator: g0 alone determines a trial's rates
    controller_dim: int = 32  # controller GRU width (with use_controller)
    inferred_input_dim: int = 2  # number of inferred inputs (with use_controller)
    likelihood: str = "poisson"  # "poisson" (counts) or "gaussian"; the estimator picks
    kl_weight: float = 1.0  # with no L2 the loss is then the negative ELBO per entry
    l2_weight: float = 1e-4  # L2 penalty on the recurrent weights
    kl_warmup_steps: int = 1000  # optimiser steps of the KL weight's linear warm-up
    l2_warmup_steps: int = 1000  # optimiser steps of the L2 weight's linear warm-up
    coordinated_dropout: float = 0.3  # 0.1 gave clearly worse rates on the toy data
    dropout: float = 0.05  # on the encoders' outputs and the states the factors read
    clip_hidden: float = 5.0  # bound on the generator's and controller's states
    ic_prior_var: float = 0.1  # variance of g0's prior N(0, ic_prior_var I)
    ic_post_var_min: float = 1e-4  # floor of g0's posterior variance
    bin_size_s: float | None = None  # None when unknown: Poisson rates stay per bin
    heldout_neurons: tuple[int, ...] = ()  # never seen by the encoders (co-smoothing)

    def __post_init__(self):
        _set_heldout_neurons(self)
        sizes = ("n_neurons", "n_time", "code_dim", "encoder_dim", "generator_dim", "factor_dim")
        for name in (*sizes, "controller_dim", "inferred_input_dim"):
            check_positive_int(getattr(self, name), name)
        for name in ("kl_warmup_steps", "l2_warmup_steps"):
            check_int(getattr(self, name), name, minimum=0)
        check_choice(self.likelihood, "likelihood", LIKELIHOODS)
        for name in ("coordinated_dropout", "dropout"):
            check_dropout(getattr(self, name), name)
        for name in ("kl_weight", "l2_weight"):
            check_real(getattr(self, name), name, low=0.0)
        if self.clip_hidden != math.inf:  # inf (no clipping) is the one value check_real refuses
            check_real(self.clip_hidden, "clip_hidden", low=0.0, low_open=True)
        for name in ("ic_prior_var", "ic_post_var_min"):
            check_real(getattr(self, name), name, low=0.0, low_open=True)
        if self.bin_size_s is not None:
            check_real(self.bin_size_s, "bin_size_s", low=0.0, low_open=True)
        object.__setattr__(self, "use_controller", bool(self.use_controller))


@dataclass(frozen=True)
class PoissonAutoencoderConfig(JsonConfig):
    """Settings of the Poisson autoencoder of latent GNOCCHI (spike counts -> smooth per-time
    latents -> rates), after LDNS (Kapoor et al. 2024); see :mod:`neurognocchi.models.poisson_ae`.
    """

    n_neurons: int  # N, from the data
    n_time: int  # T, from the data
    latent_dim: int = 16  # D, latents per time bin: LDNS's size for ~100-200 neurons
    channels: int = 64  # width of the convolutional encoder
    n_layers: int = 3  # residual conv blocks, dilations 1, 2, 4, ...: ~2^n_layers bins of context
    kernel_size: int = 5  # odd: centred ("same") convolutions
    coordinated_dropout: float = 0.3  # as LFADS's: score only the entries hidden from the encoder
    smooth_weight: float = 0.1  # weight of the mean squared step of the latents between bins
    heldout_neurons: tuple[int, ...] = ()  # never seen by the encoder (co-smoothing)

    def __post_init__(self):
        _set_heldout_neurons(self)
        for name in ("n_neurons", "n_time", "latent_dim", "channels", "n_layers", "kernel_size"):
            check_positive_int(getattr(self, name), name)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd; got {self.kernel_size}")
        check_dropout(self.coordinated_dropout, "coordinated_dropout")
        check_real(self.smooth_weight, "smooth_weight", low=0.0)


@dataclass(frozen=True)
class LatentGnocchiConfig(JsonConfig):
    """Latent GNOCCHI: a Poisson autoencoder and a GNOCCHI model of its latents, whose
    ``n_neurons`` is the autoencoder's ``latent_dim``. ``bin_size_s`` and ``smooth_sigma_s``
    say how the data's activity was made from its spikes (``Gaussian(smooth_sigma_s) * counts /
    bin_size_s``), so that generated spikes can be turned into activity of the same kind."""

    autoencoder: PoissonAutoencoderConfig
    diffusion: GnocchiConfig
    bin_size_s: float | None = None  # bin width of the spikes; None when unknown
    smooth_sigma_s: float = 0.0  # s.d. of the data's smoothing kernel (0: none or unknown)

    def __post_init__(self):
        if isinstance(self.autoencoder, dict):
            object.__setattr__(
                self, "autoencoder", PoissonAutoencoderConfig.from_dict(self.autoencoder)
            )
        if isinstance(self.diffusion, dict):
            object.__setattr__(self, "diffusion", GnocchiConfig.from_dict(self.diffusion))
        if self.diffusion.n_neurons != self.autoencoder.latent_dim:
            raise ValueError(
                f"the diffusion model's n_neurons ({self.diffusion.n_neurons}) must be the "
                f"autoencoder's latent_dim ({self.autoencoder.latent_dim})"
            )
        if self.diffusion.n_time != self.autoencoder.n_time:
            raise ValueError("the diffusion model and the autoencoder must share n_time")
        if self.bin_size_s is not None:
            check_real(self.bin_size_s, "bin_size_s", low=0.0, low_open=True)
        check_real(self.smooth_sigma_s, "smooth_sigma_s", low=0.0)
