"""Atomic file writes: a crash or an error never leaves a half-written file behind.

Each file goes to a temporary file beside it, is flushed to disk, and only then renamed over its
target. :func:`atomic_writes` does this for several files together: every one is written before
any is renamed, so a save that fails part-way leaves all the previous versions in place.

A write that fails (no space left, an I/O error, no permission) raises
:class:`WriteFailedError`: an ``OSError`` with the operating system's ``errno`` whose message
names the file (the target, not the temporary file), the reason, and how to go on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "AtomicWrites",
    "WriteFailedError",
    "atomic_append_text",
    "atomic_write",
    "atomic_write_text",
    "atomic_writes",
]

_REMEDIES = {
    errno.ENOSPC: "free some disk space",
    errno.EDQUOT: "free some disk space (the disk quota is used up)",
    errno.EACCES: "make the folder writable",
    errno.EPERM: "make the folder writable",
    errno.EROFS: "write to a writable disk",
    errno.EIO: "check the disk",
}


class WriteFailedError(OSError):
    """Writing a file failed; its previous version, if any, is unchanged.

    An ``OSError`` with the original ``errno`` and ``strerror``; ``filename`` is the file that
    was being written. ``advice`` (set with :meth:`with_advice`) replaces the message's default
    "try again" ending with what to do next.
    """

    advice: str = ""

    @property
    def remedy(self) -> str:
        """What to do about the cause, e.g. ``"free some disk space"``."""
        return _REMEDIES.get(self.errno, "fix the cause")

    def __str__(self) -> str:
        code = f" [{errno.errorcode[self.errno]}]" if self.errno in errno.errorcode else ""
        ending = self.advice or f"any previous version is unchanged; {self.remedy} and try again"
        return f"cannot write {self.filename!r}: {self.strerror}{code}; {ending}"

    def with_advice(self, advice: str) -> WriteFailedError:
        """A copy of this error whose message ends with ``advice`` instead."""
        error = WriteFailedError(self.errno, self.strerror, self.filename)
        error.advice = advice
        return error


def _os_error_behind(error: BaseException, *, unnamed_only: bool) -> OSError | None:
    """The ``OSError`` behind ``error``: itself, or one it was raised while handling (a failed
    write inside ``torch.save`` surfaces as a RuntimeError of torch's own). None when there is
    none, or, with ``unnamed_only``, when it names a file: then it is about another file (one
    the caller reads), not the one written through an open handle."""
    for _ in range(4):  # a short chain: the write error is at most a few handlers down
        if error is None or isinstance(error, OSError):
            break
        error = error.__cause__ or error.__context__
    if not isinstance(error, OSError) or (unnamed_only and error.filename is not None):
        return None
    return error


@contextlib.contextmanager
def _reporting(path: Path, *, unnamed_only: bool = False) -> Iterator[None]:
    """Turn an ``OSError`` (see :func:`_os_error_behind`) into a :class:`WriteFailedError`
    naming ``path``."""
    try:
        yield
    except WriteFailedError:
        raise
    except Exception as error:
        cause = _os_error_behind(error, unnamed_only=unnamed_only)
        if cause is None:
            raise
        raise WriteFailedError(cause.errno, cause.strerror or str(cause), str(path)) from cause


class AtomicWrites:
    """Files to be written together (see :func:`atomic_writes`, which makes one)."""

    def __init__(self) -> None:
        self._staged: list[tuple[str, Path]] = []  # (temporary file, target) awaiting rename

    @contextlib.contextmanager
    def open(self, path: str | os.PathLike) -> Iterator[BinaryIO]:
        """A binary handle on a temporary file that will replace ``path``."""
        path = Path(path)
        with _reporting(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self._staged.append((tmp_name, path))  # removed again if anything below fails
        with _reporting(path, unnamed_only=True), os.fdopen(fd, "wb") as handle:
            with _reporting(path):
                # mkstemp makes the file readable by its owner only; give it the usual ones.
                os.chmod(tmp_name, path.stat().st_mode & 0o777 if path.exists() else 0o644)
            yield handle
            with _reporting(path):  # a full disk often shows only here, at flush or fsync
                handle.flush()
                os.fsync(handle.fileno())

    def write_text(self, path: str | os.PathLike, text: str) -> None:
        """Stage ``text`` (UTF-8) to replace ``path``."""
        with self.open(path) as handle:
            handle.write(text.encode("utf-8"))

    def _commit(self) -> None:
        while self._staged:
            tmp_name, path = self._staged[0]
            with _reporting(path):
                os.replace(tmp_name, path)
            self._staged.pop(0)

    def _discard(self) -> None:
        for tmp_name, _ in self._staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        self._staged.clear()


@contextlib.contextmanager
def atomic_writes() -> Iterator[AtomicWrites]:
    """Write several files all-or-nothing: each file opened with ``.open(path)`` (or written
    with ``.write_text``) goes to a temporary file, and they are renamed over their targets
    only when the block ends without error. On any exception the temporary files are removed
    and every target is left as it was (a failure while renaming, after every file was written
    in full, can leave the first targets new and the rest old).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_writes() as writes:
    ...     writes.write_text(folder / "a.txt", "A")
    ...     writes.write_text(folder / "b.txt", "B")
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt', 'b.txt']
    """
    writes = AtomicWrites()
    try:
        yield writes
        writes._commit()
    except BaseException:
        writes._discard()
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left as it was; an
    ``OSError`` while writing becomes a :class:`WriteFailedError` naming ``path``.
    """
    with atomic_writes() as writes, writes.open(path) as handle:
        yield handle


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_writes() as writes:
        writes.write_text(path, text)


def atomic_append_text(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` (UTF-8) to the small file ``path`` by rewriting it atomically, so a failed
    append leaves the file as it was rather than with half a line."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    atomic_write_text(path, old + text)
