"""The parameters of every estimator, each defined once, in signature order.

A model or training parameter is its config field's definition
(:func:`~neurognocchi._params.from_field`: the default, description, reason and check declared
in :mod:`neurognocchi.models.config`, :mod:`neurognocchi.training.config` or
:class:`~neurognocchi.diffusion.SamplerDefaults`), with a default of the estimator's own only
where it says why (LFADS's optimiser settings, the latent autoencoder's budget). Parameters of
the estimator alone (seeds, devices, validation, guidance, whitening) are defined here. Each
estimator's signature is tested against its table (tests/test_parameters.py); ``check_params``,
the Parameters section of its docstring, ``neurognocchi params`` and docs/parameters.md are
built from it.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping
from functools import partial

from neurognocchi._checks import (
    check_bool,
    check_fraction,
    check_int,
    check_positive_int,
    check_random_state,
    check_real,
    resolve_device,
)
from neurognocchi._params import (
    Parameter,
    choice_check,
    choice_type,
    from_field,
    table,
)
from neurognocchi.diffusion.sampling import SamplerDefaults
from neurognocchi.models.config import (
    LIKELIHOODS,
    GnocchiConfig,
    LfadsConfig,
    PoissonAutoencoderConfig,
)
from neurognocchi.training.config import TrainConfig

__all__ = [
    "CEBRA_PARAMETERS",
    "CONDITIONALS",
    "DISTANCES",
    "GNOCCHI_MODEL",
    "GNOCCHI_PARAMETERS",
    "LATENT_AUTOENCODER",
    "LATENT_PARAMETERS",
    "LFADS_MODEL",
    "LFADS_PARAMETERS",
    "PPCA_PARAMETERS",
    "TRAINING",
    "docstring_section",
    "markdown_table",
    "text_listing",
]


def _check_device(value, name: str) -> None:
    resolve_device(value, name)


# ---------------------------------------------------------------------- shared by the estimators
RANDOM_STATE = Parameter(
    "random_state",
    None,
    "Seed of initialisation, batching, training noise (diffusion noise or dropout masks), "
    "sampling and validation split; None draws one.",
    type="int or None",
    check=check_random_state,
)
DEVICE = Parameter(
    "device",
    "auto",
    'Where to fit and run the model: "auto" takes CUDA when available, else the CPU.',
    type='{"auto", "cpu", "cuda"} or a torch device name',
    check=_check_device,
)
VERBOSE = Parameter("verbose", True, "Progress bars on long work.", type="bool", check=check_bool)
VALID_FRACTION = Parameter(
    "valid_fraction",
    0.1,
    "Fraction of the fitted trials held back (stratified by condition) for the validation "
    "loss, early stopping and the choice of kept weights; 0 disables validation.",
    type="float",
    check=check_fraction,
)
#: Constructor arguments of every trained estimator passed unchanged to :class:`TrainConfig`.
TRAINING = (
    "max_epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "warmup_steps",
    "grad_clip",
    "ema_decay",
    "patience",
    "select_on",
    "precision",
    "compile",
)


def _select_on(*parts: str, **changes) -> dict:
    """The ``select_on`` definition of an estimator whose model's loss has ``parts``."""
    return {"type": choice_type(parts), "check": choice_check(parts), **changes}


def _training(**changes: dict) -> list[Parameter]:
    """The :class:`TrainConfig` parameters, with ``changes[name]`` replacing a definition."""
    return [from_field(TrainConfig, name, **changes.get(name, {})) for name in TRAINING]


_RUN = (RANDOM_STATE, DEVICE, VERBOSE)


HELDOUT_NEURONS = Parameter(
    "heldout_neurons",
    0.0,
    "Share of neurons (0 to <1) never shown to the encoder, for co-smoothing (NLB): they are "
    "drawn from ``random_state`` (an int: the same neurons for every model with that seed; "
    "listed in ``heldout_neurons_`` after fitting), still predicted and scored in training, "
    "and ``reconstruct`` predicts them from the others.",
    type="float",
    check=check_fraction,
)

# ---------------------------------------------------------------------- GNOCCHI
#: GNOCCHI's parameters that are fields of :class:`GnocchiConfig` (copied into it by name).
GNOCCHI_MODEL = tuple(
    from_field(GnocchiConfig, name)
    for name in (
        "code_dim",
        "channels",
        "channel_mults",
        "n_res_blocks",
        "encoder",
        "encoder_dim",
        "encoder_layers",
        "dropout",
        "schedule",
        "n_train_steps",
        "rec_weight",
        "mmd_weight",
        "mmd_bandwidth",
        "encoder_pooling",
        "code_noise",
        "code_dropout",
        "time_channels",
    )
)

_GUIDANCE = Parameter(
    "guidance_scale",
    1.0,
    "Classifier-free guidance of ``generate``: ``v_null + w (v_code - v_null)``; 1 is plain "
    "conditioning (needs ``code_dropout > 0`` otherwise).",
    type="float",
    check=partial(check_real, low=0.0),
)
_WHITEN = Parameter(
    "whiten_codes",
    True,
    "After fitting, make codes zero-mean with identity covariance over the training trials "
    "(an affine map stored in the model; ``generate`` inverts it), so that codes drawn from "
    "N(0, I) by ``sample_prior`` match the training codes' first two moments whatever "
    "``mmd_weight`` is. Least-squares read-outs of the codes are unchanged by it.",
    type="bool",
    check=check_bool,
)
_JOINT = Parameter(
    "joint_behavior",
    False,
    "Generate ``trials.behavior`` with the activity (fit on `Trials` with behaviour): "
    "``generate(..., return_behavior=True)`` returns ``(activity, behavior)``; the encoder "
    "still reads the activity alone.",
    type="bool",
    check=check_bool,
)
_SAMPLING = (
    from_field(
        SamplerDefaults,
        "method",
        name="sampler",
        doc="Default ``method`` of ``generate`` and ``sample_prior``: the hand-written DDIM or "
        "ancestral DDPM, or diffusers' few-step ODE solvers DPM-Solver++ and UniPC.",
    ),
    from_field(
        SamplerDefaults,
        "n_steps",
        name="n_sample_steps",
        doc="Default number of denoising steps (model calls) of ``generate`` and "
        "``sample_prior``; at most ``n_train_steps``.",
        check=check_int,  # its range, [1, n_train_steps], is checked with n_train_steps
    ),
)

#: GNOCCHI's kept weights may be chosen on the validation codes' MMD to the prior: on toy data
#: the codes keep improving after the loss stops tracking them (docs/results.md).
_GNOCCHI_SELECT_ON = _select_on("loss", "mmd")

GNOCCHI_PARAMETERS = table(
    GNOCCHI_MODEL,
    _JOINT,
    _GUIDANCE,
    _WHITEN,
    _SAMPLING,
    _RUN,
    VALID_FRACTION,
    _training(select_on=_GNOCCHI_SELECT_ON),
)

# ---------------------------------------------------------------------- latent GNOCCHI
#: The Poisson autoencoder's parameters that are fields of its config (``ae_`` for its own).
LATENT_AUTOENCODER = (
    from_field(PoissonAutoencoderConfig, "latent_dim"),
    from_field(PoissonAutoencoderConfig, "channels", name="ae_channels"),
    from_field(PoissonAutoencoderConfig, "n_layers", name="ae_layers"),
    from_field(PoissonAutoencoderConfig, "coordinated_dropout", name="ae_coordinated_dropout"),
    from_field(PoissonAutoencoderConfig, "smooth_weight", name="ae_smooth_weight"),
)
_AE_BUDGET = (
    from_field(
        TrainConfig,
        "max_epochs",
        name="ae_epochs",
        default=200,
        doc="Training epochs of the autoencoder (the diffusion's are ``max_epochs``).",
        reason="",
    ),
    from_field(
        TrainConfig,
        "learning_rate",
        name="ae_learning_rate",
        default=2e-3,
        doc="The autoencoder's peak learning rate (the diffusion's is ``learning_rate``).",
    ),
)
_LATENT_HELDOUT = Parameter(
    "heldout_neurons",
    0.0,
    "Share of neurons (0 to <1) never shown to the autoencoder's encoder, for co-smoothing "
    "(NLB): drawn from ``random_state`` (``heldout_neurons_`` after fitting), still scored by "
    "its Poisson loss, and predicted from the others by ``reconstruct``. The codes and the "
    "latents then come from the other neurons alone.",
    type="float",
    check=check_fraction,
)

LATENT_PARAMETERS = table(
    GNOCCHI_MODEL[0],  # code_dim
    LATENT_AUTOENCODER,
    _AE_BUDGET,
    _LATENT_HELDOUT,
    GNOCCHI_MODEL[1:],
    _GUIDANCE,
    _WHITEN,
    _SAMPLING,
    _RUN,
    VALID_FRACTION,
    _training(select_on=_GNOCCHI_SELECT_ON),
)

# ---------------------------------------------------------------------- LFADS
#: LFADS's parameters that are fields of :class:`LfadsConfig` (copied into it by name).
LFADS_MODEL = tuple(
    from_field(LfadsConfig, name)
    for name in (
        "code_dim",
        "encoder_dim",
        "generator_dim",
        "factor_dim",
        "use_controller",
        "controller_dim",
        "inferred_input_dim",
        "kl_weight",
        "l2_weight",
        "kl_warmup_steps",
        "l2_warmup_steps",
        "coordinated_dropout",
        "dropout",
        "clip_hidden",
    )
)
_LIKELIHOOD = Parameter(
    "likelihood",
    "auto",
    '"auto": Poisson on ``trials.spikes`` when present, else Gaussian on activity; a raw array '
    'is continuous activity unless "poisson" (then it must hold counts).',
    type=choice_type(("auto", *LIKELIHOODS)),
    check=choice_check(("auto", *LIKELIHOODS)),
)
_NO_EMA = "No EMA and no weight decay for LFADS: its L2 term regularises the recurrent weights."

LFADS_PARAMETERS = table(
    LFADS_MODEL,
    _LIKELIHOOD,
    HELDOUT_NEURONS,
    _RUN,
    VALID_FRACTION,
    _training(
        batch_size={
            "default": 32,
            "reason": "On the toy data batches of 32 reached a given quality sooner than 64.",
        },
        learning_rate={
            "default": 1e-2,
            "reason": "With batches of 32 (2e-2 was worse on the toy data).",
        },
        weight_decay={"default": 0.0, "reason": _NO_EMA},
        ema_decay={"default": None, "reason": _NO_EMA},
        warmup_steps={
            "default": 100,
            "reason": "Half of the others' (the reason was not recorded).",
        },
        select_on=_select_on(
            "loss",
            "reconstruction",
            doc="The validation metric whose lowest value picks the kept weights and that "
            '``patience`` counts on: ``"loss"`` (the training objective) or '
            '``"reconstruction"`` (the data\'s negative log-likelihood alone).',
        ),
    ),
)

# ---------------------------------------------------------------------- PPCA and CEBRA
PPCA_PARAMETERS = table(
    Parameter(
        "code_dim",
        16,
        "Size of each trial's code (the latent dimension ``q``); must be smaller than the rank "
        "of the centred training data (at most ``n_trials - 1``).",
        type="int",
        check=check_positive_int,
    ),
    Parameter(
        "random_state",
        None,
        "Unused by ``fit`` (an SVD, deterministic); accepted, checked and saved so that PPCA "
        "takes the constructor arguments every estimator shares. ``generate`` and "
        "``sample_prior`` take their own ``random_state``.",
        type="int or None",
        check=check_random_state,
    ),
    Parameter(
        "verbose",
        False,
        "Accepted for the same reason; PPCA prints nothing.",
        type="bool",
        check=check_bool,
    ),
)

CONDITIONALS = ("time", "time_delta")  # CEBRA-Time, CEBRA-Behavior (supervised)
DISTANCES = ("cosine", "euclidean")
_POSITIVE_REAL = partial(check_real, low=0.0, low_open=True)


def _cebra(name: str, default, doc: str, type: str, check=None, reason: str = "") -> Parameter:
    return Parameter(name, default, doc, type=type, reason=reason, check=check)


CEBRA_PARAMETERS = table(
    _cebra(
        "code_dim",
        16,
        "Size of each trial's code, ``time_windows * output_dimension`` (see the module doc).",
        "int",
        check_positive_int,
    ),
    _cebra(
        "conditional",
        "time",
        '"time": CEBRA-Time, self-supervised. "time_delta": CEBRA-Behavior, supervised by the '
        "behaviour of the training trials (``fit`` needs it).",
        choice_type(CONDITIONALS),
        choice_check(CONDITIONALS),
    ),
    _cebra(
        "behavior_names",
        None,
        "Behaviour channels of CEBRA-Behavior; None: all of ``trials.behavior``.",
        "tuple of str or None",
    ),
    _cebra(
        "time_windows",
        1,
        "Stretches of the trial whose mean embeddings are concatenated; must divide code_dim.",
        "int",
        check_positive_int,
    ),
    _cebra(
        "model_architecture",
        "offset10-model",
        "A convolutional ``cebra.models`` network.",
        "str",
        reason="200 ms of context at 20 ms bins, the network of CEBRA's own reaching analyses.",
    ),
    _cebra("num_hidden_units", 32, "Width of the network.", "int", check_positive_int, "CEBRA's."),
    _cebra(
        "time_offsets",
        10,
        "Bins between a reference and its positive. Trials need ``n_time >=`` receptive field "
        "+ time_offsets.",
        "int",
        check_positive_int,
        "200 ms at 20 ms bins, of the order of a reach; CEBRA's reaching demo uses 10.",
    ),
    _cebra(
        "distance",
        "cosine",
        'InfoNCE similarity; "cosine" goes with the normalised networks ("offset10-model"), '
        '"euclidean" with the "-mse" ones.',
        choice_type(DISTANCES),
        choice_check(DISTANCES),
    ),
    _cebra("temperature", 1.0, "InfoNCE temperature.", "float", _POSITIVE_REAL, "CEBRA's."),
    _cebra(
        "batch_size",
        512,
        "Reference, positive and negative windows per step.",
        "int",
        check_positive_int,
        "CEBRA's advice.",
    ),
    _cebra("learning_rate", 3e-4, "Adam step.", "float", _POSITIVE_REAL, "CEBRA's."),
    _cebra(
        "max_iterations",
        2000,
        "Training steps.",
        "int",
        check_positive_int,
        "The loss on reaching trials levels off by then; about 2.5 min on one busy CPU "
        "thread, whatever the number of trials (docs/guide.md).",
    ),
    RANDOM_STATE,
    DEVICE,
    dataclasses.replace(VERBOSE, doc="A progress bar over the iterations.", default=False),
)


def docstring_section(parameters: Mapping[str, Parameter], *, indent: str = "    ") -> str:
    """The numpydoc Parameters entries of ``parameters``, each ``name : type`` then its
    description, its default and the reason for it, wrapped and indented for a class docstring
    (the first line unindented, to follow the docstring's own)."""
    lines = []
    for parameter in parameters.values():
        lines.append(f"{parameter.name} : {parameter.type}")
        text = f"{parameter.doc} Default ``{parameter.default!r}``."
        text += f" {parameter.reason}" if parameter.reason else ""
        lines.extend(textwrap.wrap(text, width=92, initial_indent="    ", subsequent_indent="    "))
    return textwrap.indent("\n".join(lines), indent).lstrip()


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + ("." if dot else "")


def text_listing(parameters: Mapping[str, Parameter]) -> str:
    """One line per parameter for a terminal: name, default, what it is (its first sentence)."""
    width = max(len(name) for name in parameters)
    defaults = {name: repr(parameter.default) for name, parameter in parameters.items()}
    shown = max(len(text) for text in defaults.values())
    return "\n".join(
        f"{name:<{width}}  {defaults[name]:<{shown}}  {_first_sentence(parameter.doc)}"
        for name, parameter in parameters.items()
    )


def markdown_table(parameters: Mapping[str, Parameter]) -> str:
    """A Markdown table of ``parameters``: name, type, default, description and reason."""
    rows = ["| parameter | type | default | what it is, and why the default |", "|---|---|---|---|"]
    for name, parameter in parameters.items():
        text = parameter.doc + (f" *{parameter.reason}*" if parameter.reason else "")
        cells = (f"`{name}`", parameter.type, f"`{parameter.default!r}`", text)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)
