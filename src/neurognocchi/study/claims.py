"""Which worker runs which variant of a study, and what happens to a dead worker's trial.

Workers that share a study (its storage and its output folder) must never run one variant at
the same time, and a variant whose worker died must be taken over by the next worker that
looks at it. Both rest on one lock per variant, ``runs/<variant>/.lock`` (an ``flock``, see
:mod:`neurognocchi._lock`):

- a worker runs a variant only while it holds that lock (:func:`claimed`), and decides under
  it, from the storage, whether the variant is still to run: checking and starting cannot race;
- the kernel releases a lock with its process however the process dies, so a RUNNING trial
  whose variant lock is free belongs to a dead worker and is marked FAIL there and then. No PID
  is trusted (PIDs are reused) and no clock is compared.

The trial of a variant is created RUNNING with its name in one write (:func:`run_trial`), so a
worker killed at any point never leaves a RUNNING trial nobody can attribute. Workers on other
machines with output folders of their own do not share the lock; a trial of theirs whose
worker died is failed by Optuna's heartbeat after the storage's grace period.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from neurognocchi._lock import RunDirectoryLockedError, run_dir_lock

__all__ = [
    "claimed",
    "fail_abandoned",
    "run_trial",
    "trial_attrs",
    "trials_by_state",
    "variant_lock",
]

_WORKER = uuid.uuid4().hex  # this process, in its trials (a PID can belong to another later)


def variant_lock(out_dir: Path, name: str):
    """The lock a worker holds while it runs variant ``name`` (re-entrant in a process)."""
    return run_dir_lock(Path(out_dir) / "runs" / name)


def trials_by_state(study) -> tuple[set, set]:
    """(names of the variants with a COMPLETE trial, names of those with a RUNNING one)."""
    from optuna.trial import TrialState

    done, running = set(), set()
    for trial in study.get_trials(deepcopy=False):
        name = trial.user_attrs.get("variant")
        if trial.state == TrialState.COMPLETE:
            done.add(name)
        elif trial.state == TrialState.RUNNING:
            running.add(name)
    return done, running


def _judged_here(trial, out_dir: Path) -> bool:
    """Whether the lock in ``out_dir`` tells if ``trial``'s worker lives: it ran on this
    machine in this output folder (or before the folder was recorded, on this machine)."""
    attrs = trial.user_attrs
    if attrs.get("worker") == _WORKER:
        return False  # this process's own: alive
    same_folder = attrs.get("out_dir", str(out_dir.resolve())) == str(out_dir.resolve())
    return attrs.get("host") == socket.gethostname() and same_folder and "variant" in attrs


def fail_abandoned(study, out_dir: Path, name: str | None = None) -> int:
    """Mark FAIL the RUNNING trials (of variant ``name``, or all) whose worker is dead: ran
    here, and its variant lock is free. Return how many."""
    from optuna.trial import TrialState

    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _judged_here(trial, out_dir) or name not in (None, trial.user_attrs["variant"]):
            continue
        try:
            with variant_lock(out_dir, trial.user_attrs["variant"]):
                # Unless it finished meanwhile (then its worker released the lock after).
                study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
                failed += 1
        except RunDirectoryLockedError:
            continue  # its worker is alive
    return failed


@contextlib.contextmanager
def claimed(study, out_dir: Path, name: str) -> Iterator[bool]:
    """Hold variant ``name``'s lock for the ``with`` block and say whether this worker is to
    run it: False when another worker holds the lock, when the variant has finished, or when
    a worker elsewhere (another machine or folder) runs it; a trial of it abandoned by a dead
    worker is failed first."""
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(variant_lock(out_dir, name))
    except RunDirectoryLockedError:
        yield False
        return
    with stack:
        fail_abandoned(study, out_dir, name)
        done, running = trials_by_state(study)
        yield name not in done | running


def trial_attrs(out_dir: Path, **attrs) -> dict:
    """``attrs`` and where the trial runs: the machine, process and output folder."""
    return attrs | {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "worker": _WORKER,
        "out_dir": str(Path(out_dir).resolve()),
    }


def run_trial(study, storage, attrs: dict, objective: Callable, catch: tuple) -> None:
    """A trial of ``study`` (held in ``storage``) created RUNNING with ``attrs`` in one write,
    kept alive by the storage's heartbeat, then told COMPLETE with ``objective(trial)``, or FAIL
    when it raises (an error of ``catch`` ends here; anything else, ^C included, is raised
    again)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    with warnings.catch_warnings():  # "experimental" in Optuna 3-5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # dead workers elsewhere, as optimize() does
    template = create_trial(state=TrialState.RUNNING, user_attrs=attrs)
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.create_new_trial(study_id, template_trial=template)
    trial = optuna.Trial(study, trial_id)
    with _heartbeat(storage, trial_id):
        try:
            value = objective(trial)
        except catch:
            study.tell(trial, state=TrialState.FAIL)
            return
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
    study.tell(trial, value)


@contextlib.contextmanager
def _heartbeat(storage, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat now and every interval while the block runs (when the
    storage has a heartbeat)."""
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if interval is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="study-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
