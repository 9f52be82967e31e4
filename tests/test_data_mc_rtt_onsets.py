"""Movement onsets of `load_mc_rtt` under sensor faults (position noise, dropouts, jittered
sampling), checked against the reaches `make_random_target_nwb` wrote; the filtering steps of
`neurognocchi.data.nwb.onsets` on small arrays; the generator's fault options.

Bounds, on 2-minute sessions of 123 reaches (measured values in brackets; 5-minute sessions
and the old rule's errors in `benchmarks/bench_onsets.py`). Onset error against the analytic
crossing: no noise, all within 1.5 ms and median <= 1 ms [median 0.6, max 1.2 ms: the 1 ms
sample grid plus the filter's ringing from the reach's start; the old raw-speed rule: 0.5,
1.0]; 0.05 mm noise, median <= 2 ms, 95th percentile <= 5 ms, max <= 10 ms [0.6, 1.2,
1.5 ms; with dropouts and jitter 0.5, 1.1, 2.5 ms]; 0.2 mm noise, median <= 3 ms, 95th
percentile <= 8 ms, max <= 20 ms [0.8, 3.0, 5.5 ms]. Start-label error: median <= 0.2 mm
and 95th percentile <= 0.5 mm up to 0.05 mm noise [0.07, 0.17 mm], <= 0.5 and 1 mm at 0.2 mm
[0.26, 0.56 mm]; the raw position's noise sets most of it. Without the low-pass
(``speed_cutoff_hz=None``) the 0.05 mm session gives 52, 204, 292 ms and 6 mm.
"""

from __future__ import annotations

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")

from neurognocchi.data.nwb import load_mc_rtt  # noqa: E402
from neurognocchi.data.nwb.onsets import (  # noqa: E402
    ONSET_NOTES,
    lowpass,
    movement_onsets,
    uniform_trace,
)
from neurognocchi.data.nwb.synthetic import make_random_target_nwb  # noqa: E402

# Speed 30 tau^2 (1 - tau)^2 of a minimum-jerk reach crosses 0.3 of its peak 1.875 here.
TAU_AT_30_PERCENT = (1 - np.sqrt(1 - 4 * np.sqrt(0.3 * 1.875 / 30))) / 2
DURATION_S = 120.0
FAULTS = dict(dropout_rate_hz=0.5, timestamp_jitter_s=4e-4)  # 5-50 ms dropouts, 0.4 ms late
# noise (mm) -> bounds: onset median, 95th percentile, max (ms); start median, 95th pct (mm)
BOUNDS = {
    0.0: (1.0, 1.5, 1.5, 0.2, 0.5),
    0.05: (2.0, 5.0, 10.0, 0.2, 0.5),
    0.2: (3.0, 8.0, 20.0, 0.5, 1.0),
}


def _session(tmp_path_factory, name, **sensor):
    path = tmp_path_factory.mktemp("onsets") / f"{name}.nwb"
    truth = make_random_target_nwb(path, n_units=1, duration_s=DURATION_S, random_state=2, **sensor)
    return path, truth


def _errors(trials, truth):
    """Per returned reach: written-reach index, onset error (ms) and start error (mm)."""
    info = trials.trial_info
    target_on = info["move_onset_time"] + info["target_on_time"]  # session time
    reach = np.searchsorted(truth["target_on_time"], target_on + 1e-9, side="right") - 1
    onset = truth["move_start_time"] + TAU_AT_30_PERCENT * truth["move_duration"]
    tau = TAU_AT_30_PERCENT
    start = truth["start"] + (10 * tau**3 - 15 * tau**4 + 6 * tau**5) * (
        truth["target"] - truth["start"]
    )
    onset_ms = (info["move_onset_time"] - onset[reach]) * 1e3
    start_mm = np.hypot(*(np.c_[info["start_x"], info["start_y"]] - start[reach]).T)
    return reach, onset_ms, start_mm


def _complete_reaches(truth):
    """Written reaches whose constant-target period lies inside the recording."""
    return np.arange(1, np.searchsorted(truth["target_on_time"], DURATION_S) - 1)


def _assert_within(bounds, onset_ms, start_mm):
    median, p95, most, start_median, start_p95 = bounds
    error = np.abs(onset_ms)
    assert np.median(error) <= median and np.percentile(error, 95) <= p95, error
    assert error.max() <= most, error.max()
    assert np.median(start_mm) <= start_median and np.percentile(start_mm, 95) <= start_p95


@pytest.mark.parametrize("noise_mm", [0.0, 0.05, 0.2])
def test_onsets_and_starts_stay_accurate_under_position_noise(tmp_path_factory, noise_mm):
    path, truth = _session(tmp_path_factory, f"noise{noise_mm}", position_noise_mm=noise_mm)
    trials = load_mc_rtt(path, behavior=())
    reach, onset_ms, start_mm = _errors(trials, truth)
    assert np.array_equal(reach, _complete_reaches(truth)) and len(reach) > 100
    assert trials.trial_info["onset_found"].all()
    assert set(trials.trial_info["onset_note"]) == {""}
    _assert_within(BOUNDS[noise_mm], onset_ms, start_mm)
    assert onset_ms.min() >= -0.1 or noise_mm > 0  # clean: never before the crossing


def test_clean_start_is_the_written_path_at_the_detected_onset(tmp_path_factory):
    path, truth = _session(tmp_path_factory, "clean")
    trials = load_mc_rtt(path, behavior=())
    info, reach = trials.trial_info, _errors(trials, truth)[0]
    tau = (info["move_onset_time"] - truth["move_start_time"][reach]) / truth["move_duration"][
        reach
    ]
    covered = (10 * tau**3 - 15 * tau**4 + 6 * tau**5)[:, None]
    start = truth["start"][reach] + covered * (truth["target"][reach] - truth["start"][reach])
    np.testing.assert_allclose(np.c_[info["start_x"], info["start_y"]], start, atol=1e-6)
    # The file's own finger_vel (exact here) gives the same onsets, to one 1 ms sample.
    from_velocity = load_mc_rtt(path, behavior=(), velocity="finger_vel").trial_info
    difference = from_velocity["move_onset_time"] - info["move_onset_time"]
    assert np.abs(difference).max() <= 1.001e-3


@pytest.mark.parametrize("noise_mm", [0.05, 0.2])
def test_dropouts_and_jittered_sampling_keep_onsets_accurate(tmp_path_factory, noise_mm):
    path, truth = _session(
        tmp_path_factory, f"faults{noise_mm}", position_noise_mm=noise_mm, **FAULTS
    )
    trials = load_mc_rtt(path, behavior=())
    info = trials.trial_info
    reach, onset_ms, start_mm = _errors(trials, truth)
    assert np.array_equal(reach, _complete_reaches(truth))  # none dropped
    found = info["onset_found"]
    _assert_within(BOUNDS[noise_mm], onset_ms[found], start_mm[found])
    # Dropouts inside the onset windows were bridged (the old reader had no onset there) ...
    dropouts = truth["dropout_s"]
    onsets = info["move_onset_time"][:, None]
    near = ((dropouts[:, 0] < onsets + 0.1) & (dropouts[:, 1] > onsets - 0.1)).any(axis=1)
    assert (near & found).sum() >= 5
    # ... and a reach is flagged only where dropouts join into a gap longer than max_gap_s.
    assert set(info["onset_note"][~found]) <= {"gap"} and found.mean() > 0.9
    runs = _merged(dropouts)
    long_runs = runs[runs[:, 1] - runs[:, 0] > 0.05]
    for k in np.flatnonzero(~found):
        period = truth["target_on_time"][reach[k] : reach[k] + 2]
        assert ((long_runs[:, 0] < period[1]) & (long_runs[:, 1] > period[0])).any()


def _merged(intervals):
    """Union of (start, stop) intervals, as sorted disjoint intervals."""
    merged = []
    for start, stop in intervals[np.argsort(intervals[:, 0])]:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return np.array(merged).reshape(-1, 2)


def test_reaches_without_an_onset_are_kept_flagged_and_aligned_by_latency(tmp_path):
    path = tmp_path / "gaps.nwb"
    truth = make_random_target_nwb(
        path,
        n_units=1,
        duration_s=40.0,
        random_state=4,
        dropout_rate_hz=0.3,
        dropout_duration_s=(0.1, 0.2),
    )
    info = load_mc_rtt(path, behavior=()).trial_info
    found = info["onset_found"]
    assert 0 < (~found).sum() < found.sum()
    assert set(info["onset_note"][~found]) == {"gap"} and set(info["onset_note"][found]) == {""}
    latency = np.median(-info["target_on_time"][found])  # onset - target onset
    np.testing.assert_allclose(info["target_on_time"][~found], -latency)
    for key in ("start_x", "start_y", "reach_x", "reach_y", "reach_angle"):
        assert np.isnan(info[key][~found]).all() and np.isfinite(info[key][found]).all()
    assert np.isfinite(info["move_onset_time"]).all()
    # With the default behaviour, windows holding a dropout are dropped (as by load_nwb).
    with_behavior = load_mc_rtt(path)
    assert with_behavior.n_trials < len(found) and np.isfinite(with_behavior.behavior).all()
    assert len(truth["dropout_s"]) > 5


def test_a_file_with_no_findable_onset_is_an_error(tmp_path):
    path = tmp_path / "broken.nwb"
    make_random_target_nwb(
        path, n_units=1, duration_s=10.0, dropout_rate_hz=20.0, dropout_duration_s=(0.1, 0.2)
    )
    with pytest.raises(ValueError, match=r"found no movement onset in any of the \d+ complete"):
        load_mc_rtt(path)


def test_bad_onset_arguments_are_named(tmp_path_factory):
    path, _ = _session(tmp_path_factory, "args")
    for bad, match in (
        (dict(speed_cutoff_hz=600.0), "speed_cutoff_hz must be in"),
        (dict(speed_cutoff_hz=0.0), "speed_cutoff_hz"),
        (dict(max_gap_s=-0.01), "max_gap_s"),
        (dict(min_peak_fraction=1.0), "min_peak_fraction"),
    ):
        with pytest.raises(ValueError, match=match):
            load_mc_rtt(path, **bad)
    with pytest.raises(KeyError, match=r"\['hand_vel'\]"):
        load_mc_rtt(path, velocity="hand_vel")
    raw = load_mc_rtt(path, behavior=(), speed_cutoff_hz=None)
    assert "low-passed" not in raw.align and raw.trial_info["onset_found"].all()


# ---------------------------------------------------------------------- the steps on arrays
def test_uniform_trace_bridges_short_gaps_and_leaves_long_ones():
    times = np.arange(100) * 0.001
    values = np.c_[times * 10.0, -times]  # (100, 2), linear: bridging is exact
    values[10:20] = np.nan  # a 10 ms dropout
    values[40:80] = np.nan  # a 40 ms dropout
    keep = np.r_[0:90, 95:100]  # and 5 missing samples
    grid, out = uniform_trace(times[keep], values[keep], max_gap_s=0.02)
    np.testing.assert_allclose(grid, times, rtol=0, atol=1e-12)
    gap = np.zeros(100, dtype=bool)
    gap[40:80] = True
    np.testing.assert_allclose(out[~gap], np.c_[times * 10.0, -times][~gap], atol=1e-12)
    assert np.isnan(out[gap]).all()
    jittered = times + np.random.default_rng(0).uniform(0, 4e-4, 100)
    grid, out = uniform_trace(jittered, np.c_[jittered, jittered], max_gap_s=0.0)
    np.testing.assert_allclose(np.diff(grid), np.median(np.diff(jittered)))
    np.testing.assert_allclose(out[:, 0], grid)


def test_lowpass_passes_slow_signals_removes_fast_ones_and_splits_at_gaps():
    times = np.arange(2000) * 0.001
    slow, fast = np.sin(2 * np.pi * 2 * times), np.sin(2 * np.pi * 200 * times)
    out = lowpass((slow + fast)[:, None], cutoff_hz=10.0, rate_hz=1000.0)[:, 0]
    np.testing.assert_allclose(out[200:-200], slow[200:-200], atol=1e-3)  # zero phase
    split = np.r_[slow[:1000], np.nan, slow[1001:1010], np.nan, slow[1011:]][:, None]
    out = lowpass(split, cutoff_hz=10.0, rate_hz=1000.0)[:, 0]
    assert np.isnan(out[1000:1011]).all() and np.isfinite(out[:1000]).all()
    with pytest.raises(ValueError, match="speed_cutoff_hz must be in"):
        lowpass(split, cutoff_hz=500.0, rate_hz=1000.0)


def test_movement_onsets_notes():
    times = np.arange(400) * 0.001
    bump = np.r_[np.zeros(20), np.sin(np.linspace(0, np.pi, 60)) * 100.0, np.zeros(20)]
    speed = np.r_[bump, bump * 0.01, bump[40:], np.zeros(40), bump]  # (400,)
    speed[310] = np.nan
    first, last = np.array([0, 100, 200, 300]), np.array([99, 199, 299, 399])
    onsets = movement_onsets(times, speed, first, last, fraction=0.3, min_peak_fraction=0.1)
    assert onsets.notes.tolist() == ["", "no_movement", "moving_at_target_on", "gap"]
    assert set(onsets.notes) <= set(ONSET_NOTES)
    crossing = np.flatnonzero(bump >= 0.3 * bump.max())[0]  # first sample at the threshold
    assert onsets.times[0] == times[crossing] and np.isnan(onsets.times[1:]).all()
    assert onsets.peak_speed[0] == bump.max() and np.isnan(onsets.peak_speed[3])


# ---------------------------------------------------------------------- the generator's faults
def test_sensor_faults_change_only_the_finger_series(tmp_path):
    options = dict(n_units=2, duration_s=6.0, random_state=5)
    clean = make_random_target_nwb(tmp_path / "clean.nwb", **options)
    faulty = make_random_target_nwb(
        tmp_path / "faulty.nwb",
        position_noise_mm=0.1,
        dropout_rate_hz=2.0,
        timestamp_jitter_s=3e-4,
        **options,
    )
    for key in clean.keys() - {"dropout_s"}:
        np.testing.assert_array_equal(clean[key], faulty[key])
    assert clean["dropout_s"].shape == (0, 2) and len(faulty["dropout_s"]) > 3
    read = {}
    for name in ("clean", "faulty"):
        with pynwb.NWBHDF5IO(str(tmp_path / f"{name}.nwb"), "r") as io:
            nwbfile = io.read()
            behavior = nwbfile.processing["behavior"]
            read[name] = {key: behavior[key].data[:] for key in behavior.data_interfaces}
            read[name]["stamps"] = behavior["finger_pos"].get_timestamps()[:]
            read[name]["spikes"] = nwbfile.units["spike_times"].target.data[:]
            read[name]["description"] = nwbfile.experiment_description
    assert np.array_equal(read["clean"]["spikes"], read["faulty"]["spikes"])
    nominal, stamps = read["clean"]["stamps"], read["faulty"]["stamps"]
    np.testing.assert_allclose(nominal, np.arange(6000) / 1000.0)
    assert ((stamps - nominal >= 0) & (stamps - nominal < 3e-4)).all()
    dropped = np.isnan(read["faulty"]["finger_pos"]).any(axis=1)
    dropouts = faulty["dropout_s"]
    in_dropout = ((stamps[:, None] >= dropouts[:, 0]) & (stamps[:, None] < dropouts[:, 1])).any(1)
    assert np.array_equal(dropped, in_dropout) and not np.isnan(read["faulty"]["target_pos"]).any()
    assert np.array_equal(np.isnan(read["faulty"]["finger_vel"]).any(axis=1), dropped)
    noise = (read["faulty"]["cursor_pos"] - read["clean"]["cursor_pos"])[~dropped]
    assert 0.05 < noise.std() < 0.2  # the noise (0.1 mm), and the jitter's small shifts
    assert "0.1 mm of white position noise" in read["faulty"]["description"]
    assert "noise" not in read["clean"]["description"]


def test_sensor_fault_arguments_are_checked(tmp_path):
    for bad, match in (
        (dict(position_noise_mm=-0.1), "position_noise_mm"),
        (dict(dropout_rate_hz=-1.0), "dropout_rate_hz"),
        (dict(dropout_duration_s=(0.05, 0.01)), "dropout_duration_s"),
        (dict(timestamp_jitter_s=5e-4), "timestamp_jitter_s"),
    ):
        with pytest.raises(ValueError, match=match):
            make_random_target_nwb(tmp_path / "x.nwb", n_units=1, duration_s=2.0, **bad)
    assert not any(tmp_path.iterdir())
