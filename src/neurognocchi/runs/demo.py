"""The main job: reaching data -> GNOCCHI, LFADS and PPCA fitted on held-in conditions -> the
whole evaluation protocol -> one HTML report; and the reference table (the same pipeline for
several seeds, mean ± s.d.).

It is exactly the command-line pipeline: ``synth reaching``, ``fit`` (twice, on the protocol's
held-in training trials) and ``evaluate``; every number it reports is computed on trials the
models were not fitted on (validation trials of held-in conditions, or held-out conditions).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from neurognocchi._checks import InvalidArgumentError, check_seeds
from neurognocchi._io import atomic_write_text
from neurognocchi.data import make_reaching_dataset
from neurognocchi.evaluation.comparison import seed_table, table_markdown
from neurognocchi.runs.directory import RUN_FILE, evaluate_runs, fit_run

__all__ = ["DEMO_SETTINGS", "OUTPUTS", "run_demo", "run_reference"]

# Both models get the same code size; epochs are each model's budget on 2 CPU cores. GNOCCHI
# samples with the default sampler (UniPC-10); the README's 0.3.0 reference table was measured
# with DDIM-20, which these settings pinned until 0.3.0.
DEMO_SETTINGS = {
    "full": {
        "data": {"n_trials": 1000, "n_neurons": 100, "n_time": 120, "bin_size_s": 0.02},
        "gnocchi": {
            "code_dim": 8,
            "max_epochs": 150,
            "channels": 64,
            "rec_weight": 4.0,
        },
        "lfads": {"code_dim": 8, "max_epochs": 200},
        "ppca": {"code_dim": 8},
        "n_samples": 32,
        "n_sampling_seeds": 3,
    },
    "quick": {
        "data": {"n_trials": 300, "n_neurons": 50, "n_time": 120, "bin_size_s": 0.04},
        "gnocchi": {
            "code_dim": 8,
            "max_epochs": 100,
            "channels": 16,
            "encoder_dim": 16,
            "rec_weight": 4.0,
        },
        "lfads": {
            "code_dim": 8,
            "max_epochs": 100,
            "encoder_dim": 32,
            "generator_dim": 32,
            "factor_dim": 8,
        },
        "ppca": {"code_dim": 8},
        "n_samples": 8,
        "n_sampling_seeds": 2,
    },
}

OUTPUTS = ("data.npz", "gnocchi", "lfads", "ppca", "metrics.json", "report.html")
MODELS = ("gnocchi", "lfads", "ppca")  # the first model is the one paired comparisons are about


def _prepare(out_dir: Path, overwrite: bool) -> None:
    """Refuse an existing demo output unless ``overwrite``; then remove only what the demo
    itself writes (never other files in the folder)."""
    existing = [name for name in OUTPUTS if (out_dir / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{str(out_dir)!r} already holds demo output ({', '.join(existing)}); pass "
            "--overwrite to replace it or --out to choose another folder"
        )
    for name in existing:
        path = out_dir / name
        if path.is_dir():
            if not (path / RUN_FILE).is_file():
                raise InvalidArgumentError(
                    f"{str(path)!r} is not a demo run; refusing to delete it"
                )
            shutil.rmtree(path)
        else:
            path.unlink()


def _silent(message: str) -> None:
    del message


def run_demo(
    out_dir: str | Path = "demo_output",
    *,
    quick: bool = False,
    random_state: int = 0,
    overwrite: bool = False,
    verbose: bool = True,
    echo: Callable[[str], None] | None = None,
) -> dict:
    """Run the reference pipeline into ``out_dir``; return the ``compare`` result.

    Writes ``data.npz``, run directories ``gnocchi/``, ``lfads/`` and ``ppca/``,
    ``metrics.json`` and ``report.html``.

    Parameters
    ----------
    out_dir : path
        Folder of the outputs; other files in it are left alone.
    quick : bool
        Smaller data and models (under a minute on 2 cores), same pipeline.
    random_state : int
        Seed of the data, of both models and of the evaluation (``neurognocchi demo --seed``).
    overwrite : bool
        Replace the demo's own earlier outputs (refused otherwise).
    verbose : bool
        Progress bars while fitting and evaluating.
    echo : callable, optional
        Where the pipeline's messages go, a line at a time (the data, each fit's time, the
        table, the report's path); the command line passes ``print``. None: nowhere.

    Returns
    -------
    dict
        The :func:`~neurognocchi.evaluation.compare` result (also in ``metrics.json``).
    """
    echo = echo or _silent
    settings = DEMO_SETTINGS["quick" if quick else "full"]
    out_dir = Path(out_dir)
    _prepare(out_dir, overwrite)
    start = time.perf_counter()
    trials = make_reaching_dataset(**settings["data"], random_state=random_state)
    data = trials.save(out_dir / "data.npz")
    echo(f"reaching data: {trials!r}\n -> {data}")
    runs = []
    for model in MODELS:
        params = settings[model] | {"random_state": random_state, "verbose": verbose}
        estimator = fit_run(data, out_dir / model, model=model, params=params)
        echo(f"{type(estimator).__name__} fitted in {estimator.fit_seconds_:.0f} s")
        runs.append(out_dir / model)
    echo(
        f"evaluating (DESIGN §7, K = {settings['n_samples']}, "
        f"{settings['n_sampling_seeds']} sampling seeds) ..."
    )
    comparison = evaluate_runs(
        runs,
        data,
        out_dir,
        n_samples=settings["n_samples"],
        n_sampling_seeds=settings["n_sampling_seeds"],
    )
    echo(comparison["markdown"])
    echo(f"done in {time.perf_counter() - start:.0f} s; report: {out_dir / 'report.html'}")
    return comparison


def _fit_or_reuse(data: Path, run_dir: Path, model: str, params: dict) -> None:
    """Fit a demo run, resume an interrupted one, or keep a finished one."""
    record = run_dir / RUN_FILE
    if record.is_file() and "finished" in json.loads(record.read_text()):
        return
    fit_run(data, run_dir, model=model, params=params, resume=record.is_file())


def run_reference(
    out_dir: str | Path = "reference_output",
    *,
    seeds=(0, 1, 2),
    n_sampling_seeds: int = 5,
    quick: bool = False,
    verbose: bool = True,
    echo: Callable[[str], None] | None = None,
) -> dict:
    """The README's reference table: the demo pipeline once per seed (data, all models and
    the protocol's split drawn from that seed), then every number as mean ± s.d. over seeds.

    Resumable: a seed whose ``seed<s>/metrics.json`` exists is read back, finished runs are
    kept and interrupted ones resumed. Writes ``reference.json`` (the per-seed comparisons'
    tables and the combined table) and ``reference.md`` into ``out_dir``.

    Parameters
    ----------
    out_dir : path
    seeds : sequence of int
        Training seeds (at least 3 for a reported comparison).
    n_sampling_seeds : int
        Sampling seeds of the protocol in every seed's evaluation (the demo uses fewer).
    quick : bool
        The quick demo's data and models (for trying the pipeline).
    verbose : bool
        Progress bars while fitting.
    echo : callable, optional
        Where the messages go (each seed's evaluation, the table); None: nowhere.
    """
    echo = echo or _silent
    settings = DEMO_SETTINGS["quick" if quick else "full"]
    out_dir = Path(out_dir)
    seeds = check_seeds(seeds)
    comparisons = []
    for seed in seeds:
        seed_dir = out_dir / f"seed{seed}"
        metrics = seed_dir / "metrics.json"
        if not metrics.is_file():
            seed_dir.mkdir(parents=True, exist_ok=True)
            data = seed_dir / "data.npz"
            if not data.is_file():
                make_reaching_dataset(**settings["data"], random_state=seed).save(data)
            for model in MODELS:
                params = settings[model] | {"random_state": seed, "verbose": verbose}
                _fit_or_reuse(data, seed_dir / model, model, params)
            echo(
                f"seed {seed}: evaluating (K = {settings['n_samples']}, "
                f"{n_sampling_seeds} sampling seeds) ..."
            )
            evaluate_runs(
                [seed_dir / model for model in MODELS],
                data,
                seed_dir,
                n_samples=settings["n_samples"],
                n_sampling_seeds=n_sampling_seeds,
            )
        comparisons.append(json.loads(metrics.read_text()))
    table = seed_table(comparisons)
    heading = (
        f"Mean ± s.d. over {len(seeds)} seeds (data, fit and split; seeds {seeds}); each "
        f"seed's number is its mean over {n_sampling_seeds} sampling seeds with K = "
        f"{settings['n_samples']} samples per code."
    )
    text = f"{heading}\n\n{table_markdown(table)}\n"
    atomic_write_text(out_dir / "reference.md", text)
    result = {"seeds": seeds, "table": table, "per_seed": [c["table"] for c in comparisons]}
    atomic_write_text(out_dir / "reference.json", json.dumps(result, indent=1))
    echo(text)
    return result
