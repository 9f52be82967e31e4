"""Evaluation cost of GNOCCHI and LFADS under the protocol, in one run: seconds and ratio.

Both models are fitted with ``neurognocchi demo``'s settings (``--quick``: the quick demo's),
or read from a demo output folder (``--runs DIR``, holding ``data.npz``, ``gnocchi/`` and
``lfads/``), then each is scored by :func:`neurognocchi.evaluation.evaluate` with the same
split, seed, K (``--samples``) and sampling seeds (``--sampling-seeds``) as the demo. GNOCCHI is
scored once per ``--samplers`` entry (default: the default sampler, UniPC with 10 steps, and
DDIM with 20 steps, what the demo used up to 0.3.0), the same fitted weights each time. The
table gives the seconds of each step of the protocol (``step_seconds`` of the result: encoding,
code read-outs, every sampling seed's generation and scoring, spike statistics) and each
model's total over LFADS's.

Below the table: how many trials GNOCCHI generates in one evaluation and the denoiser's cost
per trial and model call on this machine, i.e. the part of GNOCCHI's time that only fewer
generated trials, fewer sampler steps or a cheaper network could remove.

Run: ``python benchmarks/bench_evaluation.py [--quick] [--runs demo_output] [--device auto]``.
"""

from __future__ import annotations

# isort: off
# First, before torch loads: neurognocchi's OpenMP wait policy (see _common).
from _common import (
    add_device_arguments,
    benchmark_parser,
    device_of,
    machine,
    print_table,
    timed,
)
# isort: on

import tempfile
from pathlib import Path

import torch

from neurognocchi.data import make_reaching_dataset
from neurognocchi.evaluation import evaluate
from neurognocchi.runs.demo import DEMO_SETTINGS
from neurognocchi.runs.directory import fit_run, scorable_runs

MODELS = ("gnocchi", "lfads")


def fitted_runs(args, folder: Path) -> Path:
    """A folder with ``data.npz``, ``gnocchi/`` and ``lfads/`` fitted with the demo's settings."""
    settings = DEMO_SETTINGS["quick" if args.quick else "full"]
    data = make_reaching_dataset(**settings["data"], random_state=args.seed).save(
        folder / "data.npz"
    )
    for model in MODELS:
        params = settings[model] | {"random_state": args.seed, "verbose": False}
        fit_run(data, folder / model, model=model, params=params)
    return folder


def samplers(text: list[str]) -> list[tuple[str, int]]:
    """``["unipc:10", "ddim:20"]`` as [("unipc", 10), ("ddim", 20)]."""
    out = []
    for item in text:
        method, _, steps = item.partition(":")
        out.append((method, int(steps)))
    return out


def denoiser_ms_per_trial(model, device: torch.device, batch: int = 256) -> float:
    """Milliseconds of one denoiser call per trial, in batches of ``batch`` (as generate runs)."""
    net = model.model_
    shape = (batch, net.config.n_time, net.config.n_neurons + net.config.n_behavior)
    x = torch.randn(shape, device=device)
    t = torch.full((batch,), net.n_train_steps // 2, device=device, dtype=torch.long)
    code = torch.randn(batch, net.config.code_dim, device=device)
    with torch.no_grad():
        net.denoiser(x, t, code)  # warm-up
        seconds, _ = timed(lambda: [net.denoiser(x, t, code) for _ in range(3)], device)
    return seconds / 3 / batch * 1e3


def main() -> None:
    parser = benchmark_parser(__doc__, quick_help="the quick demo's data and models")
    parser.add_argument("--runs", type=Path, default=None, help="a demo output folder to reuse")
    parser.add_argument("--samples", type=int, default=None, help="K (default: the demo's)")
    parser.add_argument("--sampling-seeds", type=int, default=None, help="default: the demo's")
    parser.add_argument("--samplers", nargs="+", default=["unipc:10", "ddim:20"])
    parser.add_argument("--seed", type=int, default=0, help="data and fit seed (fresh fits)")
    add_device_arguments(parser)
    args = parser.parse_args()
    device = device_of(args)
    settings = DEMO_SETTINGS["quick" if args.quick else "full"]
    n_samples = args.samples or settings["n_samples"]
    n_seeds = args.sampling_seeds or settings["n_sampling_seeds"]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.runs or fitted_runs(args, Path(scratch))
        runs = [folder / model for model in MODELS]
        trials, split, seed, models = scorable_runs(runs, folder / "data.npz", device=str(device))
        options = dict(
            split=split, random_state=seed, n_samples=n_samples, n_sampling_seeds=n_seeds
        )
        rows, totals, gnocchi = [], {}, models["GNOCCHI"]
        for model in models.values():
            variants = samplers(args.samplers) if model is gnocchi else [("-", 0)]
            for method, steps in variants:
                if model is gnocchi:
                    model.set_params(sampler=method, n_sample_steps=steps)
                result = evaluate(model, trials, **options)
                seconds = result["step_seconds"]
                sampling = sum(v for k, v in seconds.items() if k.startswith("sampling seed"))
                total = result["summary"]["evaluate_seconds"]
                label = type(model).__name__ + ("" if method == "-" else f" {method}-{steps}")
                totals[label] = total
                rows.append(
                    [
                        label,
                        seconds["prepare"] + seconds["codes"],
                        sampling,
                        seconds["spike statistics"],
                        seconds["co-smoothing"] + seconds["joint behaviour"],
                        total,
                    ]
                )
        lfads = totals["LFADS"]
        for row in rows:
            row.append(row[-1] / lfads)
        title = (
            f"Protocol evaluation, {'quick ' if args.quick else ''}demo data and models "
            f"({trials.n_trials} trials; {len(split.valid)} validation codes), K = {n_samples}, "
            f"{n_seeds} sampling seeds, device {device} ({machine(device)})"
        )
        columns = [
            "model",
            "encode + code read-outs s",
            "sampling seeds s",
            "spike statistics s",
            "other s",
            "total s",
            "/ LFADS",
        ]
        print_table(title, columns, rows)
        per_seed = len(split.valid) * n_samples  # reconstruction: K samples of every code
        cost = denoiser_ms_per_trial(gnocchi, device)
        print(
            f"\nGNOCCHI generates K = {n_samples} samples of each of {len(split.valid)} "
            f"validation codes per sampling seed ({per_seed} trials, most of the total), plus "
            f"navigated and traversed codes and prior samples; one denoiser call costs "
            f"{cost:.3f} ms a trial here (batches of 256), so the reconstruction alone costs "
            f"{per_seed * n_seeds * cost / 1e3:.1f} s per sampler step over {n_seeds} sampling "
            "seeds."
        )


if __name__ == "__main__":
    main()
