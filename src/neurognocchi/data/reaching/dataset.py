"""The reference synthetic dataset: a GRU policy driving MotorNet's arm to targets on a grid.

A trained policy (shipped with the package, see :mod:`neurognocchi.data.reaching.policy`)
controls MotorNet's two-joint, six-muscle ``RigidTendonArm26`` in 10 ms steps. Each trial: the
fingertip starts at a random point in a disc around the workspace centre, a target from a
``G x G`` grid appears at ``target_onset_s``, a go cue follows after a random delay, the arm
reaches and holds. The policy's 128 GRU units are mapped to ``n_neurons`` model neurons (rates
in Hz, a few to ~60 Hz), which emit Poisson spikes in 10 ms bins; ``activity`` is the spikes
Gaussian-smoothed.

Unit -> neuron mapping: units are z-scored with statistics stored in the policy file (so the
mapping does not depend on the trials simulated); neuron ``n`` reads a random signed mix of
``8`` units, ``drive = sum_k w_nk z_k`` with ``w ~ N(0, 1/8)``, and fires at
``rate = max_rate_n * sigmoid(gain_n * drive + logit(baseline_n / max_rate_n))`` with
``baseline_n ~ U(2, 10) Hz``, ``max_rate_n ~ U(40, 80) Hz``, ``gain_n ~ U(1, 2)``.

All positions are in cm relative to the workspace centre (the fingertip at shoulder 45 deg,
elbow 90 deg), velocities in cm/s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from neurognocchi._checks import InvalidArgumentError, check_positive_int, check_random_state
from neurognocchi.data.grid import default_heldout_conditions, grid_targets
from neurognocchi.data.preprocess import gaussian_smooth, rebin
from neurognocchi.data.reaching.arm import import_motornet, make_arm, rollout
from neurognocchi.data.reaching.policy import load_policy
from neurognocchi.data.trials import Trials

__all__ = [
    "BEHAVIOR_NAMES",
    "BIN_SIZE_S",
    "endpoint_error_cm",
    "make_reaching_dataset",
    "simulate_reaches",
    "units_to_rates",
]

BEHAVIOR_NAMES = ("hand_x", "hand_y", "hand_vx", "hand_vy")
BIN_SIZE_S = 0.01
_UNITS_PER_NEURON = 8


def _check_arguments(
    n_trials,
    n_neurons,
    n_time,
    grid_size,
    grid_spacing_cm,
    start_radius_cm,
    target_onset_s,
    delay_s,
    trained,
) -> None:
    """Fail early on values outside what the policy was trained for."""
    for name, value in (("n_trials", n_trials), ("n_neurons", n_neurons), ("n_time", n_time)):
        check_positive_int(value, name)
    half = (grid_size - 1) / 2 * grid_spacing_cm
    trained_half = (trained.grid_size - 1) / 2 * trained.grid_spacing_cm + trained.margin_cm
    if not 0 < half <= trained_half + 1e-9:
        raise InvalidArgumentError(
            f"grid_size={grid_size}, grid_spacing_cm={grid_spacing_cm} put targets up to {half:g} "
            f"cm from the centre; the policy was trained for targets within {trained_half:g} cm"
        )
    if not 0 <= start_radius_cm <= trained.start_radius_cm:
        raise InvalidArgumentError(
            f"start_radius_cm must be in [0, {trained.start_radius_cm:g}] (the trained range); "
            f"got {start_radius_cm}"
        )
    if target_onset_s < 0 or not 0 < delay_s[0] <= delay_s[1]:
        raise InvalidArgumentError(
            f"need target_onset_s >= 0 and 0 < delay_s[0] <= delay_s[1]; got {target_onset_s}, "
            f"{delay_s}"
        )
    last_go = round((target_onset_s + delay_s[1]) / BIN_SIZE_S)
    if n_time < last_go + 2:
        raise InvalidArgumentError(
            f"n_time={n_time} bins end before the latest go cue (bin {last_go}) plus a reach; "
            f"use n_time >= {last_go + 2} (>= {last_go + 50} for complete reaches)"
        )


def _trial_conditions(n_trials, targets, start_radius_cm, target_onset_s, delay_s, rng):
    """Condition, start (cm), onset and go bins of each trial, targets balanced over the grid."""
    condition = rng.permutation(np.arange(n_trials) % len(targets))
    radius = start_radius_cm * np.sqrt(rng.uniform(size=n_trials))
    angle = rng.uniform(0.0, 2 * np.pi, size=n_trials)
    start = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    onset = np.full(n_trials, round(target_onset_s / BIN_SIZE_S))
    go = onset + np.round(rng.uniform(*delay_s, size=n_trials) / BIN_SIZE_S).astype(int)
    return condition, start, onset, go


@torch.no_grad()
def simulate_reaches(policy, start_cm, target_cm, onset_bin, go_bin, n_time, *, seed, batch=500):
    """Run the policy on the arm for each trial; arrays in, numpy arrays out.

    Returns position and velocity (n_trials, n_time, 2) in cm and cm/s and unit activity
    (n_trials, n_time, n_units).
    """
    arm = make_arm(policy.config)
    generator = torch.Generator().manual_seed(int(seed))
    chunks = []
    for lo in range(0, len(start_cm), batch):
        part = slice(lo, lo + batch)
        trajectory = rollout(
            policy,
            arm,
            start_cm=torch.as_tensor(start_cm[part], dtype=torch.float32),
            target_cm=torch.as_tensor(target_cm[part], dtype=torch.float32),
            onset_step=torch.as_tensor(onset_bin[part]),
            go_step=torch.as_tensor(go_bin[part]),
            n_steps=n_time,
            generator=generator,
        )
        chunks.append({key: trajectory[key].numpy() for key in ("position", "velocity", "hidden")})
    return tuple(
        np.concatenate([c[key] for c in chunks]) for key in ("position", "velocity", "hidden")
    )


def units_to_rates(hidden, unit_mean, unit_std, n_neurons, rng) -> np.ndarray:
    """Map GRU unit activity (B, T, H) to firing rates (B, T, n_neurons) in Hz (module doc)."""
    n_units = hidden.shape[-1]
    z = torch.from_numpy(((hidden - unit_mean) / unit_std).reshape(-1, n_units))  # (B*T, H)
    weights = np.zeros((n_units, n_neurons))
    for neuron in range(n_neurons):
        units = rng.choice(n_units, size=min(_UNITS_PER_NEURON, n_units), replace=False)
        weights[units, neuron] = rng.normal(0.0, 1.0 / np.sqrt(len(units)), size=len(units))
    baseline = rng.uniform(2.0, 10.0, size=n_neurons)
    max_rate = rng.uniform(40.0, 80.0, size=n_neurons)
    gain = rng.uniform(1.0, 2.0, size=n_neurons)
    offset = np.log(baseline / (max_rate - baseline))
    scale = torch.from_numpy(np.stack([gain, offset, max_rate])).float()
    drive = scale[0] * (z @ torch.from_numpy(weights).float()) + scale[1]  # (B*T, N)
    rates = scale[2] * torch.sigmoid(drive)
    return rates.numpy().reshape(*hidden.shape[:-1], n_neurons)


def make_reaching_dataset(
    n_trials: int = 1000,
    *,
    n_neurons: int = 100,
    n_time: int = 120,
    grid_size: int = 5,
    grid_spacing_cm: float = 3.0,
    start_radius_cm: float = 2.0,
    target_onset_s: float = 0.1,
    delay_s: tuple[float, float] = (0.2, 0.4),
    heldout_conditions: Sequence[int] | None = None,
    smooth_sigma_s: float = 0.05,
    bin_size_s: float = BIN_SIZE_S,
    policy_path=None,
    random_state: int = 0,
) -> Trials:
    """Simulate reaches of the trained MotorNet arm policy and record model neurons.

    Defaults give 1000 trials of 1.2 s (120 bins of 10 ms): target onset at 0.1 s, go cue
    0.2-0.4 s later (uniform), so the reach and hold last at least 0.7 s. Needs MotorNet
    (``pip install 'neurognocchi[motor]'``); takes seconds and no training.

    Parameters
    ----------
    n_trials : int
        Number of trials, spread evenly over the ``grid_size**2`` targets (random order).
    n_neurons, n_time : int
        Number of model neurons and of 10 ms bins per trial.
    grid_size, grid_spacing_cm : int, float
        Targets on a ``grid_size x grid_size`` grid centred on the workspace centre (cm); must
        lie within the region the policy was trained on (default policy: +-7 cm).
    start_radius_cm : float
        Start positions are uniform in a disc of this radius (cm) around the centre.
    target_onset_s, delay_s : float, (float, float)
        Target onset time and the (min, max) of the uniform delay from onset to go cue, in s.
    heldout_conditions : sequence of int, optional
        Grid conditions marked ``heldout``; default `default_heldout_conditions` (four interior
        targets). The policy reaches every target; the mark is for generalisation tests.
    smooth_sigma_s : float
        S.d. of the acausal Gaussian that turns spikes into ``activity`` (Hz).
    bin_size_s : float
        Bin width of the returned trials: a multiple of the 10 ms simulation step that divides
        ``n_time`` steps (e.g. 0.02 gives ``n_time // 2`` bins). Spikes are summed, rates and
        behaviour averaged over each bin.
    policy_path : path, optional
        A policy file from `train_policy`; default the shipped one.
    random_state : int
        Seed of trials, noise, neurons and spikes: the same seed gives identical trials.

    Returns
    -------
    Trials
        ``activity`` (smoothed spikes, Hz), ``spikes`` (counts per bin), ``truth`` (rates, Hz),
        ``behavior`` (fingertip x, y in cm; vx, vy in cm/s) and ``trial_info`` with ``target_x,
        target_y, start_x, start_y`` (cm), ``condition`` (grid index ``iy * G + ix``),
        ``go_time`` (s from trial start) and ``heldout``.
    """
    factor = _bin_factor(bin_size_s, n_time)
    import_motornet()  # fail before any work when MotorNet is missing
    policy, trained = load_policy(policy_path)
    delay_s = tuple(float(value) for value in delay_s)
    _check_arguments(
        n_trials,
        n_neurons,
        n_time,
        grid_size,
        grid_spacing_cm,
        start_radius_cm,
        target_onset_s,
        delay_s,
        trained,
    )
    seed = check_random_state(random_state)
    targets = grid_targets(grid_size, grid_spacing_cm)
    if heldout_conditions is None:
        heldout_conditions = default_heldout_conditions(grid_size)
    trial_rng = np.random.default_rng([seed, 2])
    condition, start, onset, go = _trial_conditions(
        n_trials, targets, start_radius_cm, target_onset_s, delay_s, trial_rng
    )
    target = targets[condition]
    position, velocity, hidden = simulate_reaches(
        policy, start, target, onset, go, n_time, seed=seed
    )
    neuron_rng = np.random.default_rng([seed, 1])
    rates = units_to_rates(
        hidden, policy.unit_mean.numpy(), policy.unit_std.numpy(), n_neurons, neuron_rng
    )  # (B, n_time, N), Hz
    trial_info = {
        "target_x": target[:, 0],
        "target_y": target[:, 1],
        "start_x": start[:, 0],
        "start_y": start[:, 1],
        "condition": condition,
        "heldout": np.isin(condition, heldout_conditions),
        "go_time": go * BIN_SIZE_S,
    }
    align = f"trial start [0, {n_time * BIN_SIZE_S:g}] s; target onset at {target_onset_s:g} s"
    behavior = np.concatenate([position, velocity], axis=-1)  # (B, n_time, 4)
    return _record(
        rates,
        behavior,
        trial_info,
        align=align,
        factor=factor,
        smooth_sigma_s=smooth_sigma_s,
        rng=trial_rng,
    )


def _record(rates, behavior, trial_info, *, align, factor, smooth_sigma_s, rng) -> Trials:
    """Poisson spikes of ``rates`` (B, T, N) in 10 ms steps, summed into bins of ``factor``
    steps and smoothed into ``activity``; rates and behaviour averaged over each bin."""
    spikes = rebin(rng.poisson(rates * BIN_SIZE_S), factor).astype(np.int32)  # (B, T', N)
    bin_size_s = factor * BIN_SIZE_S
    activity = gaussian_smooth(spikes, sigma_s=smooth_sigma_s, bin_size_s=bin_size_s) / bin_size_s
    return Trials(
        activity.astype(np.float32),
        spikes=spikes,
        truth=(rebin(rates, factor) / factor).astype(np.float32),
        behavior=rebin(behavior, factor) / factor,
        behavior_names=BEHAVIOR_NAMES,
        trial_info=trial_info,
        bin_size_s=bin_size_s,
        align=align,
    )


def _bin_factor(bin_size_s: float, n_time: int) -> int:
    """Number of 10 ms simulation steps per returned bin; errors name ``bin_size_s``."""
    factor = round(bin_size_s / BIN_SIZE_S) if np.isfinite(bin_size_s) else 0
    if factor < 1 or not np.isclose(factor * BIN_SIZE_S, bin_size_s):
        raise InvalidArgumentError(
            f"bin_size_s must be a positive multiple of the {BIN_SIZE_S:g} s simulation step; "
            f"got {bin_size_s!r}"
        )
    if n_time % factor:
        raise InvalidArgumentError(
            f"n_time={n_time} steps of {BIN_SIZE_S:g} s do not divide into bins of "
            f"{bin_size_s:g} s; choose n_time as a multiple of {factor}"
        )
    return factor


def endpoint_error_cm(trials: Trials, *, window_s: float = 0.1) -> np.ndarray:
    """Distance (cm) between each trial's target and the mean fingertip position over the last
    ``window_s`` of the trial; shape (n_trials,)."""
    n_bins = max(1, round(window_s / trials.bin_size_s))
    endpoint = trials.behavior[:, -n_bins:, :2].mean(axis=1)
    target = np.stack([trials.info("target_x"), trials.info("target_y")], axis=1)
    return np.linalg.norm(endpoint - target, axis=1)
