"""Reading trials from MATLAB ``.mat`` files: DataHigh-style struct arrays or plain 3-D arrays."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurognocchi._checks import check_choice
from neurognocchi.data.preprocess import gaussian_smooth, rebin
from neurognocchi.data.trials import Trials

__all__ = ["AXES", "load_mat"]

AXES = ("neurons_time", "time_neurons")


def _read_mat(path: Path) -> dict:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        contents = loadmat(path, squeeze_me=True, struct_as_record=False)
    except NotImplementedError:
        raise ValueError(
            f"{str(path)!r} is a MATLAB v7.3 (HDF5) file; save it with -v7 or read it with h5py "
            "and wrap the arrays with Trials"
        ) from None
    except Exception as error:  # a damaged file fails inside scipy in many ways
        known = isinstance(error, (MatReadError, ValueError))
        reason = str(error) if known else f"{type(error).__name__}: {error}"
        raise ValueError(f"{str(path)!r} is not a readable .mat file: {reason}") from None
    return {key: value for key, value in contents.items() if not key.startswith("__")}


def _is_struct_array(value) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.dtype == object
        and value.size > 0
        and all(hasattr(item, "_fieldnames") for item in value.ravel())
    )


def _describe(contents: dict) -> str:
    parts = []
    for key, value in contents.items():
        if _is_struct_array(value):
            parts.append(
                f"{key} (struct array of {value.size}, fields "
                f"{', '.join(value.ravel()[0]._fieldnames)})"
            )
        else:
            parts.append(f"{key} (shape {np.shape(value)})")
    return "; ".join(parts) or "nothing"


def _pick_variable(contents: dict, variable: str | None) -> str:
    if not contents:
        raise ValueError("the file holds no variables (empty, or cut short after its header)")
    if variable is not None:
        if variable not in contents:
            raise KeyError(
                f"variable={variable!r} is not in the file; it holds: {_describe(contents)}"
            )
        return variable
    candidates = [
        key
        for key, value in contents.items()
        if _is_struct_array(value)
        or (isinstance(value, np.ndarray) and value.ndim == 3 and value.dtype.kind in "biuf")
    ]
    if len(candidates) != 1:
        raise ValueError(
            "pass variable= to choose the trials variable (a struct array or a 3-D array); "
            f"the file holds: {_describe(contents)}"
        )
    return candidates[0]


def _from_struct(struct, data_field: str, labels: str | None):
    """Stack ``struct(k).<data_field>`` into (n_trials, a, b) and read the label field."""
    items = list(np.atleast_1d(struct))
    fields = items[0]._fieldnames
    if data_field not in fields:
        raise KeyError(
            f"data_field={data_field!r} is not a field of the struct array; its "
            f"fields: {', '.join(fields)}"
        )
    shapes = {np.shape(getattr(item, data_field)) for item in items}
    if len(shapes) != 1:
        raise ValueError(
            f"trials have different data shapes {sorted(shapes)}; cut them to one "
            "length before loading (nothing is cropped here)"
        )
    data = np.stack([np.asarray(getattr(item, data_field)) for item in items])
    if labels is not None and labels not in fields:
        raise KeyError(
            f"labels={labels!r} is not a field of the struct array; its fields: {', '.join(fields)}"
        )
    values = None if labels is None else np.array([getattr(item, labels) for item in items])
    return data, values


def load_mat(
    path: str | os.PathLike,
    *,
    bin_size_s: float = 0.02,
    sample_period_s: float = 0.001,
    smooth_sigma_s: float | None = 0.04,
    variable: str | None = None,
    data_field: str = "data",
    labels: str | None = "condition",
    axes: str = "neurons_time",
) -> Trials:
    """Load trials from a ``.mat`` file (MATLAB v5-v7), binning and smoothing spike counts.

    Two layouts are read:

    * a struct array with one element per trial (DataHigh, Cowley et al. 2013):
      ``D(k).data`` is ``[n_neurons, n_time]`` and ``D(k).condition`` its label;
    * a numeric array ``[n_trials, n_neurons, n_time]`` with, optionally, a variable holding
      one label per trial.

    Parameters
    ----------
    path : path
        A ``.mat`` file.
    bin_size_s : float
        Bin width of the returned trials; a whole multiple of ``sample_period_s``.
    sample_period_s : float
        Time step of the stored data (1 ms for DataHigh's spike trains).
    smooth_sigma_s : float or None
        S.d. of the acausal Gaussian turning counts into ``activity`` (Hz); None: counts / bin.
    variable : str, optional
        The struct array or 3-D array; default: the file's only one.
    data_field : str
        The struct field holding each trial's data.
    labels : str or None
        Struct field (or variable) of per-trial labels, e.g. condition names; ignored when
        absent with the default ``"condition"``.
    axes : {"neurons_time", "time_neurons"}
        Order of each trial's axes in the file.

    Returns
    -------
    Trials
        ``spikes`` and ``activity`` in Hz when the data are whole non-negative counts (else
        ``activity`` is the data averaged within bins, in their units), and
        ``trial_info`` with ``condition`` (integer index into the sorted distinct labels)
        and ``condition_name`` (the labels as strings).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    check_choice(axes, "axes", AXES)
    factor = bin_size_s / sample_period_s
    if not (bin_size_s > 0 and sample_period_s > 0) or abs(factor - round(factor)) > 1e-6:
        raise ValueError(
            f"bin_size_s={bin_size_s} must be a positive whole multiple of "
            f"sample_period_s={sample_period_s}"
        )
    contents = _read_mat(path)
    name = _pick_variable(contents, variable)
    label_name = None if labels == "condition" and not _has_labels(contents, name) else labels
    if _is_struct_array(contents[name]):
        data, label_values = _from_struct(contents[name], data_field, label_name)
    else:
        data, label_values = _from_array(contents, name, label_name)
    if axes == "neurons_time":
        data = np.swapaxes(data, 1, 2)  # (n_trials, n_time, n_neurons)
    return _to_trials(data, label_values, round(factor), bin_size_s, smooth_sigma_s, str(path))


def _has_labels(contents: dict, name: str) -> bool:
    value = contents[name]
    if _is_struct_array(value):
        return "condition" in np.atleast_1d(value)[0]._fieldnames
    return "condition" in contents


def _from_array(contents: dict, name: str, labels: str | None):
    data = np.asarray(contents[name])
    if data.ndim != 3 or data.dtype.kind not in "biuf":
        raise ValueError(
            f"variable {name!r} must be a numeric 3-D array; got shape "
            f"{data.shape}, dtype {data.dtype}"
        )
    if labels is None:
        return data, None
    if labels not in contents:
        raise KeyError(f"labels={labels!r} is not in the file; it holds: {_describe(contents)}")
    return data, np.atleast_1d(np.asarray(contents[labels]))


def _to_trials(data, label_values, factor, bin_size_s, smooth_sigma_s, source) -> Trials:
    data = np.asarray(data)
    is_counts = data.dtype.kind in "biu" or (
        np.all(np.isfinite(data)) and np.all(data >= 0) and np.all(data == np.round(data))
    )
    if is_counts:
        counts = rebin(data.astype(np.int64), factor, axis=1)
        activity = counts / bin_size_s  # Hz
    else:  # continuous values: average within bins, keep their units
        counts, activity = None, rebin(data.astype(np.float64), factor, axis=1) / factor
    if smooth_sigma_s:
        activity = gaussian_smooth(activity, sigma_s=smooth_sigma_s, bin_size_s=bin_size_s)
    info = {}
    if label_values is not None:
        if len(label_values) != len(data):
            raise ValueError(f"{len(label_values)} labels for {len(data)} trials in {source}")
        names = np.array([str(value) for value in label_values])
        distinct = np.unique(names)
        info = {"condition": np.searchsorted(distinct, names), "condition_name": names}
    return Trials(
        activity,
        spikes=counts,
        trial_info=info,
        bin_size_s=bin_size_s,
        align=f"trial start [0, {activity.shape[1] * bin_size_s:g}] s",
    )
