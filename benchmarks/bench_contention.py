"""A GNOCCHI fit alone and beside a competing PyTorch process, under each thread policy.

Every fit runs in a fresh Python process (the OpenMP wait policy is read once, when torch
loads): a toy GNOCCHI with default settings for ``--epochs`` epochs, timed from ``fit`` to its
return. The competitor is another user's job: a small convolutional network training in a
loop (``--competitor train``, the case where spinning threads hurt most) or large matrix
products (``--competitor matmul``), with torch's default threads and wait policy, started a
few seconds before the fit and stopped after it. Policies:

* ``brief`` -- the package's default (``NEUROGNOCCHI_THREAD_POLICY`` unset): ``GOMP_SPINCOUNT``
  = ``neurognocchi.threads.BRIEF_SPINCOUNT``, threads spin briefly, then sleep;
* ``spin`` -- ``NEUROGNOCCHI_THREAD_POLICY=spin``: OpenMP as torch ships it, threads spin for
  milliseconds;
* ``passive`` -- ``NEUROGNOCCHI_THREAD_POLICY=passive``: ``OMP_WAIT_POLICY=PASSIVE``, threads
  sleep at once;
* ``1 thread`` -- ``OMP_NUM_THREADS=1`` (with the default policy), the usual advice for a
  shared machine.

The table gives the median fit time over ``--repeats`` fits alone and beside the competitor,
and the slowdown (beside / alone); the fastest policy alone is the reference of the last
column. Run: ``python benchmarks/bench_contention.py [--quick] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS")
POLICIES = {
    "brief (default)": {},
    "spin": {"NEUROGNOCCHI_THREAD_POLICY": "spin"},
    "passive": {"NEUROGNOCCHI_THREAD_POLICY": "passive"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
}


def _environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}
    env.pop("NEUROGNOCCHI_THREAD_POLICY", None)
    return env | extra


def child_fit(epochs: int, n_trials: int) -> None:
    """Fit a default GNOCCHI on toy trials; print the fit's seconds and thread settings."""
    import neurognocchi  # first: the thread policy must precede torch
    from neurognocchi.data import make_toy_dataset
    from neurognocchi.threads import thread_policy

    trials = make_toy_dataset(n_trials, random_state=0)
    model = neurognocchi.GNOCCHI(max_epochs=epochs, random_state=0, verbose=False)
    start = time.perf_counter()
    model.fit(trials)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "policy": thread_policy()}))


def child_competitor(kind: str) -> None:
    """Run until killed: a training loop of a small network, or large matrix products."""
    import torch

    if kind == "matmul":
        a = torch.randn(1024, 1024)
        while True:
            a = torch.tanh(a @ a)
    net = torch.nn.Sequential(
        torch.nn.Conv1d(50, 64, 3, padding=1),
        torch.nn.SiLU(),
        torch.nn.Conv1d(64, 50, 3, padding=1),
    )
    optimiser = torch.optim.Adam(net.parameters())
    x = torch.randn(64, 50, 50)  # (B, N, T)
    while True:
        loss = net(x).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def timed_fit(policy: str, args, competitor: str | None) -> dict:
    """One fit in a fresh process under ``policy``, beside ``competitor`` when given."""
    rival = None
    if competitor is not None:
        command = [sys.executable, __file__, "--run-competitor", competitor]
        rival = subprocess.Popen(command, env=_environment(), stdout=subprocess.DEVNULL)
        time.sleep(args.warmup)
    try:
        command = [sys.executable, __file__, "--run-fit", "--epochs", str(args.epochs)]
        command += ["--trials", str(args.trials)]
        out = subprocess.run(
            command,
            env=_environment(**POLICIES[policy]),
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        if rival is not None:
            rival.kill()
            rival.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run for a smoke test")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--competitor", choices=("train", "matmul"), default="train")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds the rival runs first")
    parser.add_argument("--run-fit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run-competitor", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_fit:
        return child_fit(args.epochs, args.trials)
    if args.run_competitor:
        return child_competitor(args.run_competitor)
    if args.quick:
        args.epochs, args.trials, args.repeats, args.warmup = 1, 60, 1, 1.0
    load_before = os.getloadavg()[0]
    rows, settings = [], {}
    for policy in POLICIES:
        alone = [timed_fit(policy, args, None) for _ in range(args.repeats)]
        beside = [timed_fit(policy, args, args.competitor) for _ in range(args.repeats)]
        settings[policy] = alone[0]["policy"]
        rows.append(
            (policy, *(statistics.median(r["seconds"] for r in x) for x in (alone, beside)))
        )
    fastest_alone = min(alone for _, alone, _ in rows)
    print(
        f"\nGNOCCHI fit ({args.trials} toy trials, {args.epochs} epochs) alone and beside a "
        f"competing PyTorch process ({args.competitor}); {os.cpu_count()} cores, median of "
        f"{args.repeats}; load before the run {load_before:.2f}\n"
    )
    print("| policy | alone s | beside competitor s | slowdown | beside / fastest alone |")
    print("|---|---:|---:|---:|---:|")
    for policy, alone, beside in rows:
        print(
            f"| {policy} | {alone:.1f} | {beside:.1f} | {beside / alone:.1f}x "
            f"| {beside / fastest_alone:.1f}x |"
        )
    print("\nsettings seen by each fit:")
    for policy, seen in settings.items():
        print(f"* {policy}: {seen}")


if __name__ == "__main__":
    main()
