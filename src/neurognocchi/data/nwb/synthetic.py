"""A synthetic continuous random-target session in the NLB MC_RTT layout: a fixture generator.

:func:`make_random_target_nwb` writes a small NWB file with known reaches, for the tests and
benchmarks of :func:`~neurognocchi.data.nwb.mc_rtt.load_mc_rtt`. It is a test and benchmark
helper, not part of the user-facing :mod:`neurognocchi.data` list (import it from
:mod:`neurognocchi.data.nwb`). pynwb is imported only when a file is written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from neurognocchi._checks import (
    InvalidArgumentError,
    check_int,
    check_positive_int,
    check_random_state,
    check_real,
)
from neurognocchi.data.grid import grid_targets
from neurognocchi.data.nwb.metadata import SYNTHETIC_SPECIES, UNKNOWN_AGE, merge_metadata
from neurognocchi.data.nwb.read import import_pynwb
from neurognocchi.data.nwb.write import new_nwbfile, write_nwb_atomic

__all__ = ["make_random_target_nwb"]


def _random_target_reaches(rng, duration_s: float, targets: np.ndarray) -> dict:
    """A sequence of reaches: each target appears, the finger starts after a reaction time,
    moves along a minimum-jerk path, holds, and the next target appears."""
    on, move, length, goal = [], [], [], []
    t, current = 0.0, len(targets) // 2
    while t < duration_s:
        current = (current + rng.integers(1, len(targets))) % len(targets)  # a new target
        reaction, reach, hold = rng.uniform(0.15, 0.3), rng.uniform(0.4, 0.7), rng.uniform(0.1, 0.3)
        on.append(t), move.append(t + reaction), length.append(reach), goal.append(current)
        t += reaction + reach + hold
    return dict(
        target_on_time=np.array(on),
        move_start_time=np.array(move),
        move_duration=np.array(length),
        target=targets[np.array(goal)],
    )


def _finger_paths(times, reaches, home):
    """Finger position and velocity (n, 2) and the target (n, 2) at ``times``."""
    index = np.searchsorted(reaches["target_on_time"], times, side="right") - 1  # reach at t
    target = reaches["target"][index]
    start = np.concatenate([home[None], reaches["target"][:-1]])[index]
    duration = reaches["move_duration"][index]
    tau = np.clip((times - reaches["move_start_time"][index]) / duration, 0.0, 1.0)
    fraction = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    rate = (30 * tau**2 - 60 * tau**3 + 30 * tau**4) / duration
    return start + fraction[:, None] * (target - start), rate[:, None] * (target - start), target


def _sensed_finger(
    rng, times, reaches, home, *, noise_mm, dropout_rate_hz, dropout_duration_s, jitter_s
):
    """What a finger sensor records: sample times, position (n, 2) with white noise, velocity
    (n, 2) differentiated from that noise as a recording system would, the target (n, 2), which
    samples are not dropped out, and the dropouts' (start, stop) times (k, 2)."""
    sample_times = times + rng.uniform(0.0, jitter_s, len(times)) if jitter_s else times
    position, velocity, target = _finger_paths(sample_times, reaches, home)
    if noise_mm:
        noise = rng.normal(0.0, noise_mm, position.shape)  # (n, 2)
        position = position + noise
        velocity = velocity + np.gradient(noise, sample_times, axis=0)
    duration = times[-1] + (times[1] - times[0])
    n_dropouts = rng.poisson(dropout_rate_hz * duration) if dropout_rate_hz else 0
    starts = np.sort(rng.uniform(0.0, duration, n_dropouts))
    dropouts = np.c_[starts, starts + rng.uniform(*dropout_duration_s, n_dropouts)]  # (k, 2)
    kept = np.ones(len(times), dtype=bool)
    for start, stop in dropouts:
        kept[(sample_times >= start) & (sample_times < stop)] = False
    return sample_times, position, velocity, target, kept, dropouts


def make_random_target_nwb(
    path: str | os.PathLike,
    *,
    n_units: int = 40,
    duration_s: float = 120.0,
    grid_size: int = 8,
    grid_spacing_mm: float = 20.0,
    sample_rate_hz: float = 1000.0,
    gap_s: Sequence[float] | None = None,
    position_noise_mm: float = 0.0,
    dropout_rate_hz: float = 0.0,
    dropout_duration_s: Sequence[float] = (0.005, 0.05),
    timestamp_jitter_s: float = 0.0,
    random_state: int = 0,
    overwrite: bool = False,
) -> dict[str, np.ndarray]:
    """Write a synthetic continuous random-target session in the NLB MC_RTT layout.

    A fixture generator for the tests and benchmarks of
    :func:`~neurognocchi.data.nwb.mc_rtt.load_mc_rtt`. Targets on a ``grid_size``-square grid
    appear one after another; the finger reaches each along a minimum-jerk path after a
    reaction time. Units fire as inhomogeneous Poisson processes whose log-rate is tuned to
    finger velocity and position. ``processing/behavior`` holds ``finger_pos`` (x, y, z),
    ``finger_vel``, ``cursor_pos`` and ``target_pos`` (in mm) at ``sample_rate_hz``; during
    ``gap_s`` (a recording pause) behaviour is NaN, there are no spikes, and the units'
    ``obs_intervals`` exclude it.

    A finger sensor's faults can be added (the defaults add none, and leave the file as it
    was): white noise on the finger position (``finger_vel`` then carries the noise's central
    differences, as velocity derived from the recorded position would; ``cursor_pos`` follows
    the noisy finger), dropouts (NaN runs in ``finger_pos``, ``finger_vel`` and ``cursor_pos``
    only, with ``target_pos`` and the spikes intact) and sample-time jitter (each behavioural
    sample is taken late by a uniform random time in ``[0, timestamp_jitter_s)`` and written
    with explicit timestamps). The units are always simulated from the true path, and the
    faults draw from a random stream of their own: adding them changes neither the reaches nor
    the spikes.

    Parameters
    ----------
    path : path
        The ``.nwb`` file to write (atomically).
    n_units : int
        Number of units.
    duration_s : float
        Length of the session in seconds.
    grid_size : int
        Targets lie on a ``grid_size x grid_size`` grid.
    grid_spacing_mm : float
        Distance between neighbouring targets, in mm.
    sample_rate_hz : float
        Sampling rate of the behavioural series.
    gap_s : (start, stop), optional
        A recording pause, in seconds of session time.
    position_noise_mm : float
        S.d. of the white noise added to the finger's x and y position, in mm.
    dropout_rate_hz : float
        Mean number of sensor dropouts per second (a Poisson process).
    dropout_duration_s : (low, high)
        Each dropout lasts a uniform random time in ``[low, high)`` seconds.
    timestamp_jitter_s : float
        Largest delay of a behavioural sample after its nominal time, in seconds; in
        ``[0, 0.5 / sample_rate_hz)``, so that no interval between samples reaches the 1.5
        sample periods that the readers take for a gap.
    random_state : int
        Seed of the reaches, the spikes and the sensor's faults.
    overwrite : bool
        Replace an existing file (otherwise FileExistsError).

    Returns
    -------
    dict of arrays describing each reach written: ``target_on_time``, ``move_start_time``,
    ``move_duration``, ``target`` (n, 2), ``start`` (n, 2), ``gap_s``, and ``dropout_s``
    (k, 2), the (start, stop) session times of the dropouts.
    """
    check_positive_int(n_units, "n_units")
    check_int(grid_size, "grid_size", minimum=2)
    check_real(duration_s, "duration_s", low=0.0, low_open=True)
    check_real(sample_rate_hz, "sample_rate_hz", low=0.0, low_open=True)
    sensor = _check_sensor(
        position_noise_mm, dropout_rate_hz, dropout_duration_s, timestamp_jitter_s, sample_rate_hz
    )
    seed = check_random_state(random_state)
    rng = np.random.default_rng(seed)
    targets = grid_targets(grid_size, grid_spacing_mm)
    reaches = _random_target_reaches(rng, duration_s, targets)
    home = targets[len(targets) // 2]
    reaches["start"] = np.concatenate([home[None], reaches["target"][:-1]])
    times = np.arange(round(duration_s * sample_rate_hz)) / sample_rate_hz  # (n_samples,)
    position, velocity, _ = _finger_paths(times, reaches, home)  # the truth, for the units
    # The sensor's own stream: its options leave the reaches and the spikes as they were.
    sample_times, sensed, sensed_velocity, target, kept, dropouts = _sensed_finger(
        np.random.default_rng([seed, 1]), times, reaches, home, **sensor
    )
    observed = np.ones(len(times), dtype=bool)
    sampled = np.ones(len(times), dtype=bool)
    intervals = np.array([[0.0, times[-1] + 1 / sample_rate_hz]])
    if gap_s is not None:
        observed = (times < gap_s[0]) | (times >= gap_s[1])
        sampled = (sample_times < gap_s[0]) | (sample_times >= gap_s[1])
        intervals = np.array([[0.0, gap_s[0]], [gap_s[1], intervals[0, 1]]])
    metadata = _session_metadata(seed, n_units, grid_size, grid_spacing_mm, sample_rate_hz, sensor)
    nwbfile = new_nwbfile(metadata.pop("session_description"), f"rtt-{seed}", {}, **metadata)
    z = np.zeros((len(times), 1))
    finger = np.where(kept[:, None], 1.0, np.nan)  # (n, 1): NaN in dropouts
    series = {
        "finger_pos": np.hstack([sensed, z]) * finger,
        "finger_vel": sensed_velocity * finger,
        "cursor_pos": sensed * finger,
        "target_pos": target,
    }
    stamps = sample_times if sensor["jitter_s"] else None
    _add_behavior(
        nwbfile, series, sampled, sample_rate_hz, timestamps=stamps, dropouts=len(dropouts) > 0
    )
    spikes = dict(times=times, observed=observed, intervals=intervals, rate_hz=sample_rate_hz)
    _add_units(nwbfile, rng, n_units, position, velocity, grid_size * grid_spacing_mm / 2, **spikes)
    write_nwb_atomic(nwbfile, path, overwrite=overwrite)
    reaches["gap_s"] = np.asarray(gap_s if gap_s is not None else [], dtype=float)
    reaches["dropout_s"] = dropouts
    return reaches


def _check_sensor(noise_mm, dropout_rate_hz, dropout_duration_s, jitter_s, sample_rate_hz):
    """The sensor options, checked, as keywords of :func:`_sensed_finger`."""
    check_real(noise_mm, "position_noise_mm", low=0.0)
    check_real(dropout_rate_hz, "dropout_rate_hz", low=0.0)
    if len(dropout_duration_s) != 2 or not 0 < dropout_duration_s[0] <= dropout_duration_s[1]:
        raise InvalidArgumentError(
            f"dropout_duration_s must be (low, high) with 0 < low <= high seconds; got "
            f"{dropout_duration_s!r}"
        )
    check_real(jitter_s, "timestamp_jitter_s", low=0.0, high=0.5 / sample_rate_hz, high_open=True)
    return dict(
        noise_mm=float(noise_mm),
        dropout_rate_hz=float(dropout_rate_hz),
        dropout_duration_s=tuple(map(float, dropout_duration_s)),
        jitter_s=float(jitter_s),
    )


def _call(seed: int, sensor: dict) -> str:
    """The generator's call, with the sensor options that differ from the defaults."""
    names = dict(
        noise_mm="position_noise_mm",
        dropout_rate_hz="dropout_rate_hz",
        jitter_s="timestamp_jitter_s",
    )
    options = "".join(f", {names[k]}={sensor[k]:g}" for k in names if sensor[k])
    if sensor["dropout_rate_hz"]:
        options += f", dropout_duration_s={sensor['dropout_duration_s']}"
    return f"make_random_target_nwb(random_state={seed}{options})"


def _session_metadata(seed, n_units, grid_size, grid_spacing_mm, sample_rate_hz, sensor) -> dict:
    """Session, experiment and subject metadata that say the session is synthetic and how it
    was made."""
    call = _call(seed, sensor)
    experiment = (
        f"Synthetic data, not a recording, made by neurognocchi {call}: targets on a "
        f"{grid_size} x {grid_size} grid ({grid_spacing_mm:g} mm apart) appear one after "
        "another and a simulated finger reaches each along a minimum-jerk path; "
        f"{n_units} units fire as inhomogeneous Poisson processes tuned to finger velocity and "
        f"position, simulated in steps of {1 / sample_rate_hz:g} s. The layout imitates the "
        "Neural Latents Benchmark MC_RTT session (rhesus macaque M1, random-target reaching)."
    )
    if sensor["noise_mm"] or sensor["dropout_rate_hz"] or sensor["jitter_s"]:
        experiment += (
            f" The finger sensor adds {sensor['noise_mm']:g} mm of white position noise, drops "
            f"out {sensor['dropout_rate_hz']:g} times a second on average (NaN runs) and "
            f"samples up to {sensor['jitter_s']:g} s late (explicit timestamps)."
        )
    subject = {
        "subject_id": f"synthetic-rtt-{seed}",
        "species": SYNTHETIC_SPECIES,
        "sex": "U",
        "age": UNKNOWN_AGE,
        "description": f"No animal: a simulated reacher and units ({call}). Species is NCBI "
        "'synthetic construct'; sex and age are placeholders (unknown).",
    }
    defaults = dict(
        session_description=f"synthetic continuous random-target reaching session, {call}",
        experiment_description=experiment,
        keywords=["neurognocchi", "synthetic data", "random target reaching", "MC_RTT"],
        subject=subject,
    )
    return merge_metadata(defaults)


_SERIES_DESCRIPTIONS = {
    "finger_pos": "simulated finger position (x, y, z; z is 0)",
    "finger_vel": "simulated finger velocity (x, y), in mm/s",
    "cursor_pos": "cursor position (x, y): the simulated finger's",
    "target_pos": "position (x, y) of the target on screen",
}


def _add_behavior(
    nwbfile,
    series: dict,
    observed: np.ndarray,
    rate_hz: float,
    *,
    timestamps: np.ndarray | None,
    dropouts: bool,
) -> None:
    """One TimeSeries (mm, mm/s) per entry of ``series`` in ``processing/behavior``; NaN when
    not ``observed`` (and in the finger's ``dropouts``, already NaN in ``series``); at
    ``rate_hz`` from 0 s, or at ``timestamps`` when given."""
    pynwb = import_pynwb()
    module = nwbfile.create_processing_module("behavior", "finger, cursor and target")
    for name, values in series.items():
        values = np.where(observed[:, None], values, np.nan)
        unit = "mm/s" if name == "finger_vel" else "mm"
        description = f"{_SERIES_DESCRIPTIONS[name]}; NaN during recording pauses"
        if dropouts and name != "target_pos":
            description += " and sensor dropouts"
        clock = dict(timestamps=timestamps)
        if timestamps is None:
            clock = dict(rate=rate_hz, starting_time=0.0)
        module.add(
            pynwb.TimeSeries(name=name, data=values, unit=unit, description=description, **clock)
        )


def _add_units(
    nwbfile,
    rng,
    n_units,
    position,
    velocity,
    half_width_mm,
    *,
    times,
    observed,
    intervals,
    rate_hz,
):
    """Poisson units whose log-rate is tuned to ``velocity`` and to ``position`` (n, 2) in
    units of half the grid's width."""
    nwbfile.units = import_pynwb().misc.Units(
        name="units",
        description=f"simulated units: Poisson spike counts in steps of {1 / rate_hz:g} s (the "
        "resolution), each spike placed uniformly at random within its step; obs_intervals "
        "exclude recording pauses",
        resolution=1 / rate_hz,
    )
    speed_scale = np.abs(velocity).max()
    for _ in range(n_units):
        direction = rng.normal(0.0, 1.0, 2)
        log_rate = np.log(rng.uniform(5.0, 25.0)) + velocity @ direction / speed_scale
        log_rate += position @ rng.normal(0.0, 0.3, 2) / half_width_mm
        counts = rng.poisson(np.exp(log_rate) / rate_hz) * observed
        spike_times = np.repeat(times, counts) + rng.uniform(0, 1 / rate_hz, counts.sum())
        nwbfile.add_unit(spike_times=np.sort(spike_times), obs_intervals=intervals)
