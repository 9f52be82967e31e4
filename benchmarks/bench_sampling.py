"""Sampling speed against quality: DDIM, DPM-Solver++ and UniPC with 5/10/20/50 steps against
1000-step DDPM.

One GNOCCHI model is trained on toy trials (or loaded with ``--model DIR``; it must fit toy data
of the ``--trials/--neurons/--time`` shape). The first ``--trials-eval`` validation trials are
encoded, and ``--samples`` (K) trials are generated from each trial's own code with every
sampler, from the same starting noise (``random_state=0`` with common random numbers: sample
``k`` of every code and every sampler starts from the same draw). Scores, each a function of
the samples only:

* reconstruction R² of the mean of the K samples against the ground-truth rates smoothed like
  the data (``pooled_r2``, the protocol's reconstruction metric);
* correlation RMSE of single samples against the data: the RMSE between the neurons'
  pairwise-correlation matrices of all K samples of every trial and of the real trials
  (``sample_statistics(...)["corr_rmse"]``);
* sample s.d. error: the mean absolute error of the per-neuron s.d. of single samples against
  the data's, relative to the data's average s.d. (``sample_statistics(...)["sd_rel_error"]``).

``--latent`` benchmarks :class:`~neurognocchi.estimators.LatentGNOCCHI` instead (the
autoencoder and the diffusion trained ``--epochs`` each on the toy spike counts): its samples
are rates per bin (``generate(output="rates")``, a function of the generated latents only), so
all three scores are taken against the true rates per bin of the scored trials.

Each score is also given as its relative difference from DDPM-1000 in %. The last line names
the fastest setting (wall time per sample) within 2 % of DDPM-1000 on all three: for each
metric ``m``, ``|m - m_DDPM| <= 0.02 * |m_DDPM|`` (both directions: a setting that differs
from DDPM by more, better or worse, does not give DDPM's samples). The rule ignores the Monte
Carlo spread of DDPM's own scores, which shrinks with ``--trials-eval`` and ``--samples``.

Run: ``python benchmarks/bench_sampling.py [--quick] [--latent] [--model DIR] [--trials-eval N]
[--samples K] [--device auto] [--threads N]``.
"""

from __future__ import annotations

import numpy as np
from _common import (
    add_demo_arguments,
    add_device_arguments,
    benchmark_parser,
    device_of,
    machine,
    print_table,
    timed,
)

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI, LatentGNOCCHI
from neurognocchi.evaluation.generation import infer_smoothing
from neurognocchi.evaluation.metrics import pooled_r2, sample_statistics

SAMPLERS = ("ddim", "dpm-solver++", "unipc")
STEPS = (5, 10, 20, 50)
METRICS = ("R² mean of K", "corr. RMSE", "s.d. error")
TOLERANCE = 0.02  # the "within 2 % of DDPM" rule, per metric


def parse_args():
    parser = benchmark_parser(__doc__)
    parser.add_argument("--latent", action="store_true", help="LatentGNOCCHI on spike counts")
    parser.add_argument("--model", default=None, help="a saved GNOCCHI directory to use")
    parser.add_argument("--save", default=None, help="save the fitted GNOCCHI to this directory")
    add_demo_arguments(parser)  # and rec_weight 4, as `neurognocchi demo`
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--train-steps", type=int, default=1000, help="diffusion steps (fit)")
    parser.add_argument("--repeats", type=int, default=2, help="timing repeats (best of)")
    parser.add_argument("--samples", type=int, default=32, help="samples per code (K)")
    parser.add_argument(
        "--trials-eval",
        type=int,
        default=20,
        help="validation trials scored (DDPM-1000 with K=32 takes about 10 min for 20 on a CPU)",
    )
    add_device_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.trials, args.neurons, args.time, args.epochs, args.repeats = 100, 20, 20, 2, 1
        args.channels, args.samples, args.trials_eval, args.train_steps = 16, 2, 3, 200
    return args


def fitted_model(args, train, valid, device) -> GNOCCHI:
    """The model of ``--model``, or GNOCCHI (LatentGNOCCHI with ``--latent``) fitted on the toy
    training trials."""
    cls = LatentGNOCCHI if args.latent else GNOCCHI
    if args.model:
        model = cls.load(args.model, device=str(device))
    else:
        extra = {"ae_epochs": args.epochs} if args.latent else {}
        model = cls(
            code_dim=args.code_dim,
            channels=args.channels,
            n_train_steps=args.train_steps,
            rec_weight=4.0,
            max_epochs=args.epochs,
            random_state=0,
            device=str(device),
            verbose=False,
            **extra,
        )
        model.fit(train, valid=valid)
        if args.save:
            model.save(args.save)
    model.verbose = False
    return model


def timed_generate(model: GNOCCHI, codes, method: str, n_steps: int, repeats: int, k: int):
    """Best-of-``repeats`` wall time and the samples (n_codes, K, T, N) of ``generate``, every
    sampler from the same starting noise (rates per bin for a LatentGNOCCHI)."""
    output = {"output": "rates"} if isinstance(model, LatentGNOCCHI) else {}

    def generate():
        return model.generate(
            codes,
            n_samples=k,
            method=method,
            n_steps=n_steps,
            random_state=0,
            common_noise=True,
            **output,
        )

    best = float("inf")
    for _ in range(repeats):
        seconds, samples = timed(generate, model.device_)
        best = min(best, seconds)
    return best, samples


def targets(trials, latent: bool) -> tuple[np.ndarray, np.ndarray]:
    """What samples are scored against: (for the mean of K, for single samples' statistics).
    GNOCCHI: the truth smoothed like the data, and the data; LatentGNOCCHI: the true rates per
    bin, twice."""
    if latent:
        rates = trials.truth * trials.bin_size_s
        return rates, rates
    smoothing = infer_smoothing(trials)
    truth = trials.truth if smoothing is None else smoothing.apply(trials.truth)
    return truth, trials.activity


def scores(samples: np.ndarray, data: np.ndarray, truth: np.ndarray) -> list[float]:
    """The three metrics (see the module docstring) of samples (n_trials, K, T, N)."""
    single = samples.reshape(-1, *samples.shape[2:])  # (n_trials * K, T, N)
    stats = sample_statistics(single, data)
    reconstruction = pooled_r2(samples.mean(axis=1), truth)
    return [reconstruction, stats["corr_rmse"], stats["sd_rel_error"]]


def within(values: list[float], reference: list[float]) -> bool:
    """The 2 % rule: ``|m - m_DDPM| <= 0.02 |m_DDPM|`` for every metric."""
    return all(abs(v - r) <= TOLERANCE * abs(r) for v, r in zip(values, reference, strict=True))


def table_rows(results, reference, n_samples: int):
    """Markdown rows: sampler, steps, ms / sample, speed-up, then each metric and its % change."""
    ddpm_seconds = results[-1][2]
    rows = []
    for method, n_steps, seconds, values in results:
        row = [method, n_steps, 1e3 * seconds / n_samples, ddpm_seconds / seconds]
        for value, ref in zip(values, reference, strict=True):
            row += [value, f"{100 * (value - ref) / abs(ref):+.1f} %"]
        rows.append([*row, "yes" if within(values, reference) else "no"])
    return rows


def fastest_within(results, reference) -> str:
    """The sentence naming the fastest setting within 2 % of DDPM on every metric."""
    ok = [r for r in results[:-1] if within(r[3], reference)]
    rule = f"|m - m_DDPM| <= {TOLERANCE:g} * |m_DDPM| for each of {', '.join(METRICS)}"
    if not ok:
        return f"No setting is within 2 % of DDPM-{results[-1][1]} on all metrics ({rule})."
    method, n_steps, seconds, _ = min(ok, key=lambda r: r[2])
    return (
        f"Fastest within 2 % of DDPM-{results[-1][1]} on all metrics ({rule}): {method} with "
        f"{n_steps} steps, {results[-1][2] / seconds:.0f}x faster than DDPM."
    )


def main() -> None:
    args = parse_args()
    device = device_of(args)
    trials = make_toy_dataset(args.trials, n_neurons=args.neurons, n_time=args.time)
    train, valid = trials.split((0.8, 0.2), random_state=0)
    model = fitted_model(args, train, valid, device)
    scored = valid[: args.trials_eval]
    truth, data = targets(scored, args.latent)  # once: every sampler is scored against them
    codes, k = model.encode(scored), args.samples
    for method in SAMPLERS:  # untimed: imports diffusers, warms up each code path
        model.generate(codes[:1], method=method, n_steps=2)
    results = []  # (method, steps, seconds, metrics); DDPM last
    for method in SAMPLERS:
        for n_steps in STEPS:
            seconds, samples = timed_generate(model, codes, method, n_steps, args.repeats, k)
            results.append((method, n_steps, seconds, scores(samples, data, truth)))
    seconds, samples = timed_generate(model, codes, "ddpm", model.n_train_steps, 1, k)
    reference = scores(samples, data, truth)
    results.append(("ddpm", model.n_train_steps, seconds, reference))
    columns = ["sampler", "steps", "ms / sample", "speed-up vs DDPM"]
    for name in (f"R² mean of {k} vs truth", "corr. RMSE vs data", "s.d. error vs data"):
        columns += [name, "vs DDPM"]
    title = (
        f"Sampling, {type(model).__name__}: {len(scored)} validation trials x {k} samples x "
        f"{args.time} bins x "
        f"{args.neurons} neurons, each from its own code; device {device} ({machine(device)})"
    )
    columns.append("within 2 %")
    print_table(title, columns, table_rows(results, reference, len(scored) * k))
    print("\n" + fastest_within(results, reference))


if __name__ == "__main__":
    main()
