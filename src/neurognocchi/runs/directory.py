"""Run directories: what ``neurognocchi fit`` writes and what the other commands read.

`fit_run` creates, resumes or replaces a run directory (the estimator is built by
`neurognocchi.runs.registry`); `load_model` reads its fitted estimator back; `scorable_runs` checks
runs against their data; `evaluate_runs` scores them with the evaluation protocol and writes the
metrics and the HTML report.

A run directory holds a fitted estimator (``config.json`` + ``weights.pt``, loadable with
:func:`load_model`), its training history (``history.json``/``.csv``), resumable checkpoints
(``checkpoints/last.pt``), ``run.json`` (the data file, which trials were fitted, the estimator's
parameters, versions, times) and ``log.txt``.
"""

from __future__ import annotations

import datetime
import hashlib
import inspect
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from neurognocchi._checks import check_choice, resolve_device
from neurognocchi._io import WriteFailedError, atomic_append_text, atomic_write_text
from neurognocchi._lock import LOCK_FILE, run_dir_lock
from neurognocchi._saving import format_name, read_format
from neurognocchi.data import Trials, load_trials
from neurognocchi.runs.registry import MODELS, build_estimator

__all__ = [
    "FIT_SUBSETS",
    "RESUME_MAY_CHANGE",
    "RUN_FILE",
    "evaluate_runs",
    "fit_indices",
    "fit_run",
    "load_model",
    "prepare_run_dir",
    "scorable_runs",
]

FIT_SUBSETS = ("train", "heldin", "all")
RUN_FILE = "run.json"
# Parameters a resumed run may change: a longer budget (the learning-rate schedule then follows
# the new length) and the progress display.
RESUME_MAY_CHANGE = ("max_epochs", "patience", "verbose")


# ---------------------------------------------------------------------- which trials
def fit_indices(trials: Trials, subset: str, *, random_state: int = 0) -> np.ndarray:
    """Indices of the trials ``neurognocchi fit`` fits on.

    ``"train"``: the held-in training trials of the evaluation protocol (held-in trials less its
    validation split, drawn with ``random_state``), so that ``neurognocchi evaluate`` scores
    only trials the model never saw; ``"heldin"``: every trial of a held-in condition;
    ``"all"``: every trial.
    """
    from neurognocchi.evaluation import protocol_split

    check_choice(subset, "--fit-on", FIT_SUBSETS)
    if subset == "all":
        return np.arange(trials.n_trials)
    if subset == "heldin":
        return np.flatnonzero(~trials.info("heldout").astype(bool))
    return protocol_split(trials, random_state=random_state).train


# ---------------------------------------------------------------------- run directories
def _versions() -> dict:
    import torch

    from neurognocchi import __version__

    return {
        "neurognocchi": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


def _sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a data file, or of a ``save_memmap`` directory's files (names and bytes)."""
    path, digest = Path(path), hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _log(run_dir: Path, message: str) -> None:
    atomic_append_text(run_dir / "log.txt", f"[{_now()}] {message}\n")


def prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to reuse ``run_dir`` unless asked: ``resume`` needs an earlier run there,
    ``overwrite`` removes one. Nothing is touched when the answer is a refusal."""
    if _refuse_reuse(run_dir, resume=resume, overwrite=overwrite):
        _clear(run_dir)


def _refuse_reuse(run_dir: Path, *, resume: bool, overwrite: bool) -> bool:
    """The checks of :func:`prepare_run_dir`, touching nothing; True when an earlier run is
    to be replaced."""
    if resume and overwrite:
        raise ValueError("pass either --resume or --overwrite, not both")
    exists = run_dir.exists() and any(_contents(run_dir))
    if resume:
        if not (run_dir / RUN_FILE).is_file():
            raise FileNotFoundError(f"--resume: {str(run_dir)!r} holds no earlier run to resume")
        return False
    if exists and not overwrite:
        raise FileExistsError(
            f"{str(run_dir)!r} already exists; pass --resume to continue it or --overwrite to "
            "replace it"
        )
    if exists and not (run_dir / RUN_FILE).is_file():
        raise ValueError(
            f"--overwrite: {str(run_dir)!r} is not a neurognocchi run directory; "
            "refusing to delete it"
        )
    return exists


def _contents(run_dir: Path) -> list[Path]:
    """What a run directory holds, less the writer's lock file."""
    return [path for path in run_dir.iterdir() if path.name != LOCK_FILE]


def _clear(run_dir: Path) -> None:
    """Remove a run directory's contents, keeping the lock file that this process holds."""
    for path in _contents(run_dir):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def fit_run(
    data: str | os.PathLike,
    run_dir: str | os.PathLike,
    *,
    model: str | None = None,
    params: dict | None = None,
    fit_on: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    mmap: bool = False,
):
    """Fit a model on a data file and write a run directory; returns the fitted estimator.

    ``model`` defaults to "gnocchi" and ``fit_on`` to "train" (see :func:`fit_indices`). With
    ``resume`` the run continues from its last checkpoint with the model, parameters and trials
    recorded in ``run.json``; whatever of ``model``, ``params`` and ``fit_on`` is given must
    agree with that record. ``mmap`` memory-maps the data (an ``.npy`` file or a ``save_memmap``
    directory; see :func:`~neurognocchi.data.load_trials`); it is recorded, and a resumed run
    maps its data when its record says so.
    """
    run_dir = Path(run_dir)
    # Every refusal first, touching nothing; then the lock, then the writes.
    _refuse_reuse(run_dir, resume=resume, overwrite=overwrite)
    params = dict(params or {})
    if resume:
        model, params, fit_on, mmap = _recorded_settings(run_dir, model, params, fit_on, mmap)
    model, fit_on = model or "gnocchi", fit_on or "train"
    estimator = build_estimator(model, params)
    _check_precision_device(estimator)
    trials = load_trials(data, mmap=mmap)
    new_dir = not run_dir.exists()
    try:
        with run_dir_lock(run_dir):  # one writer: a second fit here fails at once
            prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)  # again, under the lock
            if resume:
                _remove_stale_temporaries(run_dir)
            _fit_locked(data, trials, run_dir, model, estimator, fit_on, resume, mmap=mmap)
    except BaseException:
        if new_dir and run_dir.is_dir() and not _contents(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)  # leave no empty folder behind
        raise
    return estimator


def _check_precision_device(estimator) -> None:
    """Refuse bf16 without CUDA here, before anything is written (the trainer would refuse it
    only after an ``--overwrite`` had removed the earlier run)."""
    if getattr(estimator, "precision", "fp32") == "bf16":
        device = resolve_device(estimator.device)
        if device.type != "cuda":
            raise ValueError(
                f"precision='bf16' (--precision bf16) needs a CUDA device; device="
                f"{estimator.device!r} is {str(device)!r} here. Use precision='fp32' on CPU."
            )


def _fit_locked(
    data,
    trials: Trials,
    run_dir: Path,
    model: str,
    estimator,
    fit_on: str,
    resume: bool,
    *,
    mmap: bool = False,
) -> None:
    """Write ``run.json`` (a new run) and fit into ``run_dir``, whose lock the caller holds."""
    if estimator.random_state is None:  # a run directory must be reproducible
        estimator.set_params(random_state=0)
    index = fit_indices(trials, fit_on, random_state=estimator.random_state)
    record = {
        "model": model,
        "data": str(Path(data).resolve()),
        "data_sha256": _sha256(data),
        "fit_on": fit_on,
        "fit_trials": index.tolist(),
        "mmap": mmap,
        "params": estimator.get_params(),
        "command": " ".join(sys.argv),
        "versions": _versions(),
        "started": _now(),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        atomic_write_text(run_dir / RUN_FILE, json.dumps(record, indent=2))
    start = f"{'resuming' if resume else 'fitting'} {type(estimator).__name__} on "
    start += f"{len(index)} trials of {data} ({fit_on})"
    _fit_in(run_dir, estimator, trials[index], resume=resume, start=start)


def _recorded_settings(run_dir: Path, model, params: dict, fit_on, mmap: bool):
    """(model, parameters, fit_on, mmap) of the run to resume; ``params`` may change only
    :data:`RESUME_MAY_CHANGE`; the data is mapped if asked now or when the run was started."""
    record = json.loads((run_dir / RUN_FILE).read_text())
    written_by = str(record.get("versions", {}).get("neurognocchi", ""))
    if written_by.startswith("0.1."):
        # 0.2 renamed a parameter (encoder_channels) and the models' weight names; its finished
        # model still loads, but a half-trained checkpoint is not carried across.
        raise ValueError(
            f"{str(run_dir)!r} was written by neurognocchi {written_by} and cannot be resumed "
            "by this version; its saved model (if any) still loads; start a new run to train on"
        )
    _check_resume_agrees(record, model=model, params=params, fit_on=fit_on)
    recorded = MODELS[record["model"]].recorded_params(record["params"])
    params = recorded | {k: v for k, v in params.items() if k in RESUME_MAY_CHANGE}
    return record["model"], params, record["fit_on"], mmap or record.get("mmap", False)


def _checkpoint_options(estimator, run_dir: Path, resume: bool) -> dict:
    """``fit``'s checkpoint arguments for an estimator that writes checkpoints (its ``fit``
    takes ``run_dir``); none for one fitted in one go (PPCA, CEBRA), which fits again when a
    run is resumed."""
    if "run_dir" not in inspect.signature(estimator.fit).parameters:
        return {}
    return {"run_dir": run_dir, "resume": resume}


def _fit_in(run_dir: Path, estimator, trials: Trials, *, resume: bool, start: str) -> None:
    """Log ``start``, fit ``estimator`` with its checkpoints in ``run_dir``, save it there, and
    complete ``run.json`` and ``log.txt``."""
    try:
        _log(run_dir, start)
        estimator.fit(trials, **_checkpoint_options(estimator, run_dir, resume))
    except BaseException:
        # A fresh run that fails before its first checkpoint (bad parameters, no memory, no
        # disk space, ^C) has nothing worth resuming: leave the disk as it was.
        if not resume and not (run_dir / "checkpoints" / "last.pt").exists():
            _clear(run_dir)
        raise
    try:
        _save_finished(run_dir, estimator)
    except WriteFailedError as error:
        advice = f"the training finished and its last checkpoint is intact: {error.remedy}, "
        advice += "then run `neurognocchi fit --resume` to write the fitted model"
        raise error.with_advice(advice) from error


def _save_finished(run_dir: Path, estimator) -> None:
    """Save the fitted ``estimator`` into ``run_dir``; complete ``run.json`` and ``log.txt``."""
    estimator.save(run_dir)
    record = json.loads((run_dir / RUN_FILE).read_text())
    record |= {
        "params": estimator.get_params(),
        "finished": _now(),
        "fit_seconds": estimator.fit_seconds_,
    }
    atomic_write_text(run_dir / RUN_FILE, json.dumps(record, indent=2))
    last = estimator.history_[-1] if estimator.history_ else {}
    _log(run_dir, f"done in {estimator.fit_seconds_:.1f} s; last epoch: {json.dumps(last)}")


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Delete the temporary files of atomic writes that a killed process never renamed (the
    files they were replacing are intact)."""
    for stale in run_dir.rglob(".*.tmp"):
        stale.unlink()


def _check_resume_agrees(record: dict, *, model, params: dict, fit_on) -> None:
    if model not in (None, record["model"]):
        raise ValueError(f"--resume: the run fitted {record['model']!r}, not {model!r}")
    changed = {
        k for k, v in params.items() if record["params"].get(k) != v and k not in RESUME_MAY_CHANGE
    }
    if changed:
        raise ValueError(
            f"--resume continues the recorded parameters; these differ: {sorted(changed)} "
            f"(only {', '.join(RESUME_MAY_CHANGE)} may change)"
        )
    if fit_on not in (None, record["fit_on"]):
        raise ValueError(f"--resume: the run fitted on {record['fit_on']!r}, not {fit_on!r}")


def load_model(run_dir: str | os.PathLike, *, device: str | None = None):
    """The fitted estimator saved in ``run_dir`` (a run directory or any ``save`` output)."""
    path = Path(run_dir)
    fmt = read_format(path)
    for cls in MODELS.values():
        if fmt == format_name(cls.__name__):
            return cls.load(path, device=device)
    raise ValueError(f"{str(path)!r} holds an unknown model format {fmt!r}")


def evaluate_runs(
    run_dirs,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    n_samples: int = 32,
    n_sampling_seeds: int = 5,
) -> dict:
    """Run the evaluation protocol for fitted runs on their data file; write ``metrics.json``
    and ``report.html`` into ``out_dir`` and return the :func:`~neurognocchi.evaluation.compare`
    result (K = ``n_samples`` per code, every generating step repeated with
    ``n_sampling_seeds`` seeds).

    The protocol's split is rebuilt from the runs' seed and must leave every trial a run was
    fitted on in the training part: a run fitted on validation or held-out trials (``fit
    --fit-on heldin|all``) cannot be scored honestly and is refused.
    """
    from neurognocchi.evaluation import compare, write_report

    start = time.perf_counter()
    trials, split, seed, models = scorable_runs(run_dirs, data)
    comparison = compare(
        models,
        trials,
        split=split,
        random_state=seed,
        n_samples=n_samples,
        n_sampling_seeds=n_sampling_seeds,
        progress=True,  # a bar per model, on a terminal only
    )
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "metrics.json", json.dumps(comparison, indent=1, allow_nan=False))
    write_report(
        comparison,
        out_dir / "report.html",
        trials=trials,
        run_seconds=time.perf_counter() - start,
    )
    return comparison


def scorable_runs(run_dirs, data: str | os.PathLike, *, device: str | None = None):
    """(trials, protocol split, its seed, {name: model}) of fitted runs and their data file,
    after checking that they share one seed and were fitted on that split's training trials
    of this very file (a run that saw validation or held-out trials is refused); the models
    are loaded onto ``device`` (as :func:`load_model`)."""
    from neurognocchi.evaluation import protocol_split

    trials = load_trials(data)
    records = [_read_record(Path(run)) for run in run_dirs]
    seed = _common_seed(records)
    split = protocol_split(trials, random_state=seed)
    models = _scorable_models(
        run_dirs, records, train=split.train, digest=_sha256(data), device=device
    )
    return trials, split, seed, models


def _common_seed(records: list[dict]) -> int:
    """The one ``random_state`` the runs were fitted with (their protocol split's seed)."""
    seeds = {record["params"]["random_state"] for record in records}
    if len(seeds) != 1:
        raise ValueError(
            f"the runs were fitted with different seeds {sorted(seeds)}; "
            "compare runs fitted with the same --set random_state"
        )
    return seeds.pop()


def _scorable_models(run_dirs, records: list[dict], *, train, digest: str, device) -> dict:
    """The fitted model of each run, by name, after checking it was fitted on the data file
    with SHA-256 ``digest`` and on the protocol's training trials ``train`` only."""
    train, models = set(train.tolist()), {}
    for run, record in zip(run_dirs, records, strict=True):
        if record["data_sha256"] != digest:
            raise ValueError(
                f"{str(run)!r} was fitted on another data file ({record['data']}); pass that "
                "file as --data"
            )
        if not set(record["fit_trials"]) <= train:
            raise ValueError(
                f"{str(run)!r} was fitted on validation or held-out trials (--fit-on "
                f"{record['fit_on']}); evaluate scores only runs fitted with --fit-on train"
            )
        model = load_model(run, device=device)
        name = getattr(model, "variant", type(model).__name__)  # CEBRA: -Time or -Behavior
        models[name if name not in models else f"{name} ({Path(run).name})"] = model
    return models


def _read_record(run_dir: Path) -> dict:
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a run directory (no {RUN_FILE})")
    return json.loads(path.read_text())
