"""What a variant is fitted on: the data's activity, or a stand-in for it.

The study's ``"input"`` key of a variant: ``"activity"`` (default: the data as they are),
``"truth"`` (the true rates smoothed like the data: an oracle that tells how much of a
model's error is input noise; synthetic data only) or ``{"smooth_s": s}`` (the spikes smoothed
with a Gaussian of s.d. ``s`` seconds, in Hz). The model is fitted on the stand-in and scored
on the data as they are, so every variant is measured against the same reference.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["check_input", "fit_data_file", "input_tag"]


def check_input(value, name: str):
    """Check a variant's ``input`` entry; return it (``"activity"`` when absent)."""
    if value in (None, "activity"):
        return "activity"
    if value == "truth":
        return value
    if isinstance(value, dict) and set(value) == {"smooth_s"}:
        sigma = value["smooth_s"]
        if isinstance(sigma, int | float) and not isinstance(sigma, bool) and sigma > 0:
            if math.isfinite(sigma):
                return {"smooth_s": float(sigma)}
    raise ValueError(
        f"study config: variants[{name!r}].input must be 'activity', 'truth' or "
        f"{{'smooth_s': seconds > 0}}; got {value!r}"
    )


def input_tag(value) -> str:
    """``""``, ``"truth"`` or ``"smooth0.1"``: the suffix of the fitted-on file's name."""
    if value == "activity":
        return ""
    return "truth" if value == "truth" else f"smooth{value['smooth_s']:g}"


def _stand_in(trials, value) -> np.ndarray:
    from neurognocchi.data.preprocess import gaussian_smooth
    from neurognocchi.evaluation.generation import infer_smoothing

    if value == "truth":
        smoothing = infer_smoothing(trials)
        if trials.truth is None or smoothing is None:
            raise ValueError(
                "input 'truth' needs data with true rates and spikes (to learn how the data "
                "were smoothed), e.g. the synthetic reaching or toy data"
            )
        return smoothing.apply(np.asarray(trials.truth))
    if trials.spikes is None or trials.bin_size_s is None:
        raise ValueError("input {'smooth_s': ...} needs data with spikes and a bin size")
    counts = np.asarray(trials.spikes, dtype=np.float64)
    sigma = value["smooth_s"]
    return gaussian_smooth(counts, sigma_s=sigma, bin_size_s=trials.bin_size_s) / (
        trials.bin_size_s
    )


def fit_data_file(data: Path, value) -> Path:
    """The file a variant with input ``value`` is fitted on: ``data`` itself, or a copy of
    it (written once, next to it) whose activity is the stand-in."""
    from neurognocchi.data import load_trials

    tag = input_tag(value)
    if not tag:
        return data
    path = data.with_name(f"{data.stem}-input-{tag}.npz")
    if not path.is_file():
        trials = load_trials(data)
        trials.replace(activity=_stand_in(trials, value)).save(path)
    return path
