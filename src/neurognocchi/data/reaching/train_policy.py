"""Training a reaching policy: random training trials, the reaching loss and the Adam loop.

The shipped policy was trained with :func:`train_policy` and the defaults of
:class:`PolicyTrainConfig` (``neurognocchi synth train-policy`` runs it). The learning rate
follows the models' schedule, :func:`neurognocchi.training.config.learning_rate_at`, without
warm-up: a cosine decay from ``learning_rate`` at the first update to a tenth of it at the last.
"""

from __future__ import annotations

import math
import os
import sys
import time

import torch
from torch import nn

from neurognocchi._checks import check_positive_int
from neurognocchi.data.grid import grid_targets
from neurognocchi.data.reaching.arm import ArmConfig, make_arm, rollout
from neurognocchi.data.reaching.policy import PolicyTrainConfig, ReachingPolicy, save_policy
from neurognocchi.training.config import TrainConfig, learning_rate_at

_DEFAULT_ARM = ArmConfig()  # frozen configs, so shared default instances are safe
_DEFAULT_TRAINING = PolicyTrainConfig()

__all__ = [
    "PolicyTrainConfig",
    "policy_learning_rate",
    "reaching_loss",
    "sample_conditions",
    "train_policy",
]


def sample_conditions(config: PolicyTrainConfig, batch: int, generator: torch.Generator):
    """Random training trials: start, target (cm), onset and go steps.

    Returns
    -------
    start, target : tensor, shape (batch, 2)
        Fingertip start and target, cm relative to the workspace centre.
    onset, go : long tensor, shape (batch,)
        Steps of target onset and of the go cue.
    """

    def uniform(low, high, size):
        return low + (high - low) * torch.rand(size, generator=generator)

    radius = config.start_radius_cm * uniform(0.0, 1.0, batch).sqrt()
    angle = uniform(0.0, 2 * math.pi, batch)
    start = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)  # (B, 2)
    grid = torch.as_tensor(grid_targets(config.grid_size, config.grid_spacing_cm)).float()
    half = grid.abs().max() + config.margin_cm
    on_grid = grid[torch.randint(len(grid), (batch,), generator=generator)]
    anywhere = uniform(-half, half, (batch, 2))
    target = torch.where(torch.rand(batch, 1, generator=generator) < 0.5, on_grid, anywhere)
    dt = ArmConfig.dt_s
    onset = (uniform(*config.target_onset_s, batch) / dt).round().long()
    go = onset + (uniform(*config.delay_s, batch) / dt).round().long()
    return start, target, onset, go


def reaching_loss(trajectory, start, target, go_step, config: PolicyTrainConfig):
    """Mean fingertip distance (cm) to the start before the go cue and to the target after it,
    plus small costs on squared excitations and unit activity.

    Returns
    -------
    total, distance : scalar tensors
        The loss and its distance term (cm).
    """
    n_steps = trajectory["position"].shape[1]
    after_go = (torch.arange(n_steps)[None, :] >= go_step[:, None])[..., None]  # (B, T, 1)
    desired = torch.where(after_go, target[:, None, :], start[:, None, :])  # (B, T, 2)
    distance = (trajectory["position"] - desired).norm(dim=-1).mean()
    excitation = trajectory["excitation"].pow(2).mean()
    activity = trajectory["hidden"].pow(2).mean()
    total = distance + config.excitation_cost * excitation + config.activity_cost * activity
    return total, distance


def policy_learning_rate(config: PolicyTrainConfig, update: int) -> float:
    """Cosine decay from ``learning_rate`` (first update) to a tenth of it (last update).

    The models' schedule :func:`~neurognocchi.training.config.learning_rate_at` without
    warm-up, with the last update as its final step.

    Examples
    --------
    >>> config = PolicyTrainConfig(n_updates=3, learning_rate=1.0)
    >>> [round(policy_learning_rate(config, update), 3) for update in range(3)]
    [1.0, 0.55, 0.1]
    """
    schedule = TrainConfig(learning_rate=config.learning_rate, warmup_steps=0)
    return learning_rate_at(update, total_steps=config.n_updates - 1, config=schedule)


def _sampled_rollout(policy, arm, config: PolicyTrainConfig, batch_size: int, generator):
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
def _fit_unit_statistics(policy, arm, config: PolicyTrainConfig) -> None:
    """Store each unit's mean and s.d. over a fixed reference batch of 256 trials."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    trajectory, *_ = _sampled_rollout(policy, arm, config, 256, generator)
    hidden = trajectory["hidden"].reshape(-1, policy.config.n_units)  # (256 * T, H)
    policy.unit_mean.copy_(hidden.mean(0))
    policy.unit_std.copy_(hidden.std(0).clamp_min(1e-3))


def train_policy(
    path: str | os.PathLike,
    *,
    arm_config: ArmConfig = _DEFAULT_ARM,
    train_config: PolicyTrainConfig = _DEFAULT_TRAINING,
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

    checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
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
                group["lr"] = policy_learning_rate(train_config, update)
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


def _train_step(policy, arm, optimizer, config: PolicyTrainConfig, generator):
    """One Adam update on freshly sampled trials; returns (loss, distance in cm) as floats."""
    trajectory, start, target, go = _sampled_rollout(
        policy, arm, config, config.batch_size, generator
    )
    loss, distance = reaching_loss(trajectory, start, target, go, config)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    optimizer.step()
    return float(loss.detach()), float(distance.detach())
