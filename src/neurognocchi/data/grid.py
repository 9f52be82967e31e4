"""Targets on a square grid, shared by the toy and the reaching datasets."""

from __future__ import annotations

import numpy as np


def grid_targets(grid_size: int, spacing: float) -> np.ndarray:
    """Target positions of a ``grid_size x grid_size`` grid centred on the origin.

    Returns
    -------
    targets : float64 array, shape (grid_size**2, 2)
        Row ``c`` is the (x, y) of condition ``c = iy * grid_size + ix``.
    """
    if not isinstance(grid_size, (int, np.integer)) or grid_size < 2:
        raise ValueError(f"grid_size must be an integer >= 2; got {grid_size!r}")
    if not spacing > 0:
        raise ValueError(f"spacing must be positive; got {spacing!r}")
    offsets = (np.arange(grid_size) - (grid_size - 1) / 2) * spacing
    iy, ix = np.divmod(np.arange(grid_size**2), grid_size)
    return np.stack([offsets[ix], offsets[iy]], axis=1)


def default_heldout_conditions(grid_size: int) -> np.ndarray:
    """Interior targets held out for generalisation: the four diagonal neighbours of the
    centre's ring, ``(1, 1), (1, G-2), (G-2, 1), (G-2, G-2)``, each surrounded by held-in
    targets so that latent navigation can reach it from a neighbour.

    For grids smaller than 4 x 4 (no such interior) nothing is held out.
    """
    if grid_size < 4:
        return np.array([], dtype=int)
    corners = {(1, 1), (1, grid_size - 2), (grid_size - 2, 1), (grid_size - 2, grid_size - 2)}
    return np.array(sorted(iy * grid_size + ix for ix, iy in corners), dtype=int)
