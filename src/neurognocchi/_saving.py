"""The model-directory format: what an estimator's ``save`` writes and its ``load`` reads.

A model directory holds

* ``config.json``: ``{"format": "neurognocchi.<estimator class>", "version": N, "params":
  <constructor arguments>, "model": <the model's config>, "fit_seconds": <float>}``;
* ``weights.pt``: the model's state dict, tensors only, read back with ``weights_only=True`` so
  that loading never unpickles an object;
* ``history.json`` (and ``history.csv``): the per-epoch training metrics;
* ``history_<stage>.json``, one per earlier stage of a model trained in stages (LatentGNOCCHI's
  ``autoencoder``), read back as the estimator's ``<stage>_history_``.

The files are written together and atomically (temporary files, renamed over the targets once
all are written), so a save that is interrupted or fails (no space left, an I/O error) leaves the
previous model directory whole and loadable. Format versions: 2 added GNOCCHI's code whitening; 3
moved both models' per-neuron normalisation buffers under ``scaler.``, dropped the GNOCCHI
model's copy of the noise schedule and renamed GNOCCHI's ``encoder_channels`` to
``encoder_dim``. Version-2 directories are upgraded in memory when read (:func:`upgrade_v2`);
the files are not changed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from neurognocchi._io import atomic_writes
from neurognocchi.training.checkpoint import write_history

__all__ = [
    "CONFIG_FILE",
    "HISTORY_FILE",
    "READABLE_VERSIONS",
    "SAVE_FORMAT_VERSION",
    "WEIGHTS_FILE",
    "SavedModel",
    "format_name",
    "read_format",
    "read_model_dir",
    "upgrade_v2",
    "write_model_dir",
]

SAVE_FORMAT_VERSION = 3
"""The version ``write_model_dir`` writes (see the module docstring for what each changed)."""
READABLE_VERSIONS = (2, 3)
"""The versions ``read_model_dir`` reads (older ones are upgraded in memory)."""
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
HISTORY_FILE = "history.json"

# Version 2 -> 3: state-dict keys renamed, buffers dropped, config fields renamed.
_V2_RENAMED_KEYS = {"mean": "scaler.mean", "std": "scaler.std"}
_V2_DROPPED_KEYS = ("alphas_cumprod",)
_V2_RENAMED_FIELDS = {"neurognocchi.GNOCCHI": {"encoder_channels": "encoder_dim"}}


def format_name(estimator_name: str) -> str:
    """The ``format`` entry of an estimator class's model directories.

    Examples
    --------
    >>> format_name("GNOCCHI")
    'neurognocchi.GNOCCHI'
    """
    return f"neurognocchi.{estimator_name}"


@dataclass(frozen=True)
class SavedModel:
    """A model directory as read by :func:`read_model_dir` (upgraded to the current version).

    Attributes
    ----------
    params : dict
        The estimator's constructor arguments.
    model : dict
        The model's config (its config class rebuilds it with ``from_dict``).
    state : dict of str to torch.Tensor
        The model's state dict, on the CPU.
    fit_seconds : float or None
        Wall time of the fit.
    history : list of dict
        Per-epoch training metrics (empty when the directory holds none).
    stage_histories : dict of str to list of dict
        The histories of earlier training stages, by stage name.
    """

    params: dict[str, Any]
    model: dict[str, Any]
    state: dict[str, torch.Tensor]
    fit_seconds: float | None = None
    history: list[dict] = field(default_factory=list)
    stage_histories: dict[str, list[dict]] = field(default_factory=dict)


def write_model_dir(
    path: str | os.PathLike,
    *,
    estimator_name: str,
    params: dict[str, Any],
    model: dict[str, Any],
    state: dict[str, torch.Tensor],
    fit_seconds: float | None,
    history: list[dict],
    stage_histories: dict[str, list[dict]] | None = None,
) -> Path:
    """Write a model directory at ``path`` (created if needed), all files or none.

    Parameters
    ----------
    path : path
        The directory.
    estimator_name : str
        The estimator's class name (``"GNOCCHI"``, ``"LFADS"``), recorded as the format.
    params, model : dict
        The estimator's constructor arguments and the model's config, both JSON-able.
    state : dict of str to torch.Tensor
        The model's state dict (saved from the CPU).
    fit_seconds : float or None
    history : list of dict
    stage_histories : dict of str to list of dict, optional
        Histories of earlier training stages (``history_<stage>.json``; names are
        identifiers).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    neurognocchi._io.WriteFailedError
        When a file cannot be written (no space, I/O error, permission); none was changed.
    """
    path = Path(path)
    config = {
        "format": format_name(estimator_name),
        "version": SAVE_FORMAT_VERSION,
        "params": params,
        "model": model,
        "fit_seconds": fit_seconds,
    }
    with atomic_writes() as writes:
        with writes.open(path / WEIGHTS_FILE) as handle:
            torch.save({key: value.cpu() for key, value in state.items()}, handle)
        writes.write_text(path / CONFIG_FILE, json.dumps(config, indent=2))
        write_history(writes, path, history)
        for stage, rows in (stage_histories or {}).items():
            if not stage.isidentifier():
                raise ValueError(f"stage_histories: {stage!r} is not an identifier")
            writes.write_text(path / f"history_{stage}.json", json.dumps(rows, indent=1))
    return path


def _read_config(path: Path) -> dict[str, Any]:
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"{str(path)!r} holds no fitted model (no {CONFIG_FILE})")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{str(config_path)!r} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{str(config_path)!r} holds no model configuration")
    return config


def read_format(path: str | os.PathLike) -> str:
    """The ``format`` of the model directory ``path`` (e.g. ``"neurognocchi.GNOCCHI"``; ``""``
    when absent), for choosing which estimator class loads it.

    Raises FileNotFoundError without ``config.json`` and ValueError when it is not JSON.
    """
    return str(_read_config(Path(path)).get("format", ""))


def read_model_dir(path: str | os.PathLike, *, estimator_name: str) -> SavedModel:
    """Read the model directory ``path`` written for the estimator class ``estimator_name``.

    The weights are read with ``weights_only=True`` (tensors only, never pickled objects) onto
    the CPU. A version-2 directory is upgraded in memory with :func:`upgrade_v2`.

    Raises
    ------
    FileNotFoundError
        Without ``config.json`` (or ``weights.pt``).
    ValueError
        When the directory holds another estimator's model, an unknown version, or a
        ``config.json`` that is not JSON.
    """
    path = Path(path)
    config = _read_config(path)
    expected = format_name(estimator_name)
    if config.get("format") != expected or config.get("version") not in READABLE_VERSIONS:
        readable = " or ".join(str(version) for version in READABLE_VERSIONS)
        raise ValueError(
            f"{str(path)!r} holds {config.get('format')} version {config.get('version')}; "
            f"{estimator_name}.load reads {expected} version {readable}"
        )
    state = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    if config["version"] == 2:
        config, state = upgrade_v2(config, state)
    history_path = path / HISTORY_FILE
    history = json.loads(history_path.read_text()) if history_path.exists() else []
    stages = {
        file.stem.removeprefix("history_"): json.loads(file.read_text())
        for file in sorted(path.glob("history_*.json"))
    }
    return SavedModel(
        params=config["params"],
        model=config["model"],
        state=state,
        fit_seconds=config.get("fit_seconds"),
        history=history,
        stage_histories=stages,
    )


def upgrade_v2(config: dict, state: dict) -> tuple[dict, dict]:
    """A version-2 ``config.json`` and state dict in the version-3 layout (new copies).

    The normalisation buffers ``mean``/``std`` become ``scaler.mean``/``scaler.std``, the
    GNOCCHI model's ``alphas_cumprod`` buffer (its copy of the noise schedule, which the
    scheduler recomputes) is dropped, and GNOCCHI's ``encoder_channels`` is renamed
    ``encoder_dim`` in the constructor arguments and in the model config.

    Examples
    --------
    >>> config = {"format": "neurognocchi.GNOCCHI", "version": 2,
    ...           "params": {"encoder_channels": 8}, "model": {"encoder_channels": 8}}
    >>> new_config, new_state = upgrade_v2(config, {"mean": 0, "alphas_cumprod": 1, "w": 2})
    >>> new_config["version"], new_config["params"], new_state
    (3, {'encoder_dim': 8}, {'scaler.mean': 0, 'w': 2})
    """
    renames = _V2_RENAMED_FIELDS.get(config.get("format"), {})
    upgraded = dict(config, version=3)
    for part in ("params", "model"):
        upgraded[part] = {renames.get(key, key): value for key, value in config[part].items()}
    new_state = {
        _V2_RENAMED_KEYS.get(key, key): value
        for key, value in state.items()
        if key not in _V2_DROPPED_KEYS
    }
    return upgraded, new_state
