"""A synthetic continuous random-target session in the NLB MC_RTT layout: a fixture generator.

:func:`make_random_target_nwb` writes a small NWB file with known reaches, for the tests and
benchmarks of :func:`~neurognocchi.data.nwb.mc_rtt.load_mc_rtt`. It is a test and benchmark
helper, not part of the user-facing :mod:`neurognocchi.data` list (it stays importable from
there for one release). pynwb is imported only when a file is written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from neurognocchi._checks import check_int, check_positive_int, check_random_state, check_real
from neurognocchi._deprecation import renamed_keywords
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
    return dict(target_on_time=np.array(on), move_start_time=np.array(move),
                move_duration=np.array(length), target=targets[np.array(goal)])  # fmt: skip


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


@renamed_keywords(grid_spacing="grid_spacing_mm")
def make_random_target_nwb(
    path: str | os.PathLike,
    *,
    n_units: int = 40,
    duration_s: float = 120.0,
    grid_size: int = 8,
    grid_spacing_mm: float = 20.0,
    sample_rate_hz: float = 1000.0,
    gap_s: Sequence[float] | None = None,
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
    random_state : int
        Seed of the reaches and the spikes.
    overwrite : bool
        Replace an existing file (otherwise FileExistsError).

    Returns
    -------
    dict of arrays describing each reach written: ``target_on_time``, ``move_start_time``,
    ``move_duration``, ``target`` (n, 2), ``start`` (n, 2), and ``gap_s``.
    """
    check_positive_int(n_units, "n_units")
    check_int(grid_size, "grid_size", minimum=2)
    check_real(duration_s, "duration_s", low=0.0, low_open=True)
    check_real(sample_rate_hz, "sample_rate_hz", low=0.0, low_open=True)
    seed = check_random_state(random_state)
    rng = np.random.default_rng(seed)
    targets = grid_targets(grid_size, grid_spacing_mm)
    reaches = _random_target_reaches(rng, duration_s, targets)
    home = targets[len(targets) // 2]
    reaches["start"] = np.concatenate([home[None], reaches["target"][:-1]])
    times = np.arange(round(duration_s * sample_rate_hz)) / sample_rate_hz  # (n_samples,)
    position, velocity, target = _finger_paths(times, reaches, home)
    observed = np.ones(len(times), dtype=bool)
    intervals = np.array([[0.0, times[-1] + 1 / sample_rate_hz]])
    if gap_s is not None:
        observed = (times < gap_s[0]) | (times >= gap_s[1])
        intervals = np.array([[0.0, gap_s[0]], [gap_s[1], intervals[0, 1]]])
    metadata = _session_metadata(seed, n_units, grid_size, grid_spacing_mm, sample_rate_hz)
    nwbfile = new_nwbfile(metadata.pop("session_description"), f"rtt-{seed}", {}, **metadata)
    z = np.zeros((len(times), 1))
    series = {"finger_pos": np.hstack([position, z]), "finger_vel": velocity,
              "cursor_pos": position, "target_pos": target}  # fmt: skip
    _add_behavior(nwbfile, series, observed, sample_rate_hz)
    spikes = dict(times=times, observed=observed, intervals=intervals, rate_hz=sample_rate_hz)
    _add_units(nwbfile, rng, n_units, position, velocity, grid_size * grid_spacing_mm / 2, **spikes)
    write_nwb_atomic(nwbfile, path, overwrite=overwrite)
    reaches["gap_s"] = np.asarray(gap_s if gap_s is not None else [], dtype=float)
    return reaches


def _session_metadata(seed, n_units, grid_size, grid_spacing_mm, sample_rate_hz) -> dict:
    """Session, experiment and subject metadata that say the session is synthetic and how it
    was made."""
    call = f"make_random_target_nwb(random_state={seed})"
    experiment = (
        f"Synthetic data, not a recording, made by neurognocchi {call}: targets on a "
        f"{grid_size} x {grid_size} grid ({grid_spacing_mm:g} mm apart) appear one after "
        "another and a simulated finger reaches each along a minimum-jerk path; "
        f"{n_units} units fire as inhomogeneous Poisson processes tuned to finger velocity and "
        f"position, simulated in steps of {1 / sample_rate_hz:g} s. The layout imitates the "
        "Neural Latents Benchmark MC_RTT session (rhesus macaque M1, random-target reaching)."
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


def _add_behavior(nwbfile, series: dict, observed: np.ndarray, rate_hz: float) -> None:
    """One TimeSeries (mm, mm/s) per entry of ``series`` in ``processing/behavior``; NaN when
    not ``observed``."""
    pynwb = import_pynwb()
    module = nwbfile.create_processing_module("behavior", "finger, cursor and target")
    for name, values in series.items():
        values = np.where(observed[:, None], values, np.nan)
        unit = "mm/s" if name == "finger_vel" else "mm"
        description = f"{_SERIES_DESCRIPTIONS[name]}; NaN during recording pauses"
        module.add(pynwb.TimeSeries(name=name, data=values, unit=unit, rate=rate_hz,
                                    starting_time=0.0, description=description))  # fmt: skip


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
