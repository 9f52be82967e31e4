"""Atomic writes: the target is replaced whole or left untouched, and no temp file remains."""

from __future__ import annotations

import os

import pytest

from neurognocchi._io import atomic_write, atomic_write_text


def test_atomic_write_creates_file_and_parents(tmp_path):
    path = tmp_path / "a" / "b" / "out.bin"
    with atomic_write(path) as handle:
        handle.write(b"\x00\x01payload")
        assert not path.exists()  # nothing at the target until the write completes
    assert path.read_bytes() == b"\x00\x01payload"
    assert os.listdir(path.parent) == ["out.bin"]


def test_atomic_write_replaces_existing_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old contents that are longer")
    with atomic_write(str(path)) as handle:
        handle.write(b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_failure_leaves_target_unchanged(tmp_path, error):
    path = tmp_path / "out.bin"
    path.write_bytes(b"original")
    with pytest.raises(error), atomic_write(path) as handle:
        handle.write(b"partial " * 1000)
        raise error("boom")
    assert path.read_bytes() == b"original"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_failure_without_existing_target(tmp_path):
    path = tmp_path / "out.bin"
    with pytest.raises(ValueError, match="boom"), atomic_write(path) as handle:
        handle.write(b"partial")
        raise ValueError("boom")
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_atomic_write_text_round_trip(tmp_path):
    path = tmp_path / "config.json"
    atomic_write_text(path, '{"name": "héllo ✓"}')
    assert path.read_text(encoding="utf-8") == '{"name": "héllo ✓"}'
    atomic_write_text(path, "short")
    assert path.read_text(encoding="utf-8") == "short"
    assert os.listdir(tmp_path) == ["config.json"]
