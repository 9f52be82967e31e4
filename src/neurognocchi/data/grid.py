"""Targets on a square grid, shared by the toy and the reaching datasets."""

from __future__ import annotations

import numpy as np

from neurognocchi._checks import check_int, check_real

__all__ = ["default_heldout_conditions", "grid_targets"]


def grid_targets(grid_size: int, spacing: float) -> np.ndarray:
    """Target positions of a ``grid_size x grid_size`` grid centred on the origin.

    Parameters
    ----------
    grid_size : int
        Targets per row and per column (>= 2).
    spacing : float
        Distance between neighbouring targets, in the caller's length unit.

    Returns
    -------
    targets : float64 array, shape (grid_size**2, 2)
        Row ``c`` is the (x, y) of condition ``c = iy * grid_size + ix``.

    Examples
    --------
    >>> grid_targets(2, 3.0).tolist()
    [[-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5], [1.5, 1.5]]
    """
    check_int(grid_size, "grid_size", minimum=2)
    check_real(spacing, "spacing", low=0.0, low_open=True)
    offsets = (np.arange(grid_size) - (grid_size - 1) / 2) * spacing
    iy, ix = np.divmod(np.arange(grid_size**2), grid_size)
    return np.stack([offsets[ix], offsets[iy]], axis=1)


def default_heldout_conditions(grid_size: int) -> np.ndarray:
    """Interior targets held out for generalisation: the four diagonal neighbours of the
    centre's ring, ``(1, 1), (1, G-2), (G-2, 1), (G-2, G-2)``, each surrounded by held-in
    targets so that latent navigation can reach it from a neighbour.

    For grids smaller than 4 x 4 (no such interior) nothing is held out.

    Examples
    --------
    >>> default_heldout_conditions(5).tolist()
    [6, 8, 16, 18]
    """
    check_int(grid_size, "grid_size", minimum=1)
    if grid_size < 4:
        return np.array([], dtype=int)
    corners = {(1, 1), (1, grid_size - 2), (grid_size - 2, 1), (grid_size - 2, grid_size - 2)}
    return np.array(sorted(iy * grid_size + ix for ix, iy in corners), dtype=int)
