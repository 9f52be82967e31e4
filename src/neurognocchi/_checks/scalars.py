"""Validators of scalar arguments: ints, seeds, reals, fractions, bools, choices, random states,
diffusion step indices and bin sizes."""

from __future__ import annotations

import numbers
import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

from neurognocchi._checks.errors import InvalidArgumentError

__all__ = [
    "as_bin_size",
    "check_bool",
    "check_choice",
    "check_dropout",
    "check_fraction",
    "check_int",
    "check_positive_int",
    "check_random_state",
    "check_real",
    "check_seeds",
    "check_step",
]


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is never a sensible count.
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer (not a bool) >= ``minimum``.

    Parameters
    ----------
    value : object
        The value given by the user.
    name : str
        Argument name used in the error message.
    minimum : int, optional
        Smallest allowed value (no bound when None).

    Returns
    -------
    int

    Examples
    --------
    >>> check_int(3, "n_samples", minimum=1)
    3
    >>> try:
    ...     check_int(True, "n_samples")
    ... except ValueError as error:
    ...     print(error)
    n_samples must be an int; got True (bool)
    """
    allowed = "an int" if minimum is None else f"an int >= {minimum}"
    if not _is_int(value):
        raise InvalidArgumentError(
            f"{name} must be {allowed}; got {value!r} ({type(value).__name__})"
        )
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(f"{name} must be {allowed}; got {value}")
    return int(value)


def check_seeds(value: object, name: str = "seeds") -> list[int]:
    """Return ``value`` as a non-empty list of distinct non-negative ints (e.g. training
    seeds), else raise naming ``name`` (an entry as ``name[i]``).

    Examples
    --------
    >>> check_seeds((0, 1, 2))
    [0, 1, 2]
    """
    if isinstance(value, (int, str, bytes)) or not hasattr(value, "__iter__"):
        raise InvalidArgumentError(f"{name} must be a sequence of ints; got {value!r}")
    seeds = [check_int(seed, f"{name}[{i}]", minimum=0) for i, seed in enumerate(value)]
    if not seeds or len(set(seeds)) != len(seeds):
        raise InvalidArgumentError(f"{name} must be non-empty and distinct; got {seeds}")
    return seeds


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` if it is an int >= 1 (not a bool), else raise naming ``name``."""
    return check_int(value, name, minimum=1)


def check_real(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number inside the stated interval.

    Parameters
    ----------
    value : object
        The value given by the user.
    name : str
        Argument name used in the error message.
    low, high : float, optional
        Bounds of the interval (unbounded when None).
    low_open, high_open : bool
        Whether the bound itself is excluded.

    Returns
    -------
    float
    """
    left = "-inf" if low is None else f"{low:g}"
    right = "inf" if high is None else f"{high:g}"
    interval = f"{'(' if low_open or low is None else '['}{left}, {right}"
    interval += ")" if high_open or high is None else "]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(
            f"{name} must be a real number in {interval}; got {value!r} ({type(value).__name__})"
        )
    number = float(value)
    inside = np.isfinite(number)
    if low is not None:
        inside = inside and (number > low if low_open else number >= low)
    if high is not None:
        inside = inside and (number < high if high_open else number <= high)
    if not inside:
        raise InvalidArgumentError(f"{name} must be a real number in {interval}; got {value!r}")
    return number


def check_fraction(value: object, name: str, *, allow_one: bool = False) -> float:
    """Return ``value`` as a float in ``[0, 1)`` (``[0, 1]`` with ``allow_one``)."""
    return check_real(value, name, low=0.0, high=1.0, high_open=not allow_one)


def check_dropout(value: object, name: str = "dropout") -> float:
    """Return a dropout probability in ``[0, 1)``."""
    return check_fraction(value, name)


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is a bool (numpy's included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(
            f"{name} must be True or False; got {value!r} ({type(value).__name__})"
        )
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``.

    Examples
    --------
    >>> check_choice("cosine", "schedule", ("linear", "cosine"))
    'cosine'
    """
    choices = tuple(choices)
    try:
        known = value in choices
    except TypeError:  # unhashable or incomparable values are simply not a choice
        known = False
    if not known:
        raise InvalidArgumentError(f"{name} must be one of {choices}; got {value!r}")
    return value


def check_random_state(random_state: object, name: str = "random_state") -> int:
    """An int seed from ``random_state``: an int, or None for fresh entropy (as scikit-learn).

    Examples
    --------
    >>> check_random_state(7)
    7
    """
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if not _is_int(random_state):
        raise InvalidArgumentError(f"{name} must be an int or None; got {random_state!r}")
    return int(random_state)


def check_step(t: object, name: str, n_train_steps: int, *, low: int = 0) -> int:
    """Check a scalar diffusion step index in ``[low, n_train_steps - 1]``; return it as an int.

    Examples
    --------
    >>> check_step(3, "t", 10)
    3
    """
    if isinstance(t, bool):
        raise InvalidArgumentError(f"{name} must be an int, got {t!r}")
    try:
        t = operator.index(t)
    except TypeError:
        raise InvalidArgumentError(
            f"{name} must be an int, got {t!r} ({type(t).__name__})"
        ) from None
    if not low <= t < n_train_steps:
        raise InvalidArgumentError(f"{name} must be in [{low}, {n_train_steps - 1}], got {t}")
    return t


def as_bin_size(value: object, name: str = "bin_size_s") -> float | None:
    """``value`` as a float of positive seconds, or None (unknown).

    Examples
    --------
    >>> as_bin_size(0.02)
    0.02
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidArgumentError(f"{name} must be a number; got {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise InvalidArgumentError(f"{name} must be a positive number of seconds; got {value}")
    return float(value)
