"""MotorNet glue: the six-muscle arm, what the policy senses of it, and a batch rollout.

The arm is MotorNet's ``RigidTendonArm26`` (two joints, six Hill-type muscles, 10 ms Euler
steps). Each step the policy sees the target (x, y, from target onset), a go cue, delayed
visual feedback of the fingertip and delayed proprioception (muscle lengths and velocities),
all with sensory noise; a 128-unit GRU (with recurrent noise) outputs six muscle excitations
(with motor noise). Positions are in cm relative to the workspace centre: the fingertip at
the central posture (shoulder 45 deg, elbow 90 deg).

MotorNet (GPL-3) is an optional dependency used only as an imported library; it is imported
inside :func:`import_motornet`, so ``import neurognocchi`` never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neurognocchi._checks import check_positive_int, check_real
from neurognocchi._config import JsonConfig

__all__ = [
    "CM_PER_M",
    "INPUT_SCALE_CM",
    "ArmConfig",
    "centre_fingertip_m",
    "import_motornet",
    "joints_for_fingertip",
    "make_arm",
    "rollout",
    "sensors",
]

CM_PER_M = 100.0
INPUT_SCALE_CM = 10.0  # target and fingertip inputs are given in units of 10 cm


@dataclass(frozen=True)
class ArmConfig(JsonConfig):
    """The arm, its sensors and noise (everything the policy's weights depend on).

    ``vision_delay_s``/``proprioception_delay_s`` are feedback delays (whole 10 ms steps);
    ``motor_noise`` is the s.d. of noise added to each excitation, ``sensory_noise`` the s.d.
    added to each (scaled) sensory input and ``recurrent_noise`` the s.d. added to the GRU state
    every step.

    Examples
    --------
    >>> ArmConfig().n_inputs
    17
    """

    dt_s: float = 0.01  # MotorNet's Euler step and the simulation bin
    n_units: int = 128  # GRU units: the population the datasets record from
    centre_joint_deg: tuple[float, float] = (45.0, 90.0)  # posture of the workspace centre
    vision_delay_s: float = 0.07  # visual feedback lags behind the fingertip
    proprioception_delay_s: float = 0.02  # muscle feedback is faster than vision
    motor_noise: float = 0.01  # s.d. added to each excitation
    sensory_noise: float = 0.01  # s.d. added to each scaled sensory input
    recurrent_noise: float = 0.01  # s.d. added to the GRU state each step

    def __post_init__(self):
        # JSON gives a list: keep configs comparable
        object.__setattr__(self, "centre_joint_deg", tuple(self.centre_joint_deg))
        check_real(self.dt_s, "dt_s", low=0.0, low_open=True)
        check_positive_int(self.n_units, "n_units")
        for name in (
            "vision_delay_s",
            "proprioception_delay_s",
            "motor_noise",
            "sensory_noise",
            "recurrent_noise",
        ):
            check_real(getattr(self, name), name, low=0.0)

    @property
    def n_inputs(self) -> int:
        return 2 + 1 + 2 + 12  # target, go cue, fingertip, muscle lengths and velocities


def import_motornet():
    """The ``motornet`` module; ImportError with the install command when it is missing."""
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
    motornet = import_motornet()
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


def sensors(arm, centre_m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled fingertip position and muscle length/velocity, (B, 2) and (B, 12)."""
    muscle = arm.states["muscle"]  # (B, 7, 6)
    lengths = muscle[:, 1, :] / arm.muscle.l0_ce[0]
    velocities = muscle[:, 2, :] / arm.muscle.vmax[0]
    fingertip = (arm.states["fingertip"] - centre_m) * CM_PER_M / INPUT_SCALE_CM
    return fingertip, torch.cat([lengths, velocities], dim=1)


def rollout(policy, arm, *, start_cm, target_cm, onset_step, go_step, n_steps, generator):
    """Simulate a batch of trials; noise comes from ``generator`` only.

    Parameters
    ----------
    policy : ReachingPolicy
        The GRU policy (:class:`~neurognocchi.data.reaching.policy.ReachingPolicy`).
    arm : motornet effector
        From :func:`make_arm`.
    start_cm, target_cm : tensor, shape (B, 2)
        Start and target fingertip positions, cm relative to the workspace centre.
    onset_step, go_step : long tensor, shape (B,)
        Step at which the target appears and at which the go cue turns on.
    n_steps : int
        Steps to simulate.
    generator : torch.Generator
        Source of the sensory, recurrent and motor noise.

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
    hidden = policy.h0.expand(batch, -1)  # (B, H)
    out = {key: [] for key in ("position", "velocity", "hidden", "excitation")}
    for step in range(n_steps):
        fingertip, muscle = sensors(arm, centre_m)
        vision.append(fingertip)
        proprio.append(muscle)
        delayed = [vision[max(step - vision_lag, 0)], proprio[max(step - proprio_lag, 0)]]
        sensed = torch.cat(delayed, dim=1)  # (B, 14)
        sensed = sensed + config.sensory_noise * _noise(sensed.shape, generator)
        shown = (step >= onset_step).float()[:, None]
        go = (step >= go_step).float()[:, None]
        inputs = torch.cat([shown * target_cm / INPUT_SCALE_CM, go, sensed], dim=1)  # (B, I)
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
