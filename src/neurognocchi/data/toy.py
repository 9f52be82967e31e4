"""A toy reaching-like dataset with known ground truth, made in well under a second.

Trial-level variables (a target on a grid and a continuously varying start position) drive
nine latent signals (preparatory reach vector, posture at the start, hand position, hand
velocity, speed and a condition-independent movement signal); each neuron's log-rate is a
random linear mix of the latents, and spikes are Poisson. The hand moves from the start to
the target along a minimum-jerk path after the go cue.

Positions here have no physical unit: ``grid_spacing``, ``start_sd``, the targets, the starts
and the hand position all share one arbitrary length unit (velocities are that unit per
second). The defaults mimic a workspace a few centimetres wide, but nothing depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_int, check_random_state, check_real
from neurognocchi.data.grid import default_heldout_conditions, grid_targets
from neurognocchi.data.preprocess import gaussian_smooth
from neurognocchi.data.trials import Trials

__all__ = ["BEHAVIOR_NAMES", "make_toy_dataset"]

BEHAVIOR_NAMES = ("hand_x", "hand_y", "hand_vx", "hand_vy")


def _minimum_jerk(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position fraction and its derivative (per unit tau) of a minimum-jerk reach."""
    tau = np.clip(tau, 0.0, 1.0)
    position = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    velocity = 30 * tau**2 - 60 * tau**3 + 30 * tau**4
    return position, velocity


def _hand_paths(start, target, time_s, go_time_s, reach_duration_s):
    """Hand position and velocity, each (n_trials, n_time, 2), in the units of start/target."""
    fraction, speed = _minimum_jerk((time_s - go_time_s) / reach_duration_s)  # (T,)
    reach = (target - start)[:, None, :]  # (B, 1, 2)
    position = start[:, None, :] + fraction[None, :, None] * reach
    velocity = speed[None, :, None] * reach / reach_duration_s
    return position, velocity


def _latents(start, target, position, velocity, time_s, go_time_s, spacing, start_sd):
    """Nine latent signals of order one, (n_trials, n_time, 9)."""
    extent = 2 * spacing
    preparatory = np.exp(-0.5 * ((time_s - go_time_s + 0.05) / 0.12) ** 2)  # peaks before go
    movement = 1 / (1 + np.exp(-(time_s - go_time_s - 0.1) / 0.05))  # condition-independent
    reach = (target - start)[:, None, :] / extent * preparatory[None, :, None]
    speed = np.linalg.norm(velocity, axis=-1, keepdims=True)
    velocity_scale = np.abs(velocity).max() + 1e-12
    posture = np.broadcast_to(start[:, None, :] / (2 * start_sd), position.shape)
    return np.concatenate(
        [
            reach,
            posture,
            position / extent,
            velocity / velocity_scale,
            speed / velocity_scale,
            np.broadcast_to(movement[None, :, None], speed.shape),
        ],
        axis=-1,
    )


def make_toy_dataset(
    n_trials: int = 500,
    *,
    n_neurons: int = 50,
    n_time: int = 50,
    bin_size_s: float = 0.02,
    grid_size: int = 5,
    grid_spacing: float = 2.0,
    start_sd: float = 1.0,
    heldout_conditions: Sequence[int] | None = None,
    smooth_sigma_s: float = 0.04,
    random_state: int = 0,
) -> Trials:
    """Make toy reaching trials with Poisson spikes and known rates.

    Parameters
    ----------
    n_trials : int
        Number of trials, spread evenly over the ``grid_size**2`` targets.
    n_neurons, n_time : int
        Population size and number of time bins.
    bin_size_s : float
        Bin width in seconds (the go cue is at 30 % of the trial, the reach lasts 40 %).
    grid_size, grid_spacing : int, float
        Targets lie on a ``grid_size x grid_size`` grid centred at 0, neighbouring targets
        ``grid_spacing`` apart. Unitless: the toy's one length unit (see the module docstring).
    start_sd : float
        S.d. of the start position around the centre, in the same length unit as
        ``grid_spacing``: a continuous nuisance variable.
    heldout_conditions : sequence of int, optional
        Grid conditions marked ``heldout``; default: four interior targets.
    smooth_sigma_s : float
        S.d. of the acausal Gaussian used to turn spikes into ``activity`` (Hz).
    random_state : int
        Seed: the same seed gives identical trials; neurons' tuning depends on it too.

    Returns
    -------
    Trials
        ``activity`` (smoothed rates, Hz), ``spikes`` (counts), ``truth`` (rates, Hz),
        ``behavior`` (hand x, y in the length unit of ``grid_spacing``; vx, vy in that unit
        per second) and ``trial_info`` with ``target_x, target_y, start_x, start_y,
        condition, heldout, go_time``.

    Examples
    --------
    >>> trials = make_toy_dataset(10, n_neurons=3, n_time=5, random_state=0)
    >>> trials.activity.shape, trials.behavior_names
    ((10, 5, 3), ('hand_x', 'hand_y', 'hand_vx', 'hand_vy'))
    """
    for name, value in (("n_trials", n_trials), ("n_neurons", n_neurons), ("n_time", n_time)):
        check_int(value, name)
    if n_trials < 1 or n_neurons < 1 or n_time < 2:
        raise InvalidArgumentError(
            f"need n_trials >= 1, n_neurons >= 1, n_time >= 2; got {n_trials}, {n_neurons}, "
            f"{n_time}"
        )
    check_real(start_sd, "start_sd", low=0.0, low_open=True)
    seed = check_random_state(random_state)
    targets = grid_targets(grid_size, grid_spacing)
    if heldout_conditions is None:
        heldout_conditions = default_heldout_conditions(grid_size)
    neuron_rng = np.random.default_rng([seed, 1])
    trial_rng = np.random.default_rng([seed, 2])

    condition = trial_rng.permutation(np.arange(n_trials) % len(targets))
    target = targets[condition]
    start = trial_rng.normal(0.0, start_sd, size=(n_trials, 2))
    time_s = np.arange(n_time) * bin_size_s
    go_time_s = 0.3 * n_time * bin_size_s
    position, velocity = _hand_paths(start, target, time_s, go_time_s, 0.4 * n_time * bin_size_s)
    latents = _latents(start, target, position, velocity, time_s, go_time_s, grid_spacing, start_sd)

    # Log-rates: a baseline of 6-30 Hz plus a random mix of the latents.
    log_baseline = neuron_rng.uniform(np.log(6.0), np.log(30.0), size=n_neurons)
    mixing = neuron_rng.normal(0.0, 0.3, size=(latents.shape[-1], n_neurons))
    rates = np.exp(log_baseline + latents @ mixing)  # (B, T, N), Hz
    spikes = trial_rng.poisson(rates * bin_size_s).astype(np.int32)
    activity = gaussian_smooth(spikes, sigma_s=smooth_sigma_s, bin_size_s=bin_size_s) / bin_size_s

    return Trials(
        activity,
        spikes=spikes,
        truth=rates,
        behavior=np.concatenate([position, velocity], axis=-1),
        behavior_names=BEHAVIOR_NAMES,
        trial_info={
            "target_x": target[:, 0],
            "target_y": target[:, 1],
            "start_x": start[:, 0],
            "start_y": start[:, 1],
            "condition": condition,
            "heldout": np.isin(condition, heldout_conditions),
            "go_time": np.full(n_trials, go_time_s),
        },
        bin_size_s=bin_size_s,
        align=f"trial start [0, {n_time * bin_size_s:g}] s; go cue at {go_time_s:g} s",
    )
