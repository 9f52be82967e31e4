"""Run a study: every variant × training seed fitted, scored with the protocol, stored.

One Optuna trial is one variant over all the study's seeds; its value is the objective's mean
over seeds and its user attributes hold every fit's metrics, so the storage alone is enough to
write the outputs (:mod:`neurognocchi.study.outputs`). The storage is a SQLite file in the
output folder by default; any SQLAlchemy URL (PostgreSQL, MySQL) lets workers on several
machines share one study (each worker runs ``neurognocchi study`` with the same ``--storage``).

Resuming: a finished variant (a COMPLETE trial) is never run again; each fit is a run
directory ``runs/<variant>/seed<s>/`` (see :mod:`neurognocchi.runs.directory`) whose protocol
numbers are cached in ``protocol.json``, so a killed study refits nothing that finished and an
interrupted fit continues from its last checkpoint. Workers claim a variant by its lock
(:mod:`neurognocchi.study.claims`): two never run one variant, and the trial of a worker that
died is failed and taken over by the next worker that reaches it; a trial from another machine
(its own output folder) is failed by Optuna's heartbeat after ``HEARTBEAT_GRACE_S``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from neurognocchi._checks import InvalidArgumentError
from neurognocchi._io import atomic_write_text
from neurognocchi._lock import RunDirectoryLockedError
from neurognocchi.study.claims import (
    claimed,
    fail_abandoned,
    run_trial,
    trial_attrs,
    trials_by_state,
    variant_lock,
)
from neurognocchi.study.config import StudyConfig, Variant
from neurognocchi.study.inputs import fit_data_file
from neurognocchi.study.search import search_variant_name

__all__ = [
    "HEARTBEAT_GRACE_S",
    "default_storage",
    "fit_and_score",
    "open_study",
    "report_study",
    "run_study",
]

HEARTBEAT_INTERVAL_S = 60
HEARTBEAT_GRACE_S = 600
METRICS_FILE = "protocol.json"
# A fit that fails this way (a diverging loss, out of memory, a run directory another worker
# is writing) fails its variant, not the study: the others run, the failure is listed in the
# results, and the next start tries it again. Anything else (a changed variant, a bad file)
# stops the study.
FIT_FAILURES = (FloatingPointError, RuntimeError, MemoryError, RunDirectoryLockedError)


def default_storage(out_dir: str | os.PathLike) -> str:
    """``sqlite:///<out_dir>/study.db``, the storage of a study without ``--storage``."""
    return f"sqlite:///{Path(out_dir).resolve() / 'study.db'}"


def _storage_url(config: StudyConfig, out_dir, storage: str | None) -> str:
    """The storage a study uses: ``--storage``, else the config's, else the default file."""
    return storage or config.storage or default_storage(out_dir)


def open_study(config: StudyConfig, out_dir: Path, storage: str | None = None):
    """The Optuna study named ``config.name`` in ``storage`` (created if new)."""
    return _open(config, out_dir, storage)[0]


def _open(config: StudyConfig, out_dir: Path, storage: str | None):
    """(the study, the storage object that holds it)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = _storage_url(config, out_dir, storage)
    # SQLite: wait for another worker's write rather than fail after sqlite's 5 s.
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite:") else {}
    with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna 3-5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        rdb = _retrying_once(
            lambda: optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=HEARTBEAT_GRACE_S,
                engine_kwargs=engine,
            )
        )
    study = optuna.create_study(
        study_name=config.name, storage=rdb, load_if_exists=True, direction=config.direction
    )
    return study, rdb


def _retrying_once(create):
    """``create()``, once more if it failed on a row another worker created at the same time
    (Optuna writes its schema's version without a check: two workers opening a new storage
    at once collide, and the second try finds the row)."""
    from sqlalchemy.exc import IntegrityError

    try:
        return create()
    except IntegrityError:
        time.sleep(0.5)
        return create()


# ---------------------------------------------------------------------- one fit
def data_file(config: StudyConfig, out_dir: Path, seed: int) -> Path:
    """The data file of training seed ``seed``: the recording, or synthetic data drawn with
    ``data.random_state`` (if given) or ``seed``, written once into ``out_dir/data`` under a
    name that carries a hash of the data settings (changed settings, new data)."""
    data = dict(config.data)
    source = data.pop("source")
    if source == "file":
        return Path(data["path"])
    from neurognocchi.study.config import DATA_SOURCES

    draw = data.pop("random_state", seed)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]
    path = out_dir / "data" / f"{source}-{digest}-seed{draw}.npz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        DATA_SOURCES[source](**data, random_state=draw).save(path)  # atomic
    return path


def _flatten(result: dict) -> dict[str, float | None]:
    """The protocol's numbers of one fit: ``summary`` keys, then ``floor.<kind>.<key>``."""

    def number(value):
        return None if value is None or not math.isfinite(float(value)) else float(value)

    metrics = {
        key: number(value)
        for key, value in result["summary"].items()
        if isinstance(value, int | float) or value is None
    }
    for kind, summary in result.get("floor_summaries", {}).items():
        for key, value in summary.items():
            if isinstance(value, int | float) or value is None:
                metrics[f"floor.{kind}.{key}"] = number(value)
    metrics["flags"] = len(result.get("flags", []))
    return metrics


def _evaluation_settings(config: StudyConfig) -> dict[str, int]:
    """What a cached ``protocol.json`` must have been computed with to be reused."""
    return {
        "evaluation.n_samples": config.n_samples,
        "evaluation.n_sampling_seeds": config.n_sampling_seeds,
    }


def _fitted_model(config: StudyConfig, variant: Variant, seed: int, data: Path, run_dir: Path):
    """Fit (or resume, or reload) the run directory of ``variant`` with ``seed`` on ``data``
    (the file its input names)."""
    from neurognocchi.runs.directory import RUN_FILE, fit_run, load_model

    params = config.estimator_params(variant, seed)
    record_path = run_dir / RUN_FILE
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        _check_same_variant(record, variant, params, run_dir)
        if Path(record["data"]).name != data.name:
            raise InvalidArgumentError(
                f"variant {variant.name!r} was fitted on {Path(record['data']).name} in "
                f"{str(run_dir)!r}, not {data.name}; rename the variant or delete that folder"
            )
        if "finished" in record:
            return load_model(run_dir)
    return fit_run(data, run_dir, model=variant.model, params=params, resume=record_path.is_file())


def _check_same_variant(record: dict, variant: Variant, params: dict, run_dir: Path) -> None:
    from neurognocchi.runs.registry import build_estimator

    wanted = build_estimator(variant.model, dict(params)).get_params()
    # A parameter added by a later release is read as its default in older records (or as
    # the value it had then, where the default has changed since).
    defaults = build_estimator(variant.model, {})
    recorded = defaults.get_params() | defaults.recorded_params(record["params"])
    changed = sorted(
        k
        for k, v in wanted.items()
        if k != "verbose" and json.dumps(recorded.get(k)) != json.dumps(v)
    )
    if record["model"] != variant.model or changed:
        raise InvalidArgumentError(
            f"variant {variant.name!r} has changed since {str(run_dir)!r} was fitted "
            f"(model or parameters {changed}); rename the variant or delete that folder"
        )


def fit_and_score(config: StudyConfig, variant: Variant, seed: int, out_dir: Path) -> dict:
    """The protocol's numbers for ``variant`` fitted with ``seed``, from the cache when the
    fit was scored before; otherwise fitted (or resumed), evaluated and cached."""
    from neurognocchi.data import load_trials
    from neurognocchi.evaluation import evaluate

    run_dir = out_dir / "runs" / variant.name / f"seed{seed}"
    cached, settings = run_dir / METRICS_FILE, _evaluation_settings(config)
    if cached.is_file():
        metrics = json.loads(cached.read_text())
        if all(metrics.get(key) == value for key, value in settings.items()):
            return metrics  # else scored with other settings: evaluate again (no refit)
    data = data_file(config, out_dir, seed)
    model = _fitted_model(config, variant, seed, fit_data_file(data, variant.input), run_dir)
    model.set_params(verbose=False)
    result = evaluate(
        model,
        load_trials(data),
        random_state=seed,
        n_samples=config.n_samples,
        n_sampling_seeds=config.n_sampling_seeds,
    )
    metrics = _flatten(result) | settings
    atomic_write_text(cached, json.dumps(metrics, indent=1))
    return metrics


# ---------------------------------------------------------------------- trials
def objective_value(config: StudyConfig, per_seed: dict) -> float:
    """Mean of the objective over seeds; the worst value (inf) when it is n/a for all."""
    values = [m.get(config.metric) for m in per_seed.values()]
    values = [v for v in values if v is not None]
    if not values:
        return math.inf if config.direction == "minimize" else -math.inf
    return float(np.mean(values))


def _variant_attrs(variant: Variant, out_dir: Path) -> dict:
    """What a variant's trial records: its definition and where it runs."""
    return trial_attrs(
        out_dir,
        variant=variant.name,
        model=variant.model,
        params=variant.params,
        input=variant.input,
    )


def _run_variant(trial, config: StudyConfig, variant: Variant, out_dir: Path, bar) -> float:
    """Every seed of ``variant`` fitted and scored; the objective's mean over seeds. The
    caller holds the variant's lock."""
    per_seed, start = {}, time.perf_counter()
    for seed in config.seeds:
        bar.set_description(f"{variant.name} seed {seed}")
        try:
            per_seed[str(seed)] = fit_and_score(config, variant, seed, out_dir)
        except FIT_FAILURES as error:
            trial.set_user_attr("error", f"seed {seed}: {type(error).__name__}: {error}")
            raise
        trial.set_user_attr("metrics", per_seed)
        trial.set_user_attr("seconds", time.perf_counter() - start)  # this trial's, all seeds
        bar.update(1)
    return objective_value(config, per_seed)


def _search_variant(config: StudyConfig, trial) -> Variant:
    values = config.search["space"].suggest(trial)
    params = config.search["base"] | values
    return Variant(search_variant_name(values), config.search["model"], params)


def _run_proposal(trial, config: StudyConfig, out_dir: Path, bar) -> float:
    """The search's proposal run as a variant, under its lock (a proposal another worker is
    running fails here, unnamed, and is not queued again)."""
    variant = _search_variant(config, trial)
    with variant_lock(out_dir, variant.name):
        for key, value in _variant_attrs(variant, out_dir).items():
            trial.set_user_attr(key, value)
        return _run_variant(trial, config, variant, out_dir, bar)


def _search_left(study, config: StudyConfig) -> int:
    """How many more distinct proposals the search needs (0 without a search)."""
    if config.search is None:
        return 0
    done = {name for name in trials_by_state(study)[0] if name and name.startswith("search-")}
    return max(config.search["n_variants"] - len(done), 0)


def _run_search(study, config: StudyConfig, out_dir: Path, bar) -> None:
    """Proposals until ``n_variants`` distinct ones have finished; a small discrete space
    may propose a finished one again (its fits are read back), so tries are capped."""
    import optuna

    if not _search_left(study, config):
        return
    # Seeded by the study's length: reproducible, yet a resumed study does not replay the
    # proposals it has already made.
    study.sampler = optuna.samplers.TPESampler(seed=len(study.trials))
    for _ in range(3 * config.search["n_variants"]):
        if not _search_left(study, config):
            break
        study.optimize(
            lambda t: _run_proposal(t, config, out_dir, bar), n_trials=1, catch=FIT_FAILURES
        )


def _requeue_failed_search(study, config: StudyConfig, done: set) -> None:
    """Queue again the proposals of search trials that died, so their fits are reused."""
    from optuna.trial import TrialState

    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    queued = {search_variant_name(t.system_attrs.get("fixed_params", {})) for t in waiting}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        name = trial.user_attrs.get("variant", "")
        if name.startswith("search-") and name not in done | queued and trial.params:
            # Not skip_if_exists: that would find the failed trial itself and queue nothing.
            study.enqueue_trial(trial.params)
            queued.add(name)


def run_study(
    config: StudyConfig,
    out_dir: str | os.PathLike,
    *,
    storage: str | None = None,
    progress: bool = True,
) -> dict:
    """Run every variant of ``config`` not yet finished in its storage (and the search's
    remaining proposals), then write the outputs; return :func:`study_results`.

    Parameters
    ----------
    config : StudyConfig
        From :func:`~neurognocchi.study.read_study_config`.
    out_dir : path
        Run directories, synthetic data, the default SQLite storage and the outputs
        (``study.csv``, ``study.json``, ``study.html``).
    storage : str, optional
        An SQLAlchemy URL shared by workers (default ``config.storage`` or
        :func:`default_storage`).
    progress : bool
        One progress bar over the fits.
    """
    from neurognocchi.study.outputs import study_results, write_outputs

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    study, rdb = _open(config, out_dir, storage)
    fail_abandoned(study, out_dir)
    done = trials_by_state(study)[0]
    todo = [v for v in config.variants if v.name not in done]
    n_search = _search_left(study, config)
    if n_search:
        _requeue_failed_search(study, config, done)
    total = (len(todo) + n_search) * len(config.seeds)
    with tqdm(total=total, unit="fit", disable=not progress or None) as bar:
        for variant in todo:
            with claimed(study, out_dir, variant.name) as mine:
                if not mine:  # finished, or being run, by another worker
                    bar.update(len(config.seeds))
                    continue
                run_trial(
                    study,
                    rdb,
                    _variant_attrs(variant, out_dir),
                    lambda t, v=variant: _run_variant(t, config, v, out_dir, bar),
                    catch=FIT_FAILURES,
                )
        _run_search(study, config, out_dir, bar)
    results = study_results(study, config)
    write_outputs(results, out_dir)
    return results


def report_study(
    config: StudyConfig, out_dir: str | os.PathLike, *, storage: str | None = None
) -> dict:
    """Write the outputs of the variants finished so far (fitting nothing), e.g. while
    workers are still running; return :func:`study_results`."""
    from neurognocchi.study.outputs import study_results, write_outputs

    out_dir = Path(out_dir)
    url = _storage_url(config, out_dir, storage)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise FileNotFoundError(f"--report: no study storage at {url!r}; run the study first")
    results = study_results(open_study(config, out_dir, storage), config)
    write_outputs(results, out_dir)
    return results
