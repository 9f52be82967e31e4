"""Achieved FLOP/s of GNOCCHI's denoiser against a plain matmul on the same machine.

The denoiser's floating-point operations per call are counted by
``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions, forward and
backward); dividing by the measured time gives its achieved FLOP/s. A square float32 matmul
of ``--matmul`` rows, timed the same way, stands in for what the hardware reaches in practice;
the ratio says how close the denoiser comes to it.

Run: ``python benchmarks/bench_flops.py [--quick] [--device auto] [--neurons 200]``.
"""

from __future__ import annotations

# isort: off
# First, before torch loads: neurognocchi's OpenMP wait policy (see _common).
from _common import add_device_arguments, benchmark_parser, device_of, machine, print_table, timed
# isort: on

import torch
from torch.utils.flop_counter import FlopCounterMode

from neurognocchi.nn import UNet1dDenoiser


def best_time(function, device: torch.device, repeats: int) -> float:
    """Shortest of ``repeats`` timed calls, after one warm-up call."""
    function()  # warm-up
    return min(timed(function, device)[0] for _ in range(repeats))


def count_flops(function) -> int:
    with FlopCounterMode(display=False) as counter:
        function()
    return counter.get_total_flops()


def denoiser_calls(args, device):
    """Forward-only and forward+backward calls of the default-size denoiser."""
    torch.manual_seed(0)
    net = UNet1dDenoiser(args.neurons, code_dim=16, channels=64, channel_mults=(1, 2, 2))
    net = net.to(device)
    x = torch.randn(args.batch, args.time, args.neurons, device=device)  # (B, T, N)
    t = torch.randint(0, 1000, (args.batch,), device=device)
    code = torch.randn(args.batch, 16, device=device)

    @torch.no_grad()
    def forward():
        net(x, t, code)

    def forward_backward():
        net.zero_grad(set_to_none=True)
        net(x, t, code).pow(2).mean().backward()

    return {"denoiser forward": forward, "denoiser forward+backward": forward_backward}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--neurons", type=int, default=200)
    parser.add_argument("--time", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--matmul", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    add_device_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.neurons, args.time, args.batch, args.matmul, args.repeats = 50, 32, 16, 512, 2
    device = device_of(args)
    a = torch.randn(args.matmul, args.matmul, device=device)
    b = torch.randn(args.matmul, args.matmul, device=device)
    calls = {f"matmul {args.matmul}x{args.matmul} fp32": lambda: a @ b}
    calls |= denoiser_calls(args, device)
    rows, peak = [], None
    for name, function in calls.items():
        flops = count_flops(function)
        seconds = best_time(function, device, args.repeats)
        achieved = flops / seconds / 1e9
        peak = achieved if peak is None else peak
        rows.append([name, flops / 1e9, 1e3 * seconds, achieved, achieved / peak])
    columns = ["call", "GFLOP", "ms", "GFLOP/s", "fraction of matmul"]
    title = (
        f"Achieved FLOP/s: denoiser on {args.batch} trials x {args.time} bins x {args.neurons} "
        f"neurons (channels 64, mults 1-2-2), device {device} ({machine(device)})"
    )
    print_table(title, columns, rows)


if __name__ == "__main__":
    main()
