"""A GRU policy that drives MotorNet's six-muscle arm to targets, and its training.

The arm is MotorNet's ``RigidTendonArm26`` (two joints, six Hill-type muscles, 10 ms Euler
steps). Each step the policy sees the target (x, y, from target onset), a go cue, delayed
visual feedback of the fingertip and delayed proprioception (muscle lengths and velocities),
all with sensory noise; a 128-unit GRU (with recurrent noise) outputs six muscle excitations
(with motor noise). Positions are in cm relative to the workspace centre: the fingertip at
the central posture (shoulder 45 deg, elbow 90 deg).

MotorNet (GPL-3) is an optional dependency used only as an imported library; it is imported
inside functions, so ``import neurognocchi`` never needs it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurognocchi._io import atomic_write, atomic_write_text

POLICY_FORMAT_VERSION = 1
CM_PER_M = 100.0
_INPUT_SCALE_CM = 10.0  # target and fingertip inputs are given in units of 10 cm


@dataclass(frozen=True)
class ArmConfig:
    """The arm, its sensors and noise (everything the policy's weights depend on).

    ``vision_delay_s``/``proprioception_delay_s`` are feedback delays (whole 10 ms steps);
    ``motor_noise`` is the s.d. of noise added to each excitation, ``sensory_noise`` the s.d.
    added to each (scaled) sensory input and ``recurrent_noise`` the s.d. added to the GRU state
    every step.
    """

    dt_s: float = 0.01
    n_units: int = 128
    centre_joint_deg: tuple[float, float] = (45.0, 90.0)
    vision_delay_s: float = 0.07
    proprioception_delay_s: float = 0.02
    motor_noise: float = 0.01
    sensory_noise: float = 0.01
    recurrent_noise: float = 0.01

    @property
    def n_inputs(self) -> int:
        return 2 + 1 + 2 + 12  # target, go cue, fingertip, muscle lengths and velocities


@dataclass(frozen=True)
class TrainConfig:
    """How the shipped policy was trained: trial timing, targets, loss and optimiser.

    Targets are drawn half from the ``grid_size x grid_size`` grid of spacing ``grid_spacing_cm``
    and half uniformly over the square it spans (plus ``margin_cm``), so the policy reaches any
    target inside it; start positions are uniform in a disc of ``start_radius_cm``.
    """

    n_updates: int = 2500
    batch_size: int = 32
    n_steps: int = 120
    learning_rate: float = 2e-3
    grid_size: int = 5
    grid_spacing_cm: float = 3.0
    margin_cm: float = 1.0
    start_radius_cm: float = 2.0
    target_onset_s: tuple[float, float] = (0.05, 0.2)
    delay_s: tuple[float, float] = (0.2, 0.5)
    excitation_cost: float = 1e-2
    activity_cost: float = 1e-3
    seed: int = 0


class ReachingPolicy(nn.Module):
    """GRU cell with a learned initial state and a sigmoid readout to six muscle excitations."""

    def __init__(self, config: ArmConfig = ArmConfig()):
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
        hidden = self.gru(inputs, hidden) + noise
        return hidden, torch.sigmoid(self.readout(hidden))


def _import_motornet():
    try:
        import motornet
    except ImportError as error:
        raise ImportError(
            "the reaching dataset needs MotorNet; install it with "
            "`pip install 'neurognocchi[motor]'` (or `pip install motornet`)"
        ) from error
    return motornet


def make_arm(config: ArmConfig = ArmConfig()):
    """MotorNet's ``RigidTendonArm26`` with rigid-tendon Hill muscles and ``config.dt_s`` steps."""
    motornet = _import_motornet()
    muscle = motornet.muscle.RigidTendonHillMuscle()
    return motornet.effector.RigidTendonArm26(muscle=muscle, timestep=config.dt_s)


def centre_fingertip_m(arm, config: ArmConfig) -> torch.Tensor:
    """Fingertip (x, y) in metres at the central posture, shape (2,)."""
    joint = torch.tensor([[*np.deg2rad(config.centre_joint_deg).tolist(), 0.0, 0.0]])
    return arm.joint2cartesian(joint.float())[0, :2]


def joints_for_fingertip(arm, fingertip_m: torch.Tensor) -> torch.Tensor:
    """Joint angles (rad) putting the fingertip at ``fingertip_m`` (B, 2), elbow flexed; (B, 2)."""
    l1, l2 = float(arm.skeleton.L1), float(arm.skeleton.L2)
    x, y = fingertip_m[:, 0].double(), fingertip_m[:, 1].double()
    cos_elbow = ((x**2 + y**2 - l1**2 - l2**2) / (2 * l1 * l2)).clamp(-1.0, 1.0)
    elbow = torch.acos(cos_elbow)
    shoulder = torch.atan2(y, x) - torch.atan2(l2 * torch.sin(elbow), l1 + l2 * cos_elbow)
    return torch.stack([shoulder, elbow], dim=1).float()


def _sensors(arm, centre_m):
    """Scaled fingertip position and muscle length/velocity, (B, 2) and (B, 12)."""
    muscle = arm.states["muscle"]  # (B, 7, 6)
    lengths = muscle[:, 1, :] / arm.muscle.l0_ce[0]
    velocities = muscle[:, 2, :] / arm.muscle.vmax[0]
    fingertip = (arm.states["fingertip"] - centre_m) * CM_PER_M / _INPUT_SCALE_CM
    return fingertip, torch.cat([lengths, velocities], dim=1)


def rollout(policy, arm, *, start_cm, target_cm, onset_step, go_step, n_steps, generator):
    """Simulate a batch of trials; noise comes from ``generator`` only.

    Parameters
    ----------
    start_cm, target_cm : tensor, shape (B, 2)
        Start and target fingertip positions, cm relative to the workspace centre.
    onset_step, go_step : long tensor, shape (B,)
        Step at which the target appears and at which the go cue turns on.

    Returns
    -------
    dict with ``position`` and ``velocity`` (B, T, 2) in cm and cm/s, ``hidden`` (B, T, H) and
    ``excitation`` (B, T, 6).
    """
    config = policy.config
    batch = start_cm.shape[0]
    centre_m = centre_fingertip_m(arm, config)
    joint = joints_for_fingertip(arm, centre_m + start_cm / CM_PER_M)
    arm.reset(options={"batch_size": batch, "joint_state": torch.cat([joint, 0 * joint], 1)})
    vision_lag = round(config.vision_delay_s / config.dt_s)
    proprio_lag = round(config.proprioception_delay_s / config.dt_s)
    vision, proprio = [], []
    hidden = policy.h0.expand(batch, -1)
    out = {key: [] for key in ("position", "velocity", "hidden", "excitation")}
    for step in range(n_steps):
        fingertip, muscle = _sensors(arm, centre_m)
        vision.append(fingertip)
        proprio.append(muscle)
        delayed = [vision[max(step - vision_lag, 0)], proprio[max(step - proprio_lag, 0)]]
        sensed = torch.cat(delayed, dim=1)
        sensed = sensed + config.sensory_noise * _noise(sensed.shape, generator)
        shown = (step >= onset_step).float()[:, None]
        go = (step >= go_step).float()[:, None]
        inputs = torch.cat([shown * target_cm / _INPUT_SCALE_CM, go, sensed], dim=1)
        noise = config.recurrent_noise * _noise(hidden.shape, generator)
        hidden, excitation = policy(inputs, hidden, noise)
        excitation = excitation + config.motor_noise * _noise(excitation.shape, generator)
        arm.step(excitation.clamp(0.0, 1.0))
        cartesian = arm.states["cartesian"]  # (B, 4): x, y, vx, vy in m, m/s
        out["position"].append((cartesian[:, :2] - centre_m) * CM_PER_M)
        out["velocity"].append(cartesian[:, 2:] * CM_PER_M)
        out["hidden"].append(hidden)
        out["excitation"].append(excitation)
    return {key: torch.stack(value, dim=1) for key, value in out.items()}


def _noise(shape, generator):
    return torch.randn(shape, generator=generator)


def sample_conditions(config: TrainConfig, batch: int, generator: torch.Generator):
    """Random training trials: start, target (cm), onset and go steps."""
    from neurognocchi.data.grid import grid_targets

    def uniform(low, high, size):
        return low + (high - low) * torch.rand(size, generator=generator)

    radius = config.start_radius_cm * uniform(0.0, 1.0, batch).sqrt()
    angle = uniform(0.0, 2 * math.pi, batch)
    start = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    grid = torch.as_tensor(grid_targets(config.grid_size, config.grid_spacing_cm)).float()
    half = grid.abs().max() + config.margin_cm
    on_grid = grid[torch.randint(len(grid), (batch,), generator=generator)]
    anywhere = uniform(-half, half, (batch, 2))
    target = torch.where(torch.rand(batch, 1, generator=generator) < 0.5, on_grid, anywhere)
    dt = ArmConfig.dt_s
    onset = (uniform(*config.target_onset_s, batch) / dt).round().long()
    go = onset + (uniform(*config.delay_s, batch) / dt).round().long()
    return start, target, onset, go


def reaching_loss(trajectory, start, target, go_step, config: TrainConfig):
    """Mean fingertip distance (cm) to the start before the go cue and to the target after it,
    plus small costs on squared excitations and unit activity."""
    n_steps = trajectory["position"].shape[1]
    after_go = (torch.arange(n_steps)[None, :] >= go_step[:, None])[..., None]  # (B, T, 1)
    desired = torch.where(after_go, target[:, None, :], start[:, None, :])
    distance = (trajectory["position"] - desired).norm(dim=-1).mean()
    excitation = trajectory["excitation"].pow(2).mean()
    activity = trajectory["hidden"].pow(2).mean()
    total = distance + config.excitation_cost * excitation + config.activity_cost * activity
    return total, distance


def _learning_rate(config: TrainConfig, update: int) -> float:
    """Cosine decay from ``learning_rate`` to a tenth of it."""
    progress = update / max(1, config.n_updates - 1)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _sampled_rollout(policy, arm, config: TrainConfig, batch_size: int, generator):
    """Roll the policy out on ``batch_size`` freshly sampled trials; returns the trajectory and
    the trials' start, target and go step."""
    start, target, onset, go = sample_conditions(config, batch_size, generator)
    trajectory = rollout(
        policy,
        arm,
        start_cm=start,
        target_cm=target,
        onset_step=onset,
        go_step=go,
        n_steps=config.n_steps,
        generator=generator,
    )
    return trajectory, start, target, go


@torch.no_grad()
def _fit_unit_statistics(policy, arm, config: TrainConfig) -> None:
    """Store each unit's mean and s.d. over a fixed reference batch of 256 trials."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    trajectory, *_ = _sampled_rollout(policy, arm, config, 256, generator)
    hidden = trajectory["hidden"].reshape(-1, policy.config.n_units)
    policy.unit_mean.copy_(hidden.mean(0))
    policy.unit_std.copy_(hidden.std(0).clamp_min(1e-3))


def train_policy(
    path: str | os.PathLike,
    *,
    arm_config: ArmConfig = ArmConfig(),
    train_config: TrainConfig = TrainConfig(),
    verbose: bool = True,
    checkpoint_every: int = 250,
) -> dict[str, list[float]]:
    """Train a reaching policy with Adam and save it to ``path`` (a ``.pt`` file).

    Loss: mean fingertip distance to the start before the go cue and to the target after it,
    plus small excitation and activity costs (see `reaching_loss`). Training curve is written
    beside the weights as ``<path stem>_curve.json`` and ``.csv``; weights and curve are
    written atomically every ``checkpoint_every`` updates and at the end. Uses the threads
    torch is set to; call ``torch.set_num_threads`` first to limit them.

    Returns
    -------
    history : dict
        ``update``, ``loss``, ``distance_cm`` (per update) and ``seconds`` (cumulative).
    """
    from tqdm.auto import tqdm

    if train_config.n_updates < 1 or train_config.batch_size < 1:
        raise ValueError(
            f"n_updates and batch_size must be >= 1; got {train_config.n_updates}, "
            f"{train_config.batch_size}"
        )
    with torch.random.fork_rng():  # seeded initial weights without touching the global RNG
        torch.manual_seed(train_config.seed)
        policy = ReachingPolicy(arm_config)
    arm = make_arm(arm_config)
    generator = torch.Generator().manual_seed(train_config.seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=train_config.learning_rate)
    history = {"update": [], "loss": [], "distance_cm": [], "seconds": []}
    started = time.perf_counter()
    show = verbose and sys.stderr.isatty()
    with tqdm(total=train_config.n_updates, desc="policy", unit="update", disable=not show) as bar:
        for update in range(train_config.n_updates):
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(train_config, update)
            loss, distance = _train_step(policy, arm, optimizer, train_config, generator)
            for key, value in zip(
                history, (update + 1, loss, distance, time.perf_counter() - started), strict=True
            ):
                history[key].append(value)
            bar.set_postfix(distance_cm=f"{distance:.2f}")
            bar.update()
            if (update + 1) % checkpoint_every == 0 or update + 1 == train_config.n_updates:
                save_policy(path, policy, train_config, history)
    _fit_unit_statistics(policy, arm, train_config)
    save_policy(path, policy, train_config, history)
    return history


def _train_step(policy, arm, optimizer, config: TrainConfig, generator) -> tuple[float, float]:
    trajectory, start, target, go = _sampled_rollout(
        policy, arm, config, config.batch_size, generator
    )
    loss, distance = reaching_loss(trajectory, start, target, go, config)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    optimizer.step()
    return float(loss.detach()), float(distance.detach())


def _metadata(policy: ReachingPolicy, train_config: TrainConfig) -> dict:
    return {
        "format_version": POLICY_FORMAT_VERSION,
        "arm_config": dataclasses.asdict(policy.config),
        "train_config": dataclasses.asdict(train_config),
    }


def save_policy(path, policy: ReachingPolicy, train_config: TrainConfig, history=None) -> Path:
    """Write weights + metadata (one ``.pt`` of tensors and a JSON string) and the training
    curve (``<stem>_curve.json`` / ``.csv``), each atomically."""
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
    """The policy shipped with the package."""
    return Path(str(resources.files("neurognocchi.data") / "policies" / "reaching_policy.pt"))


def _as_tuples(config: dict) -> dict:
    return {key: tuple(val) if isinstance(val, list) else val for key, val in config.items()}


def load_policy(path: str | os.PathLike | None = None) -> tuple[ReachingPolicy, TrainConfig]:
    """Load a policy saved by `train_policy` (default: the shipped one).

    Raises ValueError when the file was made by another format version or for another arm
    configuration than the current code's, or when its weights do not fit the network.
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
    policy = ReachingPolicy(ArmConfig())
    try:
        policy.load_state_dict(state_dict)
    except RuntimeError as error:
        raise ValueError(
            f"policy file {str(path)!r} does not fit the network: {error}; {hint}"
        ) from None
    train_config = TrainConfig(**_as_tuples(metadata["train_config"]))
    return policy.eval(), train_config
