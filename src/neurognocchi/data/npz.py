"""Reading ``.npz`` archives safely: every array, no pickles, one error for an unreadable file.

Shared by :meth:`Trials.load <neurognocchi.data.Trials.load>`,
:func:`~neurognocchi.data.load_trials` and the ``trial_info.npz`` of a memory-mapped directory.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["read_npz"]


def _npy_magic(path: Path) -> bytes:
    """The first bytes of ``path``, as long as the ``.npy`` magic string."""
    with open(path, "rb") as handle:
        return handle.read(len(np.lib.format.MAGIC_PREFIX))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive at ``path`` (no pickles).

    Raises ValueError when the file is not a readable ``.npz`` archive: corrupt or truncated
    zip data raises ``zipfile.BadZipFile``/``zlib.error``/``EOFError`` inside NumPy, and a
    ``.npy`` array under an ``.npz`` name loads as a bare array.
    """
    if not zipfile.is_zipfile(path) and np.lib.format.MAGIC_PREFIX != _npy_magic(path):
        raise ValueError(f"{str(path)!r} is not a readable .npz file: it is not a zip archive")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, Mapping):
            raise ValueError("it holds a single array, not an .npz archive")
        with data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{str(path)!r} is not a readable .npz file: {error}") from None
