"""The main job: reaching data -> GNOCCHI and LFADS fitted on held-in conditions -> the whole
evaluation protocol -> one HTML report.

It is exactly the command-line pipeline: ``synth reaching``, ``fit`` (twice, on the protocol's
held-in training trials) and ``evaluate``; every number it reports is computed on trials the
models were not fitted on (validation trials of held-in conditions, or held-out conditions).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from neurognocchi._deprecation import renamed_keywords
from neurognocchi.cli.runs import RUN_FILE, evaluate_runs, fit_run
from neurognocchi.data import make_reaching_dataset

__all__ = ["DEMO_SETTINGS", "OUTPUTS", "run_demo"]

# Both models get the same code size; epochs are each model's budget on 2 CPU cores.
DEMO_SETTINGS = {
    "full": {
        "data": {"n_trials": 1000, "n_neurons": 100, "n_time": 120, "bin_size_s": 0.02},
        "gnocchi": {"code_dim": 8, "max_epochs": 150, "channels": 64, "rec_weight": 4.0,
                    "n_sample_steps": 20},
        "lfads": {"code_dim": 8, "max_epochs": 200},
        "ppca": {"code_dim": 8},
        "n_samples": 32,
        "n_sampling_seeds": 3,
    },
    "quick": {
        "data": {"n_trials": 300, "n_neurons": 50, "n_time": 120, "bin_size_s": 0.04},
        "gnocchi": {"code_dim": 8, "max_epochs": 100, "channels": 16, "encoder_dim": 16,
                    "rec_weight": 4.0, "n_sample_steps": 10},
        "lfads": {"code_dim": 8, "max_epochs": 100, "encoder_dim": 32, "generator_dim": 32,
                  "factor_dim": 8},
        "ppca": {"code_dim": 8},
        "n_samples": 8,
        "n_sampling_seeds": 2,
    },
}  # fmt: skip

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
                raise ValueError(f"{str(path)!r} is not a demo run; refusing to delete it")
            shutil.rmtree(path)
        else:
            path.unlink()


@renamed_keywords(seed="random_state")
def run_demo(
    out_dir: str | Path = "demo_output",
    *,
    quick: bool = False,
    random_state: int = 0,
    overwrite: bool = False,
    verbose: bool = True,
) -> dict:
    """Run the reference pipeline into ``out_dir``; return the ``compare`` result.

    Writes ``data.npz``, run directories ``gnocchi/`` and ``lfads/``, ``metrics.json`` and
    ``report.html``.

    Parameters
    ----------
    out_dir : path
        Folder of the outputs; other files in it are left alone.
    quick : bool
        Smaller data and models (under a minute on 2 cores), same pipeline.
    random_state : int
        Seed of the data, of both models and of the evaluation (``neurognocchi demo --seed``).
        ``seed=`` is accepted until 0.3 with a DeprecationWarning.
    overwrite : bool
        Replace the demo's own earlier outputs (refused otherwise).
    verbose : bool
        Progress bars while fitting.

    Returns
    -------
    dict
        The :func:`~neurognocchi.evaluation.compare` result (also in ``metrics.json``).
    """
    settings = DEMO_SETTINGS["quick" if quick else "full"]
    out_dir = Path(out_dir)
    _prepare(out_dir, overwrite)
    start = time.perf_counter()
    trials = make_reaching_dataset(**settings["data"], random_state=random_state)
    data = trials.save(out_dir / "data.npz")
    print(f"reaching data: {trials!r}\n -> {data}")
    runs = []
    for model in MODELS:
        params = settings[model] | {"random_state": random_state, "verbose": verbose}
        estimator = fit_run(data, out_dir / model, model=model, params=params)
        print(f"{type(estimator).__name__} fitted in {estimator.fit_seconds_:.0f} s")
        runs.append(out_dir / model)
    print(f"evaluating (DESIGN §7, K = {settings['n_samples']}, "
          f"{settings['n_sampling_seeds']} sampling seeds) ...")  # fmt: skip
    comparison = evaluate_runs(runs, data, out_dir, n_samples=settings["n_samples"],
                               n_sampling_seeds=settings["n_sampling_seeds"])  # fmt: skip
    print(comparison["markdown"])
    print(f"done in {time.perf_counter() - start:.0f} s; report: {out_dir / 'report.html'}")
    return comparison
