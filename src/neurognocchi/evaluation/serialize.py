"""Conversion of results to plain JSON types."""

from __future__ import annotations

import math

import numpy as np


def jsonable(value):
    """``value`` with arrays as (nested) lists, NumPy scalars as Python numbers and every
    non-finite float as None, so that ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, np.str_):
        return str(value)
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")
