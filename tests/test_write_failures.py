"""Writes that fail (no space left, I/O error, no permission): the previous files stay intact,
the error names the file, the reason and how to go on, and a fit resumes from its last good
checkpoint to a gap-free history.

The failures are injected where the operating system would report them, by wrapping
``tempfile.mkstemp`` (creating the temporary file: no permission), the temporary file's
``write`` (a disk that fills up part-way through a file) and ``os.fsync`` (an I/O error when
the data reach the disk).
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import tempfile
from pathlib import Path

import pytest
import torch

import neurognocchi._lock
from neurognocchi import GNOCCHI
from neurognocchi._io import WriteFailedError, atomic_append_text, atomic_write
from neurognocchi.cli import main
from neurognocchi.data import make_toy_dataset
from neurognocchi.evaluation import compare, protocol_split
from neurognocchi.evaluation.report import write_report
from neurognocchi.training import TrainConfig, train
from neurognocchi.training.checkpoint import checkpoint_path
from test_evaluation_protocol import LinearCodeModel
from training_models import gnocchi_model, states_equal, toy_arrays

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = TrainConfig(max_epochs=4, batch_size=8, warmup_steps=2, checkpoint_every=1, ema_decay=0.9)
TINY_CLI = ["--set", "max_epochs=2", "--set", "channels=8", "--set", "code_dim=3", "--quiet"]
TINY_CLI += ["--set", "encoder_dim=8", "--set", "channel_mults=[1, 2]"]


def snapshot(directory: Path) -> dict:
    """Every file under ``directory`` but the temporary ones (bytes by relative path)."""
    files = [p for p in directory.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
    return {p.relative_to(directory): p.read_bytes() for p in files}


class _FillingFile:
    """A binary file that takes ``room`` more bytes, then fails as a full disk does."""

    def __init__(self, handle, room: int, fault: WriteFault):
        self._handle, self._room, self._fault = handle, room, fault

    def write(self, data) -> int:
        if len(data) > self._room:
            self._handle.write(bytes(data)[: self._room])
            self._room = 0
            raise self._fault.error()
        self._room -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._handle.close()


class WriteFault:
    """Make the ``nth`` write of the file called ``name`` fail with ``code`` at the stage
    ``at``: ``"create"`` (the temporary file), ``"write"`` (after ``room`` bytes) or
    ``"fsync"``. ``before`` is a snapshot of ``watch`` taken as the failing write began."""

    def __init__(self, monkeypatch, name, code, *, at="write", nth=1, room=100, watch=None):
        self.name, self.code, self.at, self.nth, self.room = name, code, at, nth, room
        self.watch, self.before, self.fired, self.calls, self.fd = watch, None, False, 0, None
        self._mkstemp, self._fdopen, self._fsync = tempfile.mkstemp, os.fdopen, os.fsync
        monkeypatch.setattr(tempfile, "mkstemp", self.mkstemp)
        monkeypatch.setattr(os, "fdopen", self.fdopen)
        monkeypatch.setattr(os, "fsync", self.fsync)

    def error(self, filename=None) -> OSError:
        self.fired = True
        return OSError(self.code, os.strerror(self.code), filename)

    def mkstemp(self, *args, prefix=None, dir=None, **kwargs):
        if prefix == f".{self.name}.":
            self.calls += 1
            if self.calls == self.nth:
                self.before = snapshot(self.watch) if self.watch else None
                if self.at == "create":
                    raise self.error(os.path.join(dir, f"{prefix}x.tmp"))
                fd, tmp_name = self._mkstemp(*args, prefix=prefix, dir=dir, **kwargs)
                self.fd = fd
                return fd, tmp_name
        return self._mkstemp(*args, prefix=prefix, dir=dir, **kwargs)

    def fdopen(self, fd, *args, **kwargs):
        handle = self._fdopen(fd, *args, **kwargs)
        if fd == self.fd and self.at == "write":
            return _FillingFile(handle, self.room, self)
        return handle

    def fsync(self, fd):
        if fd == self.fd and self.at == "fsync":
            raise self.error()
        return self._fsync(fd)


def temporaries(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.name.endswith(".tmp")]


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"neurognocchi {command}: error:"), err
    return lines[0]


# ---------------------------------------------------------------------- the error itself
def test_write_failed_error_names_file_reason_and_remedy(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    path.write_bytes(b"original")
    WriteFault(monkeypatch, "out.bin", errno.ENOSPC, room=3)
    with pytest.raises(WriteFailedError) as caught, atomic_write(path) as handle:
        handle.write(b"new contents")
    error = caught.value
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert error.filename == str(path)
    assert str(error) == (
        f"cannot write {str(path)!r}: No space left on device [ENOSPC]; any previous version "
        "is unchanged; free some disk space and try again"
    )
    assert isinstance(error.__cause__, OSError) and error.__cause__.errno == errno.ENOSPC
    assert path.read_bytes() == b"original" and os.listdir(tmp_path) == ["out.bin"]
    copy = pickle.loads(pickle.dumps(error.with_advice("do this")))  # e.g. from a worker process
    assert str(copy).endswith("No space left on device [ENOSPC]; do this") and copy.errno == 28


def test_an_error_about_another_file_is_not_taken_for_a_write_failure(tmp_path):
    with pytest.raises(FileNotFoundError) as caught, atomic_write(tmp_path / "out") as handle:
        handle.write((tmp_path / "missing").read_bytes())
    assert not isinstance(caught.value, WriteFailedError)
    assert os.listdir(tmp_path) == []


def test_failed_append_leaves_the_log_as_it_was(tmp_path, monkeypatch):
    log = tmp_path / "log.txt"
    atomic_append_text(log, "first\n")
    WriteFault(monkeypatch, "log.txt", errno.EIO, at="fsync")
    with pytest.raises(WriteFailedError, match=r"Input/output error \[EIO\]; .*check the disk"):
        atomic_append_text(log, "second\n")
    assert log.read_text() == "first\n" and os.listdir(tmp_path) == ["log.txt"]


# ---------------------------------------------------------------------- the training loop
def _fit(run_dir, data, *, resume=False):
    model = gnocchi_model(data)
    result = train(model, data, config=CONFIG, run_dir=run_dir, resume=resume, verbose=False)
    return model, result


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    data = toy_arrays()
    return data, *_fit(tmp_path_factory.mktemp("full") / "run", data)


@pytest.mark.parametrize(
    ("name", "code", "at"),
    [("last.pt", errno.ENOSPC, "write"), ("history.csv", errno.EIO, "fsync")],
)
def test_failed_checkpoint_keeps_the_last_one_and_resume_finishes(
    uninterrupted, tmp_path, monkeypatch, name, code, at
):
    data, full_model, full_result = uninterrupted
    run_dir = tmp_path / "run"
    fault = WriteFault(monkeypatch, name, code, at=at, nth=3, room=5000, watch=run_dir)
    with pytest.raises(WriteFailedError) as caught:
        _fit(run_dir, data)
    message = str(caught.value)
    assert fault.fired and caught.value.errno == code
    assert repr(str(run_dir / name if name != "last.pt" else checkpoint_path(run_dir))) in message
    assert os.strerror(code) in message and errno.errorcode[code] in message
    assert "training stopped after epoch 3; the last good checkpoint (epoch 2) is intact" in message
    assert "`neurognocchi fit --resume`" in message and "resume=True" in message
    assert isinstance(caught.value.__cause__, WriteFailedError)  # the original is kept
    # The checkpoint and history of epoch 2 are intact, byte for byte; no temporary file is left.
    assert snapshot(run_dir) == fault.before and not temporaries(run_dir)
    assert [row["epoch"] for row in json.loads((run_dir / "history.json").read_text())] == [1, 2]
    monkeypatch.undo()
    model, result = _fit(run_dir, data, resume=True)
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    assert result.history == full_result.history
    assert json.loads((run_dir / "history.json").read_text()) == full_result.history
    assert states_equal(model.state_dict(), full_model.state_dict())


def test_failed_first_checkpoint_says_to_start_again(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    WriteFault(monkeypatch, "last.pt", errno.ENOSPC)
    with pytest.raises(WriteFailedError, match="before its first checkpoint: free some disk"):
        _fit(run_dir, toy_arrays())
    assert not temporaries(run_dir) and not checkpoint_path(run_dir).exists()


# ---------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    data = tmp_path_factory.mktemp("cli") / "toy.npz"
    assert (
        main(
            [
                "synth",
                "toy",
                "--out",
                str(data),
                "--n-trials",
                "50",
                "--n-neurons",
                "6",
                "--n-time",
                "12",
            ]
        )
        == 0
    )
    return str(data)


def test_cli_fit_with_a_full_disk_exits_2_and_resumes(data_file, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert main(["fit", data_file, "--out", str(run), *TINY_CLI]) == 0
    before = snapshot(run)
    # The longer budget's next checkpoint (epoch 4, the last) cannot be written.
    resume = ["fit", data_file, "--out", str(run), "--resume", "--set", "max_epochs=4"]
    WriteFault(monkeypatch, "last.pt", errno.ENOSPC)
    capsys.readouterr()
    assert main(resume) == 2
    line = one_line_error(capsys, "fit")
    assert f"cannot write {str(checkpoint_path(run))!r}: No space left on device" in line
    assert "the last good checkpoint (epoch 2) is intact: free some disk space" in line
    assert "neurognocchi fit --resume" in line
    after = snapshot(run)
    assert after.pop(Path("log.txt")).startswith(before.pop(Path("log.txt")))  # one line more
    after.pop(Path(".lock")), before.pop(Path(".lock"))  # the holder's record, rewritten
    assert after == before and not temporaries(run)
    monkeypatch.undo()
    assert main(resume) == 0
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]


def test_cli_fit_that_cannot_save_its_model_resumes_to_save_it(
    data_file, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    WriteFault(monkeypatch, "config.json", errno.ENOSPC)
    capsys.readouterr()
    assert main(["fit", data_file, "--out", str(run), *TINY_CLI]) == 2
    line = one_line_error(capsys, "fit")
    assert f"cannot write {str(run / 'config.json')!r}: No space left on device" in line
    assert "the training finished and its last checkpoint is intact" in line
    assert not (run / "weights.pt").exists() and not temporaries(run)  # all model files or none
    monkeypatch.undo()
    assert main(["fit", data_file, "--out", str(run), "--resume"]) == 0
    assert GNOCCHI.load(run).history_ == json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in GNOCCHI.load(run).history_] == [1, 2]


# ---------------------------------------------------------------------- models and reports
@pytest.fixture(scope="module")
def fitted():
    trials = make_toy_dataset(32, n_neurons=5, n_time=8, random_state=0)
    return GNOCCHI(
        code_dim=3,
        channels=8,
        channel_mults=(1, 2),
        encoder_dim=8,
        n_train_steps=50,
        max_epochs=1,
        batch_size=8,
        verbose=False,
        random_state=0,
    ).fit(trials)


def _changed_copy(estimator, folder: Path):
    """The estimator with other weights, so that a save of it would change every file."""
    other = GNOCCHI.load(estimator.save(folder / "copy"))
    with torch.no_grad():
        for parameter in other.model_.parameters():
            parameter.add_(1.0)
    return other


def _read_only(monkeypatch, directory: Path, name: str) -> None:
    """Make creating files in ``directory`` fail with EACCES: by its permissions where they
    bind (not as root), else by injecting the error the kernel would give."""
    if os.geteuid() != 0:
        directory.chmod(0o555)  # the test makes it writable again
    else:
        WriteFault(monkeypatch, name, errno.EACCES, at="create")


@pytest.mark.parametrize(
    ("name", "code", "at"),
    [
        ("config.json", errno.ENOSPC, "write"),
        ("history.json", errno.EIO, "fsync"),
        ("weights.pt", errno.EACCES, "create"),
    ],
)
def test_failed_save_leaves_the_old_model_whole(fitted, tmp_path, monkeypatch, name, code, at):
    path = fitted.save(tmp_path / "model")
    before = snapshot(path)
    other = _changed_copy(fitted, tmp_path)
    if code == errno.EACCES:
        _read_only(monkeypatch, path, name)
    else:
        WriteFault(monkeypatch, name, code, at=at)
    try:
        with pytest.raises(WriteFailedError) as caught:
            other.save(path)
    finally:
        path.chmod(0o755)
    assert caught.value.errno == code and os.strerror(code) in str(caught.value)
    assert repr(str(path / name)) in str(caught.value)
    assert snapshot(path) == before  # every file, not only the one that failed
    loaded = GNOCCHI.load(path)
    assert states_equal(loaded.model_.state_dict(), fitted.model_.state_dict())


def test_permission_denied_says_so(fitted, tmp_path, monkeypatch):
    path = fitted.save(tmp_path / "model")
    other = _changed_copy(fitted, tmp_path)
    _read_only(monkeypatch, path, "weights.pt")
    try:
        with pytest.raises(WriteFailedError) as caught:
            other.save(path)
    finally:
        path.chmod(0o755)
    assert caught.value.errno == errno.EACCES
    assert str(caught.value).startswith(f"cannot write {str(path / 'weights.pt')!r}: Permission")
    ending = "[EACCES]; any previous version is unchanged; make the folder writable and try again"
    assert str(caught.value).endswith(ending)


@pytest.fixture(scope="module")
def comparison():
    trials = make_toy_dataset(96, n_neurons=12, n_time=20, grid_size=4, random_state=1)
    model = LinearCodeModel(0.1).fit(trials[protocol_split(trials).train])
    return compare({"GNOCCHI": model}, trials, n_samples=2, n_sampling_seeds=1)


def test_failed_report_write_keeps_the_previous_report(comparison, tmp_path, monkeypatch):
    report = tmp_path / "report.html"
    report.write_text("<html>previous report</html>")
    WriteFault(monkeypatch, "report.html", errno.ENOSPC, room=10)
    with pytest.raises(WriteFailedError, match=r"report\.html'. No space left on device"):
        write_report(comparison, report, figures={})
    assert report.read_text() == "<html>previous report</html>"
    assert os.listdir(tmp_path) == ["report.html"]


def test_cli_report_and_table_with_a_full_disk(comparison, tmp_path, monkeypatch, capsys):
    metrics, report, table = tmp_path / "metrics.json", tmp_path / "r.html", tmp_path / "t.md"
    metrics.write_text(json.dumps(comparison, indent=1, allow_nan=False))
    report.write_text("previous report")
    table.write_text("previous table")
    WriteFault(monkeypatch, "r.html", errno.ENOSPC, at="fsync")
    capsys.readouterr()
    assert main(["report", str(metrics), "--out", str(report), "--overwrite"]) == 2
    line = one_line_error(capsys, "report")
    assert line.endswith(
        f"cannot write {str(report)!r}: No space left on device [ENOSPC]; any "
        "previous version is unchanged; free some disk space and try again"
    )
    WriteFault(monkeypatch, "t.md", errno.ENOSPC)
    assert main(["table", str(metrics), "--out", str(table)]) == 2
    assert "t.md'" in one_line_error(capsys, "table")
    assert report.read_text() == "previous report" and table.read_text() == "previous table"
    assert sorted(os.listdir(tmp_path)) == ["metrics.json", "r.html", "t.md"]


class _FullDiskLockFile:
    """The lock file's handle on a full disk: flushing what was written fails."""

    def __init__(self, handle):
        self._handle = handle

    def flush(self):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._handle, name)


def test_cli_fit_on_a_still_full_disk_fails_at_the_lock(data_file, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert main(["fit", data_file, "--out", str(run), *TINY_CLI]) == 0
    before = snapshot(run)

    def full_disk_open(*args, **kwargs):
        return _FullDiskLockFile(open(*args, **kwargs))

    monkeypatch.setattr(neurognocchi._lock, "open", full_disk_open, raising=False)
    capsys.readouterr()
    assert main(["fit", data_file, "--out", str(run), "--resume", "--set", "max_epochs=3"]) == 2
    line = one_line_error(capsys, "fit")
    lock = str((run / ".lock").resolve())
    assert line.endswith(
        f"cannot write {lock!r}: No space left on device [ENOSPC]; nothing else "
        "was written; free some disk space and try again"
    )
    after = snapshot(run)
    after.pop(Path(".lock")), before.pop(Path(".lock"))  # the holder's record, rewritten
    assert after == before
