"""The ``metrics.json`` files that ``evaluate`` and ``demo`` write, read back: `read_metrics`
(for ``table`` and ``report``) and `rerender_report` (``neurognocchi report``).

A ``metrics.json`` is the :func:`~neurognocchi.evaluation.compare` result as JSON; it holds
everything the HTML report shows except the description of the trials (given with ``--data``)
and the evaluation's run time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["read_metrics", "rerender_report"]


def read_metrics(path: str | os.PathLike) -> dict:
    """The comparison saved in ``path``, a ``metrics.json`` of ``evaluate`` or ``demo``.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    ValueError
        When it is not a ``metrics.json`` of ``evaluate`` (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"metrics: {str(path)!r} does not exist")
    try:
        comparison = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:  # not JSON, or not text
        comparison = None
    if not _is_comparison(comparison):
        raise ValueError(f"metrics: {str(path)!r} is not a metrics.json of evaluate")
    return comparison


def _is_comparison(value) -> bool:
    """Whether ``value`` has the shape of a ``compare`` result: models with their config and
    summary, and the table."""
    if not isinstance(value, dict) or not isinstance(value.get("table"), dict):
        return False
    models = value.get("models")
    return (
        isinstance(models, dict)
        and bool(models)
        and all(isinstance(m, dict) and {"config", "summary"} <= m.keys() for m in models.values())
    )


def _check_trials_match(trials, comparison: dict, data: Path) -> None:
    """Refuse a data file whose number of trials differs from the evaluation's split."""
    config = next(iter(comparison["models"].values()))["config"]
    parts = [config.get(key) for key in ("n_train", "n_valid", "n_heldout")]
    if all(isinstance(n, int) for n in parts) and sum(parts) != trials.n_trials:
        raise ValueError(
            f"--data: {str(data)!r} holds {trials.n_trials} trials; the evaluation split "
            f"{sum(parts)} (train {parts[0]}, valid {parts[1]}, held out {parts[2]})"
        )


def rerender_report(
    metrics: str | os.PathLike, out: str | os.PathLike, *, data: str | os.PathLike | None = None
) -> Path:
    """Write the HTML report of a ``metrics.json`` to ``out`` again (figures, table, models).

    Parameters
    ----------
    metrics : path of a ``metrics.json`` of ``evaluate`` or ``demo``
    out : path of the ``.html`` file (written atomically)
    data : path, optional
        The trials file that was evaluated; adds its description to the data section.

    Returns
    -------
    Path of the HTML file.
    """
    from neurognocchi.data import load_trials
    from neurognocchi.evaluation import write_report

    metrics = Path(metrics)
    comparison = read_metrics(metrics)
    trials = None
    if data is not None:
        trials = load_trials(data)
        _check_trials_match(trials, comparison, Path(data))
    try:
        return write_report(comparison, out, trials=trials)
    except KeyError as error:  # a field of the comparison is missing
        raise ValueError(
            f"metrics: {str(metrics)!r} is not a complete metrics.json of evaluate (no {error})"
        ) from None
