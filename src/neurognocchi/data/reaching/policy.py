"""The GRU reaching policy, its file format, and the policy shipped with the package.

A policy file is one ``torch.save`` of tensors and a JSON string (loaded with
``weights_only=True``): the weights, the format version, the :class:`ArmConfig` the weights
were trained for and the :class:`PolicyTrainConfig` they were trained with. The training
curve is written beside it (``<stem>_curve.json`` / ``.csv``). :class:`PolicyTrainConfig` is
defined here, with the format that records it, and used by
:mod:`~neurognocchi.data.reaching.train_policy`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from neurognocchi._checks import check_int, check_positive_int, check_real
from neurognocchi._config import JsonConfig
from neurognocchi._io import atomic_write, atomic_write_text
from neurognocchi.data.reaching.arm import ArmConfig

__all__ = [
    "POLICY_FORMAT_VERSION",
    "PolicyTrainConfig",
    "ReachingPolicy",
    "default_policy_path",
    "load_policy",
    "save_policy",
]

POLICY_FORMAT_VERSION = 1
_DEFAULT_ARM = ArmConfig()  # frozen, so one shared default instance is safe


@dataclass(frozen=True)
class PolicyTrainConfig(JsonConfig):
    """How the shipped policy was trained: trial timing, targets, loss and optimiser.

    Targets are drawn half from the ``grid_size x grid_size`` grid of spacing ``grid_spacing_cm``
    and half uniformly over the square it spans (plus ``margin_cm``), so the policy reaches any
    target inside it; start positions are uniform in a disc of ``start_radius_cm``. (Called
    ``TrainConfig`` before 0.2, a name it shared with the models' training settings.)

    Examples
    --------
    >>> PolicyTrainConfig(n_updates=2).batch_size
    32
    """

    n_updates: int = 2500  # Adam updates, each on freshly sampled trials
    batch_size: int = 32  # trials per update
    n_steps: int = 120  # 10 ms steps per training trial (1.2 s)
    learning_rate: float = 2e-3  # peak of the cosine decay to a tenth of it
    grid_size: int = 5  # the datasets' default grid
    grid_spacing_cm: float = 3.0  # the datasets' default spacing
    margin_cm: float = 1.0  # off-grid targets reach this far beyond the grid
    start_radius_cm: float = 2.0  # start positions vary around the centre
    target_onset_s: tuple[float, float] = (0.05, 0.2)  # uniform range of target onset
    delay_s: tuple[float, float] = (0.2, 0.5)  # uniform range of the delay to the go cue
    excitation_cost: float = 1e-2  # weight of mean squared excitation in the loss
    activity_cost: float = 1e-3  # weight of mean squared unit activity in the loss
    seed: int = 0  # initial weights and trial sampling

    def __post_init__(self):
        for name in ("target_onset_s", "delay_s"):  # JSON gives lists: keep configs comparable
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("n_updates", "batch_size", "n_steps", "grid_size"):
            check_positive_int(getattr(self, name), name)
        check_real(self.learning_rate, "learning_rate", low=0.0, low_open=True)
        check_real(self.grid_spacing_cm, "grid_spacing_cm", low=0.0, low_open=True)
        for name in ("margin_cm", "start_radius_cm", "excitation_cost", "activity_cost"):
            check_real(getattr(self, name), name, low=0.0)
        check_int(self.seed, "seed")


class ReachingPolicy(nn.Module):
    """GRU cell with a learned initial state and a sigmoid readout to six muscle excitations.

    Parameters
    ----------
    config : ArmConfig
        The arm the policy drives (input size and number of units).
    """

    def __init__(self, config: ArmConfig = _DEFAULT_ARM):
        super().__init__()
        self.config = config
        self.gru = nn.GRUCell(config.n_inputs, config.n_units)
        self.readout = nn.Linear(config.n_units, 6)
        self.h0 = nn.Parameter(torch.zeros(config.n_units))
        with torch.no_grad():
            self.readout.bias.fill_(-3.0)  # start with low excitations
            self.readout.weight.mul_(0.1)
        # Mean and s.d. of each unit over a reference batch: fixes the unit -> neuron mapping.
        self.register_buffer("unit_mean", torch.zeros(config.n_units))
        self.register_buffer("unit_std", torch.ones(config.n_units))

    def forward(self, inputs, hidden, noise):  # (B, I), (B, H), (B, H)
        hidden = self.gru(inputs, hidden) + noise  # (B, H)
        return hidden, torch.sigmoid(self.readout(hidden))  # (B, H), (B, 6)


def _metadata(policy: ReachingPolicy, train_config: PolicyTrainConfig) -> dict:
    return {
        "format_version": POLICY_FORMAT_VERSION,
        "arm_config": dataclasses.asdict(policy.config),
        "train_config": dataclasses.asdict(train_config),
    }


def save_policy(
    path: str | os.PathLike,
    policy: ReachingPolicy,
    train_config: PolicyTrainConfig,
    history: dict | None = None,
) -> Path:
    """Write weights + metadata (one ``.pt`` of tensors and a JSON string) and the training
    curve (``<stem>_curve.json`` / ``.csv``), each atomically.

    Parameters
    ----------
    path : path
        The ``.pt`` file to write.
    policy : ReachingPolicy
    train_config : PolicyTrainConfig
        Recorded in the metadata.
    history : dict of lists, optional
        The training curve (see :func:`~neurognocchi.data.reaching.train_policy.train_policy`).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    payload = {
        "metadata": json.dumps(_metadata(policy, train_config), sort_keys=True),
        "state_dict": {key: value.detach().clone() for key, value in policy.state_dict().items()},
    }
    with atomic_write(path) as handle:
        torch.save(payload, handle)
    if history is not None:
        stem = path.with_name(path.stem + "_curve")
        atomic_write_text(stem.with_suffix(".json"), json.dumps(history))
        rows = zip(*history.values(), strict=True)
        lines = [",".join(history)] + [",".join(f"{value:g}" for value in row) for row in rows]
        atomic_write_text(stem.with_suffix(".csv"), "\n".join(lines) + "\n")
    return path


def default_policy_path() -> Path:
    """The policy shipped with the package (found beside this module, so an editable install
    works too).

    Examples
    --------
    >>> default_policy_path().name
    'reaching_policy.pt'
    """
    return Path(__file__).resolve().parent / "policies" / "reaching_policy.pt"


def _as_tuples(config: dict) -> dict:
    return {key: tuple(val) if isinstance(val, list) else val for key, val in config.items()}


def load_policy(
    path: str | os.PathLike | None = None,
) -> tuple[ReachingPolicy, PolicyTrainConfig]:
    """Load a policy saved by `train_policy` (default: the shipped one).

    Parameters
    ----------
    path : path, optional
        A policy file; default :func:`default_policy_path`.

    Returns
    -------
    policy : ReachingPolicy
        In eval mode, on the CPU.
    train_config : PolicyTrainConfig
        How it was trained.

    Raises
    ------
    ValueError
        When the file was made by another format version or for another arm configuration
        than the current code's, or when its weights do not fit the network.
    """
    path = default_policy_path() if path is None else Path(path)
    hint = "retrain it with `neurognocchi synth train-policy`"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        metadata = json.loads(payload["metadata"])
        state_dict = payload["state_dict"]
    except FileNotFoundError:
        raise
    except Exception as error:  # corrupt file, pickle refused, missing keys
        raise ValueError(f"{str(path)!r} is not a readable policy file ({error}); {hint}") from None
    _check_metadata(path, metadata, hint)
    policy = ReachingPolicy(ArmConfig())
    try:
        policy.load_state_dict(state_dict)
    except RuntimeError as error:
        raise ValueError(
            f"policy file {str(path)!r} does not fit the network: {error}; {hint}"
        ) from None
    train_config = PolicyTrainConfig(**_as_tuples(metadata["train_config"]))
    return policy.eval(), train_config


def _check_metadata(path: Path, metadata: dict, hint: str) -> None:
    """Refuse a file of another format version or trained for another arm configuration."""
    if metadata.get("format_version") != POLICY_FORMAT_VERSION:
        raise ValueError(
            f"policy file {str(path)!r} has format version {metadata.get('format_version')!r}, "
            f"this code reads version {POLICY_FORMAT_VERSION}; {hint}"
        )
    expected = dataclasses.asdict(ArmConfig())
    if _as_tuples(metadata.get("arm_config", {})) != _as_tuples(expected):
        raise ValueError(
            f"policy file {str(path)!r} was trained for arm config {metadata.get('arm_config')}, "
            f"the current code uses {expected}; {hint}"
        )
