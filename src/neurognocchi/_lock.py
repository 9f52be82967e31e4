"""One writer per run directory: an advisory lock held while a process writes to it.

:func:`run_dir_lock` takes an exclusive ``flock`` on ``<run_dir>/.lock`` and writes the holder
(PID, host, start time) into it. A second writer fails at once with
:class:`RunDirectoryLockedError` naming the holder. The kernel releases the lock when its
process dies, however it dies, so a lock left by a killed process is simply taken over: there
is no stale-lock guessing. The lock is re-entrant within a process (``fit_run`` holds it
around ``fit``, which takes it again). Readers (``encode``, ``evaluate``) never take it.

Where ``fcntl`` does not exist (Windows) nothing is locked. On network filesystems the lock
is as good as their ``flock`` emulation (Linux NFS: yes).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from neurognocchi._io import WriteFailedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LOCK_FILE", "RunDirectoryLockedError", "run_dir_lock"]

LOCK_FILE = ".lock"
_HELD: dict[Path, int] = {}  # lock files this process holds -> nesting depth


class RunDirectoryLockedError(BlockingIOError):
    """Another process is writing to the run directory (an ``OSError``: the command line
    reports it in one line)."""


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text())
        return f"PID {holder['pid']} on {holder['host']} (since {holder['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _write_holder(handle, path: Path) -> None:
    """Record this process (PID, host, start time) in the lock file it holds."""
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started})
        )
        handle.flush()
    except OSError as error:  # on a full disk this is the first write of a fit or resume
        failed = WriteFailedError(error.errno, error.strerror or str(error), str(path))
        advice = f"nothing else was written; {failed.remedy} and try again"
        raise failed.with_advice(advice) from error


@contextlib.contextmanager
def run_dir_lock(run_dir: str | os.PathLike) -> Iterator[None]:
    """Hold the writer's lock of ``run_dir`` (created if missing) for the ``with`` block.

    Raises
    ------
    RunDirectoryLockedError
        When another process holds it; the message names that process.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = (run_dir / LOCK_FILE).resolve()
    if fcntl is None or path in _HELD:
        _HELD[path] = _HELD.get(path, 0) + 1
        try:
            yield
        finally:
            _HELD[path] -= 1
            if not _HELD[path]:
                del _HELD[path]
        return
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirectoryLockedError(
                f"{str(run_dir)!r} is being written by {_holder(path)}; wait for it to finish "
                "or stop it (a lock left by a killed process is released with it)"
            ) from None
        _write_holder(handle, path)
        _HELD[path] = 1
        try:
            yield
        finally:
            del _HELD[path]
    finally:
        handle.close()  # releases the flock
