"""Reading trials from plain array files (``.npy`` / ``.npz``) or from files written by `Trials`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurognocchi.data.trials import Trials, _read_npz


def load_trials(path: str | os.PathLike, *, bin_size_s: float | None = None) -> Trials:
    """Load trials from a file.

    Accepted files:

    * ``.npz`` written by :meth:`Trials.save` (everything restored);
    * ``.npz`` with an ``activity`` array ``[n_trials, n_time, n_neurons]`` and optionally
      ``spikes``, ``truth``, ``behavior`` and 1-D label arrays of length ``n_trials``
      (each other 1-D array becomes a ``trial_info`` column);
    * ``.npy`` holding one ``[n_trials, n_time, n_neurons]`` activity array.

    ``bin_size_s`` sets the bin width for plain arrays (ignored for files from ``Trials.save``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if path.suffix == ".npy":
        try:
            activity = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"{str(path)!r} is not a readable .npy array: {error}") from None
        return Trials(activity, bin_size_s=bin_size_s)
    if path.suffix != ".npz":
        raise ValueError(
            f"path must be a .npz or .npy file; got {str(path)!r} (read NWB and .mat recordings "
            "with load_nwb/load_mat, or turn them into .npz with `neurognocchi convert`)"
        )
    contents = _read_npz(path)
    if "meta" in contents:
        return Trials.load(path)
    if "activity" not in contents:
        raise ValueError(
            f"{str(path)!r} has no 'activity' array; it holds: {', '.join(contents) or '(nothing)'}"
        )
    fields = {
        name: contents.pop(name, None) for name in ("activity", "spikes", "truth", "behavior")
    }
    trial_info = {key: value for key, value in contents.items() if value.ndim == 1}
    return Trials(fields.pop("activity"), **fields, trial_info=trial_info, bin_size_s=bin_size_s)
