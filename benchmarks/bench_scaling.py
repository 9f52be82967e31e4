"""How training cost grows with n_neurons (100 -> 2000) and n_time, with peak memory.

Each configuration runs in a fresh process (so its peak memory is its own): it builds the
default GNOCCHI or LFADS model for random data of that shape and times ``--steps`` training
steps (forward, backward, AdamW) on batches of ``--batch`` trials after two warm-up steps.
Peak memory is the process's peak resident set on CPU (and the part above the resident set
after imports, before the model is built), or ``torch.cuda.max_memory_allocated`` on a GPU.

Run: ``python benchmarks/bench_scaling.py [--quick] [--device auto]``.
"""

from __future__ import annotations

# isort: off
# First, before torch loads: neurognocchi's OpenMP wait policy (see _common).
from _common import add_device_arguments, benchmark_parser, device_of, machine, print_table, timed
# isort: on

import argparse
import functools
import json
import resource
import subprocess
import sys

import numpy as np
import torch

from neurognocchi.data.stats import neuron_statistics
from neurognocchi.estimators import GNOCCHI, LFADS

FULL = [(100, 50), (250, 50), (500, 50), (1000, 50), (2000, 50), (500, 100), (500, 200)]
QUICK = [(100, 20), (200, 20)]


def one(model_name: str, n_neurons: int, n_time: int, args) -> dict:
    """Time training steps of one configuration in this process."""
    device = device_of(args)
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # kB on Linux
    rng = np.random.default_rng(0)
    data = rng.poisson(2.0, size=(args.batch, n_time, n_neurons)).astype(np.float32)
    estimator = {"GNOCCHI": GNOCCHI, "LFADS": LFADS}[model_name](random_state=0)
    from_data = {"likelihood": "poisson", "bin_size_s": None} if model_name == "LFADS" else {}
    torch.manual_seed(0)
    config = estimator._model_config(n_time, n_neurons, **from_data)
    model = estimator._build_model(config).to(device)
    model.set_statistics(neuron_statistics(data))
    batch = torch.as_tensor(data, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)

    def training_step(step: int) -> None:
        loss = model.loss(batch, generator=generator, step=step)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    times = [
        timed(functools.partial(training_step, step), device)[0] for step in range(args.steps + 2)
    ]
    if device.type == "cuda":
        peak_mb, base_mb = torch.cuda.max_memory_allocated(device) / 2**20, 0.0
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    n_params = sum(p.numel() for p in model.parameters())
    step_s = float(np.median(times[2:]))
    return {
        "step_s": step_s,
        "peak_mb": peak_mb,
        "added_mb": peak_mb - base_mb,
        "params": n_params,
        "machine": machine(device),
    }


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    add_device_arguments(parser)
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "N", "T"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), int(args.one[2]), args)))
        return
    shapes = QUICK if args.quick else FULL
    if args.quick:
        args.steps = 2
    rows, described = [], ""
    for n_neurons, n_time in shapes:
        for model_name in ("GNOCCHI", "LFADS"):
            command = [sys.executable, __file__, "--one", model_name, str(n_neurons), str(n_time)]
            command += ["--batch", str(args.batch), "--steps", str(args.steps)]
            command += ["--device", args.device]
            command += ["--threads", str(args.threads)] if args.threads else []
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            described = result["machine"]
            rows.append(
                [
                    model_name,
                    n_neurons,
                    n_time,
                    result["params"],
                    1e3 * result["step_s"],
                    args.batch / result["step_s"],
                    result["peak_mb"],
                    result["added_mb"],
                ]
            )
    columns = ["model", "n_neurons", "n_time", "parameters", "ms / step", "trials/s"]
    columns += ["peak memory MiB", "above imports MiB"]
    title = f"Scaling: training steps on batches of {args.batch} trials ({described})"
    print_table(title, columns, rows)


if __name__ == "__main__":
    main()
