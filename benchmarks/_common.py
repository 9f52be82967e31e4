"""Helpers shared by the benchmark scripts: command-line options, devices, timing and tables.

The scripts import this module as ``_common`` (they run as ``python benchmarks/bench_x.py``, so
this folder is on the import path); it is not part of the package.
"""

from __future__ import annotations

# isort: off
# First, before torch loads: the package's OpenMP wait policy (NEUROGNOCCHI_THREAD_POLICY;
# by default a brief spin, see neurognocchi.threads).
import neurognocchi  # noqa: F401
# isort: on

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import torch

from neurognocchi._checks import resolve_device

QUICK_HELP = "tiny run for a smoke test"


def benchmark_parser(doc: str, *, quick_help: str | None = QUICK_HELP) -> argparse.ArgumentParser:
    """An argument parser described by the first line of ``doc`` (a script's ``__doc__``),
    with the ``--quick`` smoke-run flag unless ``quick_help`` is None."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if quick_help is not None:
        parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser


def add_shape_arguments(parser, *, trials: int, neurons: int, time: int) -> None:
    """The ``--trials``, ``--neurons`` and ``--time`` options: the shape of the toy data."""
    parser.add_argument("--trials", type=int, default=trials)
    parser.add_argument("--neurons", type=int, default=neurons)
    parser.add_argument("--time", type=int, default=time)


def add_demo_arguments(parser) -> None:
    """The data shape and GNOCCHI size of ``neurognocchi demo`` (toy data, 8-number code)."""
    add_shape_arguments(parser, trials=500, neurons=50, time=50)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--code-dim", type=int, default=8)


def add_device_arguments(parser) -> None:
    """The ``--device`` and ``--threads`` options of every benchmark; see :func:`device_of`."""
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (CPU)")


def device_of(args) -> torch.device:
    """Apply ``--threads`` (when given) and return the resolved ``--device``."""
    if args.threads:
        torch.set_num_threads(args.threads)
    return resolve_device(args.device)


def machine(device: torch.device) -> str:
    """The device's name, the torch version and the number of torch threads, for a title."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    return f"{name}; torch {torch.__version__}; {torch.get_num_threads()} torch threads"


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing to wait for on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """Wall time of one call of ``function``, queued device work included, and its result."""
    synchronize(device)
    start = time.perf_counter()
    result = function()
    synchronize(device)
    return time.perf_counter() - start, result


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    """Print a Markdown table under ``title``; floats get 4 significant digits."""
    print(f"\n{title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        print("| " + " | ".join(cells) + " |")
