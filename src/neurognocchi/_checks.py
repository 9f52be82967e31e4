"""The one module of argument validators.

Every public function and config of the package checks its arguments with these helpers, so a
mistake always reads the same way: the argument's name, what was given and what is allowed.
Each raises :class:`InvalidArgumentError`, a subclass of both ``ValueError`` and ``TypeError``
(as scikit-learn's ``InvalidParameterError`` is), so callers may catch either.

This module imports nothing from the package, so any layer may use it.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "InvalidArgumentError",
    "check_activity",
    "check_bool",
    "check_choice",
    "check_dropout",
    "check_finite_array",
    "check_fraction",
    "check_int",
    "check_positive_int",
    "check_random_state",
    "check_real",
    "resolve_device",
]


class InvalidArgumentError(ValueError, TypeError):
    """A user-supplied argument has the wrong type or value (both a ValueError and a TypeError)."""


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


def check_finite_array(value: object, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a real numpy array with no NaN or infinite entry.

    Parameters
    ----------
    value : array-like
        The value given by the user.
    name : str
        Argument name used in the error message.
    ndim : int, optional
        Required number of dimensions.

    Returns
    -------
    numpy.ndarray
    """
    array = np.asarray(value)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise InvalidArgumentError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise InvalidArgumentError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise InvalidArgumentError(
            f"{name} must have {ndim} dimensions; got shape {tuple(array.shape)}"
        )
    n_bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if n_bad:
        raise InvalidArgumentError(f"{name} contains {n_bad} NaN or infinite values")
    return array


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


def resolve_device(device: object, name: str = "device"):
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device, validated.

    Under ``torchrun`` an unindexed CUDA device is this process's GPU (``LOCAL_RANK``).

    Returns
    -------
    torch.device
    """
    import torch  # imported here so that this module stays cheap for the data layer

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InvalidArgumentError(f"{name}={device!r} was requested but CUDA is not available")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidArgumentError(
            f"{name} must be 'auto', 'cpu' or 'cuda'; got {device!r}"
        ) from None
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1  # torchrun, one GPU per process
    if resolved.type == "cuda" and resolved.index is None and launched:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
    return resolved


def check_activity(x: object, n_neurons: int, name: str):
    """Check that ``x`` is a real tensor of shape ``(B, T, n_neurons)`` with B, T >= 1.

    Parameters
    ----------
    x : object
        The value given by the user.
    n_neurons : int
        Number of neurons the network was built for.
    name : str
        Argument name used in the error message.

    Returns
    -------
    torch.Tensor, shape (B, T, N)
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise InvalidArgumentError(
            f"{name} must be a torch.Tensor of shape (B, T, N); got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise InvalidArgumentError(f"{name} must have a floating dtype; got {x.dtype}")
    if x.ndim != 3:
        raise InvalidArgumentError(
            f"{name} must have shape (B, T, N) = (batch, time bins, neurons); "
            f"got {x.ndim} dimensions, shape {tuple(x.shape)}"
        )
    if x.shape[2] != n_neurons:
        raise InvalidArgumentError(
            f"{name} must have N = {n_neurons} neurons in its last axis; got shape {tuple(x.shape)}"
        )
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise InvalidArgumentError(
            f"{name} needs B >= 1 trials and T >= 1 bins; got shape {tuple(x.shape)}"
        )
    return x
