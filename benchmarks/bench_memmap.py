"""Training from a memory-mapped dataset far larger than the process's memory use.

A child process writes ``--trials`` x ``--time`` x ``--neurons`` float32 activity (default
20 000 x 50 x 1000: 4 GB) block by block with :func:`neurognocchi.data.create_memmap`. This
process then opens it with :func:`neurognocchi.data.open_memmap` (validation reads the file
once, a block at a time), computes per-neuron statistics over all of it in blocks, reads
random batches, and fits GNOCCHI for one epoch on the first ``--fit-trials`` trials (a slice,
still memory-mapped). A sampling thread records the process's resident memory: anonymous
memory (heap, tensors: what the process really holds) and file-backed pages (shared libraries
and the mapped pages read but not yet released; the library unmaps what it has read after each
block or batch, and the kernel could drop them under memory pressure anyway).

Run: ``python benchmarks/bench_memmap.py [--quick] [--dir /tmp] [--keep]``.
"""

from __future__ import annotations

# isort: off
# First, before torch loads: neurognocchi's OpenMP wait policy (see _common).
from _common import benchmark_parser, print_table
# isort: on

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from neurognocchi.data._lazy import RowSubset
from neurognocchi.data.memmap import create_memmap, open_memmap
from neurognocchi.data.stats import neuron_statistics
from neurognocchi.estimators import GNOCCHI


def generate(directory: Path, n_trials: int, n_time: int, n_neurons: int) -> None:
    """Smooth low-dimensional rates (Hz) plus noise, written 500 trials at a time."""
    arrays = create_memmap(directory, n_trials, n_time, n_neurons, bin_size_s=0.02)
    rng = np.random.default_rng(0)
    loadings = rng.normal(size=(8, n_neurons)).astype(np.float32) / 2
    phase = np.linspace(0, 2 * np.pi, n_time, dtype=np.float32)[None, :, None]
    for start in range(0, n_trials, 500):
        size = min(500, n_trials - start)
        latent = np.sin(phase + rng.uniform(0, 2 * np.pi, size=(size, 1, 8)).astype(np.float32))
        rates = 10 * np.exp(latent @ loadings)  # (size, T, N)
        rates += rng.normal(size=rates.shape).astype(np.float32)
        arrays["activity"][start : start + size] = np.abs(rates)
    arrays["activity"].flush()


class MemorySampler(threading.Thread):
    """Peak anonymous and file-backed resident memory of this process (MiB), sampled."""

    def __init__(self, interval_s: float = 0.02):
        super().__init__(daemon=True)
        self.interval_s, self.running = interval_s, True
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0, "VmRSS": 0.0}

    @staticmethod
    def read() -> dict[str, float]:
        values = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile", "VmRSS"):
                values[key] = int(rest.split()[0]) / 1024
        return values

    def run(self):
        while self.running:
            for key, value in self.read().items():
                self.peak[key] = max(self.peak[key], value)
            time.sleep(self.interval_s)

    def reset(self):
        self.peak = dict.fromkeys(self.peak, 0.0)


def phase(name, function, sampler, rows):
    sampler.reset()
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    time.sleep(3 * sampler.interval_s)
    peak = sampler.peak
    rows.append([name, seconds, peak["RssAnon"], peak["RssFile"], peak["VmRSS"]])
    return result


def main() -> None:
    parser = benchmark_parser(__doc__, quick_help="small file for a smoke test")
    parser.add_argument("--trials", type=int, default=20_000)
    parser.add_argument("--time", type=int, default=50)
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--fit-trials", type=int, default=2000)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.trials, args.neurons, args.fit_trials = 2000, 200, 256
    if args.generate:
        generate(Path(args.generate), args.trials, args.time, args.neurons)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="neurognocchi-memmap-", dir=args.dir))
    directory = root / "trials"
    try:
        run(args, directory)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def run(args, directory: Path) -> None:
    start = time.perf_counter()
    command = [sys.executable, __file__, "--generate", str(directory)]
    command += ["--trials", str(args.trials), "--time", str(args.time)]
    command += ["--neurons", str(args.neurons)]
    subprocess.run(command, check=True)
    write_s = time.perf_counter() - start
    size_mb = (directory / "activity.npy").stat().st_size / 2**20
    sampler = MemorySampler()
    sampler.start()
    rows = [["write file (child process)", write_s, "-", "-", "-"]]
    trials = phase("open_memmap (validates all)", lambda: open_memmap(directory), sampler, rows)
    phase(
        "per-neuron statistics, all trials",
        lambda: neuron_statistics(trials.activity),
        sampler,
        rows,
    )
    rng = np.random.default_rng(0)

    rows_of = RowSubset(trials.activity, np.arange(args.trials))  # what training reads through

    def read_batches():
        for _ in range(50):
            rows_of[np.sort(rng.choice(args.trials, 64, replace=False))]

    phase("read 50 random batches of 64", read_batches, sampler, rows)
    model = GNOCCHI(max_epochs=1, batch_size=32, random_state=0, device="auto", verbose=False)
    subset = trials[: args.fit_trials]
    phase(
        f"GNOCCHI.fit, 1 epoch on {args.fit_trials} trials",
        lambda: model.fit(subset),
        sampler,
        rows,
    )
    sampler.running = False
    columns = ["phase", "seconds", "peak anon MiB", "peak file-backed MiB", "peak RSS MiB"]
    title = (
        f"Memory-mapped training data: {args.trials} trials x {args.time} bins x "
        f"{args.neurons} neurons float32 = {size_mb:.0f} MiB on disk"
    )
    print_table(title, columns, rows)


if __name__ == "__main__":
    main()
