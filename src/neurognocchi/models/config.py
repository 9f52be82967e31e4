"""The configs of the models: every architecture and loss setting, with its default's reason.

Frozen dataclasses saved as JSON next to the weights (:class:`~neurognocchi._config.JsonConfig`),
read by :class:`~neurognocchi.models.GnocchiModel` and :class:`~neurognocchi.models.LfadsModel`.
Each field is declared with :func:`~neurognocchi._params.param`: its description, the recorded
reason for its default (the estimators' documentation, the CHANGELOG, docs/DESIGN.md; where none
was recorded, none is given) and its check, which runs when a config is built and, through
:mod:`neurognocchi.estimators.parameters`, in the estimators' ``check_params``.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from functools import partial
from typing import Any

from neurognocchi._checks import (
    InvalidArgumentError,
    check_bool,
    check_dropout,
    check_int,
    check_positive_int,
    check_real,
)
from neurognocchi._config import JsonConfig
from neurognocchi._params import (
    check_fields,
    config_parameters,
    legacy_values,
    optional,
    param,
    unless_inf,
)
from neurognocchi.diffusion.schedules import SCHEDULES
from neurognocchi.models.heldout import check_heldout_neurons
from neurognocchi.models.priors import MMD_BANDWIDTHS

__all__ = [
    "ENCODERS",
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

#: GNOCCHI's auxiliary encoders (:mod:`neurognocchi.models.gnocchi`).
ENCODERS = ("conv", "gru")

_POSITIVE = check_positive_int
_NON_NEGATIVE = partial(check_real, low=0.0)
_POSITIVE_REAL = partial(check_real, low=0.0, low_open=True)
_NON_NEGATIVE_INT = partial(check_int, minimum=0)


def _check_time_channels(value, name: str) -> int:
    if check_int(value, name, minimum=0) % 2:
        raise InvalidArgumentError(f"{name} must be an even int >= 0; got {value}")
    return value


def _check_names(value, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise InvalidArgumentError(f"{name} must be channel names; got {value!r}")
    return tuple(value)


def _check_odd(value, name: str) -> int:
    if check_positive_int(value, name) % 2 == 0:
        raise InvalidArgumentError(f"{name} must be odd; got {value}")
    return value


@dataclass(frozen=True)
class GnocchiConfig(JsonConfig):
    """Architecture and loss settings of a GNOCCHI model (saved as JSON next to the weights).

    Each field is defined once here, with its default's reason
    (:func:`~neurognocchi._params.param`); the estimators take these definitions
    (:mod:`neurognocchi.estimators.parameters`). ``encoder_dim`` was ``encoder_channels``
    until 0.2: ``from_dict`` maps the old key, and fills a setting that a config of an
    earlier release lacks with the value it was made with.
    """

    n_neurons: int = param(MISSING, "N, from the data.", check=_POSITIVE)
    n_time: int = param(MISSING, "T, from the data.", check=_POSITIVE)
    code_dim: int = param(16, "Size of each trial's code.", check=_POSITIVE)
    channels: int = param(64, "Width of the 1-D U-Net denoiser's first level.", check=_POSITIVE)
    channel_mults: tuple[int, ...] = param(
        (1, 2, 2),
        "Width of each U-Net level, in multiples of ``channels``; T halves between levels.",
    )
    n_res_blocks: int = param(1, "Residual blocks per U-Net level, in each path.", check=_POSITIVE)
    encoder: str = param(
        "conv",
        "The auxiliary encoder: a 1-D conv stack with time-aware pooling, or a bidirectional GRU.",
        choices=ENCODERS,
    )
    encoder_dim: int = param(
        64, 'Width of the encoder (per GRU direction for "gru").', check=_POSITIVE
    )
    encoder_layers: int = param(3, "Depth of the conv encoder.", check=_POSITIVE)
    dropout: float = param(0.0, "Dropout in the denoiser's residual blocks.", check=check_dropout)
    schedule: str = param(
        "cosine", "Noise schedule over ``n_train_steps`` steps.", choices=SCHEDULES
    )
    n_train_steps: int = param(
        1000, "Diffusion steps of training.", reason="As DDPM (DESIGN §5).", check=_POSITIVE
    )
    rec_weight: float = param(
        4.0,
        "Weight of the reconstruction (x0 MSE) term of the loss, against the noise MSE.",
        reason="Raised from 1 (the reason was not recorded).",
        check=_NON_NEGATIVE,
    )
    mmd_weight: float = param(
        0.01,
        "Weight of the MMD term, which pulls the codes towards N(0, I).",
        reason="Light: on the toy data a weight of 1 bent the code -> variable map enough to "
        "cost 0.02-0.07 of linear R² (0.876 mean over the four variables vs 0.917 at 0.01, "
        "seed 0); ``whiten_codes`` supplies the prior's moments instead.",
        check=_NON_NEGATIVE,
    )
    mmd_bandwidth: str = param(
        "code_dim",
        "The MMD kernel's width: ``exp(-d² / 2L)`` or InfoDiffusion's ``exp(-d² / L²)``.",
        choices=MMD_BANDWIDTHS,
    )
    encoder_pooling: str = param(
        "flatten",
        "Head of the conv encoder: every time bin flattened (InfoDiffusion), or mean and max "
        "over time.",
        reason="Since 0.3, chosen by the reaching study (docs/results.md); models "
        'saved without this setting load with "mean_max", the default before.',
        choices=("mean_max", "flatten"),
        legacy="mean_max",
    )
    code_noise: float = param(
        0.0,
        "Training only: Gaussian noise added to the codes the denoiser sees, with s.d. "
        "``code_noise`` times the batch's code s.d. (0: none).",
        check=_NON_NEGATIVE,
    )
    code_dropout: float = param(
        0.0,
        "Training only: the probability that a trial's code is replaced by a learned null "
        "code, so that the model can also sample without a code; needed by ``guidance_scale``.",
        check=check_dropout,
    )
    time_channels: int = param(
        0,
        "Even number of relative-time channels appended to the denoiser's input (0: none).",
        check=_check_time_channels,
    )
    # bin width of the fitted activity, None when unknown: rates and spikes need it
    bin_size_s: float | None = param(None, "From the data.", check=optional(_POSITIVE_REAL))
    # behaviour channels generated with the activity (after its N channels); never encoded
    behavior_names: tuple[str, ...] = param((), "From the data.", check=_check_names)

    @property
    def n_behavior(self) -> int:
        """Behaviour channels generated after the activity's (0: activity only)."""
        return len(self.behavior_names)

    def __post_init__(self):
        check_fields(self)
        object.__setattr__(self, "behavior_names", tuple(self.behavior_names))
        object.__setattr__(self, "channel_mults", tuple(int(m) for m in self.channel_mults))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GnocchiConfig:
        """Build the config from a dict, refusing unknown keys; keys of earlier releases
        (:data:`RENAMED_FIELDS`) are read under their current names."""
        if isinstance(data, dict):
            data = {RENAMED_FIELDS.get(key, key): value for key, value in data.items()}
            data = legacy_values(config_parameters(cls)) | data
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

    n_neurons: int = param(MISSING, "N, from the data.", check=_POSITIVE)
    n_time: int = param(MISSING, "T, from the data.", check=_POSITIVE)
    code_dim: int = param(
        16,
        "Size of ``g0``, the code (the generator's state is a linear map of it).",
        reason="As GNOCCHI's, for equal-size codes in comparisons.",
        check=_POSITIVE,
    )
    encoder_dim: int = param(
        64,
        "Width of each direction of the encoder GRUs.",
        reason="Enough for low-dimensional population dynamics while fitting in minutes on a CPU.",
        check=_POSITIVE,
    )
    generator_dim: int = param(64, "Width of the generator GRU.", check=_POSITIVE)
    factor_dim: int = param(16, "Number of factors.", check=_POSITIVE)
    use_controller: bool = param(
        False,
        "Infer inputs to the generator with a controller.",
        reason="Off: the generator is then autonomous and the code ``g0`` alone determines a "
        "trial's rates.",
        check=check_bool,
    )
    controller_dim: int = param(
        32, "Controller GRU width (with ``use_controller``).", check=_POSITIVE
    )
    inferred_input_dim: int = param(
        2, "Number of inferred inputs (with ``use_controller``).", check=_POSITIVE
    )
    likelihood: str = param(
        "poisson", "Observation model, chosen by the estimator from the data.", choices=LIKELIHOODS
    )
    kl_weight: float = param(
        1.0,
        "Weight of the KL terms (loss per entry).",
        reason="With no L2 the loss is then the negative ELBO per entry.",
        check=_NON_NEGATIVE,
    )
    l2_weight: float = param(
        1e-4, "Weight of the L2 penalty on the recurrent weights.", check=_NON_NEGATIVE
    )
    kl_warmup_steps: int = param(
        1000,
        "Optimiser steps over which the KL weight ramps linearly from 0 (0: no warm-up).",
        check=_NON_NEGATIVE_INT,
    )
    l2_warmup_steps: int = param(
        1000,
        "Optimiser steps over which the L2 weight ramps linearly from 0 (0: no warm-up).",
        check=_NON_NEGATIVE_INT,
    )
    coordinated_dropout: float = param(
        0.3,
        "Probability that an input entry is hidden from the encoders and scored (training only).",
        reason="0.1 gave clearly worse rates on the toy data.",
        check=check_dropout,
    )
    dropout: float = param(
        0.05,
        "Dropout on the encoders' outputs and on the generator states read by the factors.",
        check=check_dropout,
    )
    clip_hidden: float = param(
        5.0,
        "Bound on the generator's and controller's hidden states (``math.inf``: none).",
        check=unless_inf(_POSITIVE_REAL),
    )
    ic_prior_var: float = param(
        0.1, "Variance of g0's prior N(0, ic_prior_var I).", check=_POSITIVE_REAL
    )
    ic_post_var_min: float = param(1e-4, "Floor of g0's posterior variance.", check=_POSITIVE_REAL)
    bin_size_s: float | None = param(
        None, "From the data (None: Poisson rates stay per bin).", check=optional(_POSITIVE_REAL)
    )
    heldout_neurons: tuple[int, ...] = param((), "Neurons never seen by the encoders.")

    def __post_init__(self):
        _set_heldout_neurons(self)
        check_fields(self)
        object.__setattr__(self, "use_controller", bool(self.use_controller))


@dataclass(frozen=True)
class PoissonAutoencoderConfig(JsonConfig):
    """Settings of the Poisson autoencoder of latent GNOCCHI (spike counts -> smooth per-time
    latents -> rates), after LDNS (Kapoor et al. 2024); see :mod:`neurognocchi.models.poisson_ae`.
    """

    n_neurons: int = param(MISSING, "N, from the data.", check=_POSITIVE)
    n_time: int = param(MISSING, "T, from the data.", check=_POSITIVE)
    latent_dim: int = param(
        16,
        "Latents per time bin (what the diffusion model generates).",
        reason="LDNS's size for ~100-200 neurons.",
        check=_POSITIVE,
    )
    channels: int = param(64, "Width of the autoencoder's convolutional encoder.", check=_POSITIVE)
    n_layers: int = param(
        3,
        "Residual conv blocks of the autoencoder's encoder, dilations 1, 2, 4, ...: about "
        "2^n_layers bins of context.",
        check=_POSITIVE,
    )
    kernel_size: int = param(5, 'Odd: centred ("same") convolutions.', check=_check_odd)
    coordinated_dropout: float = param(
        0.3,
        "Share of count entries hidden from the autoencoder's encoder and scored.",
        reason="As LFADS's.",
        check=check_dropout,
    )
    smooth_weight: float = param(
        0.1, "Weight of the latents' mean squared step between bins.", check=_NON_NEGATIVE
    )
    heldout_neurons: tuple[int, ...] = param((), "Neurons never seen by the encoder.")

    def __post_init__(self):
        _set_heldout_neurons(self)
        check_fields(self)


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
            raise InvalidArgumentError(
                f"the diffusion model's n_neurons ({self.diffusion.n_neurons}) must be the "
                f"autoencoder's latent_dim ({self.autoencoder.latent_dim})"
            )
        if self.diffusion.n_time != self.autoencoder.n_time:
            raise InvalidArgumentError("the diffusion model and the autoencoder must share n_time")
        if self.bin_size_s is not None:
            check_real(self.bin_size_s, "bin_size_s", low=0.0, low_open=True)
        check_real(self.smooth_sigma_s, "smooth_sigma_s", low=0.0)
