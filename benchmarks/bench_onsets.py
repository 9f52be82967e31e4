"""Movement-onset accuracy of ``load_mc_rtt`` when the finger sensor is noisy, drops out and
samples irregularly: onset error and start-label error against the written reaches, for the
old rule (30 % of the peak of the raw 1 kHz speed) and the current one (speed low-passed at
10 Hz, short dropouts bridged), on the same synthetic MC_RTT-layout sessions in one run.

The true onset of a written minimum-jerk reach is where its speed crosses 30 % of its peak;
the true start is the written path there. Both methods score the reaches ``load_mc_rtt``
returns (complete periods); errors are over those each method gives an onset, and "no onset"
counts the others (the old rule has none for a period with a dropout, the current one flags
a reach in ``onset_note``).

Run: ``python benchmarks/bench_onsets.py [--minutes 5] [--quick]``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from _common import benchmark_parser, print_table

from neurognocchi.data.nwb import load_mc_rtt
from neurognocchi.data.nwb.read import open_nwb, read_named_series
from neurognocchi.data.nwb.synthetic import make_random_target_nwb
from neurognocchi.data.nwb.windows import interpolate_series

# Speed 30 tau^2 (1 - tau)^2 of a minimum-jerk reach crosses 0.3 of its peak 1.875 here.
TAU_AT_30_PERCENT = (1 - np.sqrt(1 - 4 * np.sqrt(0.3 * 1.875 / 30))) / 2
SENSORS = [  # (label, make_random_target_nwb keywords)
    ("clean", {}),
    ("0.05 mm noise", dict(position_noise_mm=0.05)),
    ("0.2 mm noise", dict(position_noise_mm=0.2)),
    (
        "0.05 mm + dropouts + jitter",
        dict(position_noise_mm=0.05, dropout_rate_hz=0.5, timestamp_jitter_s=4e-4),
    ),
    (
        "0.2 mm + dropouts + jitter",
        dict(position_noise_mm=0.2, dropout_rate_hz=0.5, timestamp_jitter_s=4e-4),
    ),
]


def true_onsets(truth):
    """Onset time (n,) and start position (n, 2) of every written reach."""
    onset = truth["move_start_time"] + TAU_AT_30_PERCENT * truth["move_duration"]
    tau = TAU_AT_30_PERCENT
    covered = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    return onset, truth["start"] + covered * (truth["target"] - truth["start"])


def new_onsets(path, truth):
    """Written-reach index (n,), onset (n,) and start (n, 2) of the reaches load_mc_rtt
    returns; NaN where it flags the onset as not found."""
    info = load_mc_rtt(path, behavior=()).trial_info
    target_on = info["move_onset_time"] + info["target_on_time"]  # session time
    reach = np.searchsorted(truth["target_on_time"], target_on + 1e-9, side="right") - 1
    onset = np.where(info["onset_found"], info["move_onset_time"], np.nan)
    return reach, onset, np.c_[info["start_x"], info["start_y"]]


def old_onsets(path, truth, reaches):
    """The old rule on the raw speed of the file's ``finger_vel`` in each reach's period:
    the sample after the last one below 30 % of the peak (NaN when the period has a NaN)."""
    with open_nwb(path) as nwbfile:
        series = read_named_series(nwbfile, ["finger_vel", "finger_pos"])
    times, velocity, _ = series["finger_vel"]
    speed = np.hypot(velocity[:, 0], velocity[:, 1])
    on = truth["target_on_time"]
    onsets = np.full(len(reaches), np.nan)
    for k, reach in enumerate(reaches):
        a, b = np.searchsorted(times, [on[reach], on[reach + 1]])
        segment = speed[a:b]
        if not np.isfinite(segment).all():
            continue
        peak = int(np.argmax(segment))
        below = np.flatnonzero(segment[:peak] < 0.3 * segment[peak])
        onsets[k] = times[a + (below[-1] + 1 if below.size else 0)]
    position_times, position, _ = series["finger_pos"]
    start = interpolate_series(position_times, position[:, :2], np.nan_to_num(onsets))
    return reaches, onsets, np.where(np.isfinite(onsets)[:, None], start, np.nan)


def error_row(label, method, detected, onset_true, start_true):
    """One table row: errors of the ``detected`` (reach, onset, start) onsets and starts."""
    reach, onset, start = detected
    found = np.isfinite(onset)
    onset_ms = np.abs(onset - onset_true[reach])[found] * 1e3
    start_mm = np.hypot(*(start - start_true[reach]).T)
    start_mm = start_mm[np.isfinite(start_mm)]  # the old rule's start can fall in a dropout
    return [
        label,
        method,
        int(found.sum()),
        int((~found).sum()),
        *(float(np.percentile(onset_ms, q)) for q in (50, 95, 100)),
        *(float(np.percentile(start_mm, q)) for q in (50, 95, 100)),
    ]


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    duration_s = 30.0 if args.quick else 60 * args.minutes
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, sensor in SENSORS:
            path = Path(tmp) / "session.nwb"
            truth = make_random_target_nwb(
                path,
                n_units=2,
                duration_s=duration_s,
                random_state=args.seed,
                overwrite=True,
                **sensor,
            )
            onset_true, start_true = true_onsets(truth)
            new = new_onsets(path, truth)
            old = old_onsets(path, truth, new[0])  # the same reaches
            rows.append(error_row(label, "old: raw speed", old, onset_true, start_true))
            rows.append(
                error_row(label, "new: bridged, 10 Hz low-pass", new, onset_true, start_true)
            )
    columns = [
        "sensor",
        "method",
        "scored",
        "no onset",
        "onset err median (ms)",
        "p95 (ms)",
        "max (ms)",
        "start err median (mm)",
        "p95 (mm)",
        "max (mm)",
    ]
    title = (
        f"Movement-onset error of load_mc_rtt, synthetic MC_RTT sessions of "
        f"{duration_s / 60:g} min (seed {args.seed}); dropouts: 0.5/s of 5-50 ms; "
        "jitter: samples up to 0.4 ms late"
    )
    print_table(title, columns, rows)


if __name__ == "__main__":
    main()
