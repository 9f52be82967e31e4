"""Drawing pieces shared by the comparison figures: PNG output, the reach-angle colours, input
arrays read with None as NaN, grouped bars and scatters against the unity line.

Everything uses matplotlib's object API (`matplotlib.figure.Figure`), never pyplot, so nothing
depends on global state or a display.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from neurognocchi._checks import InvalidArgumentError
from neurognocchi._io import atomic_write

__all__ = [
    "ANGLE_CMAP",
    "ANGLE_NORM",
    "angle_colorbar",
    "figure_png",
    "float_array",
    "grouped_bars",
    "save_figure",
    "unity_scatter",
]

ANGLE_NORM = Normalize(-np.pi, np.pi)  # reach angles (rad) onto the colour map
ANGLE_CMAP = colormaps["hsv"]  # cyclic, as angles are


def float_array(name: str, value, ndim: int) -> np.ndarray:
    """``value`` as a float64 array of rank ``ndim`` (None entries become NaN); a wrong rank is
    a ValueError naming ``name``.

    Examples
    --------
    >>> float_array("errors", [0.5, None], 1)
    array([0.5, nan])
    """
    array = np.asarray(value, dtype=np.float64)  # None -> NaN
    if array.ndim != ndim:
        raise InvalidArgumentError(f"{name} must have rank {ndim}; got shape {array.shape}")
    return array


def angle_colorbar(fig: Figure, axes) -> None:
    """A colour bar of reach angle (rad) beside ``axes`` of ``fig``."""
    mappable = ScalarMappable(norm=ANGLE_NORM, cmap=ANGLE_CMAP)
    fig.colorbar(mappable, ax=axes, label="reach angle (rad)", shrink=0.8)


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically; return the path."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())
    return Path(path)


def figure_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The PNG bytes of ``fig``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def grouped_bars(ax, values: Mapping, groups, *, ylabel: str) -> None:
    """Bars of ``values[model][group]`` grouped by group, one colour per model."""
    width = 0.8 / max(1, len(values))
    positions = np.arange(len(groups))
    for i, (name, by_group) in enumerate(values.items()):
        heights = np.array([np.nan if by_group.get(g) is None else by_group[g] for g in groups])
        ax.bar(positions + (i - (len(values) - 1) / 2) * width, heights, width, label=name)
    ax.set_xticks(positions, list(groups))
    ax.set_ylabel(ylabel)
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.legend(fontsize=8)


def unity_scatter(ax, x, y, *, xlabel: str, ylabel: str) -> None:
    """Scatter of y against x with the line y = x over their joint range."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ax.scatter(x, y, s=12, alpha=0.7)
    finite = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]])
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--", label="unity")
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    ax.set_aspect("equal", adjustable="datalim")
