"""Read time of NWB files of realistic size: a synthetic MC_RTT-layout session (100 units,
10 minutes, 1 kHz behaviour, spike times at sub-millisecond resolution), trialized by
``load_mc_rtt``, and the same session read through ``load_nwb`` with detected onsets.

Run: ``python benchmarks/bench_nwb_reader.py [--units 100] [--minutes 10]``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import benchmark_parser

from neurognocchi.data.nwb import load_mc_rtt, load_nwb
from neurognocchi.data.nwb.synthetic import make_random_target_nwb


def main() -> None:
    parser = benchmark_parser(__doc__, quick_help=None)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session.nwb"
        start = time.perf_counter()
        make_random_target_nwb(
            path, n_units=args.units, duration_s=60 * args.minutes, gap_s=(100.0, 110.0)
        )
        write_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        rows = []
        for label, read in (
            ("load_mc_rtt (20 ms bins, smoothed)", lambda: load_mc_rtt(path)),
            (
                "load_mc_rtt (1 ms bins, unsmoothed)",
                lambda: load_mc_rtt(path, bin_size_s=0.001, smooth_sigma_s=None),
            ),
        ):
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                trials = read()
                times.append(time.perf_counter() - start)
            rows.append((label, min(times), trials))
        onsets = trials.trial_info["move_onset_time"]
        start = time.perf_counter()
        load_nwb(path, align_times=onsets, behavior=())
        rows.append(("load_nwb (given onsets, no behaviour)", time.perf_counter() - start, trials))
    n_spikes = int(rows[0][2].spikes.sum())
    print(
        f"file: {args.units} units, {args.minutes:g} min, {size_mb:.1f} MB, written in "
        f"{write_s:.1f} s; {rows[0][2].n_trials} reaches, {n_spikes} spikes in trials"
    )
    print(f"{'reader':<42} {'seconds':>8}  trials x bins x units")
    for label, seconds, trials in rows:
        print(f"{label:<42} {seconds:>8.2f}  {trials.spikes.shape}")


if __name__ == "__main__":
    main()
