"""Validators of numpy arrays: finite arrays, and the fields a `Trials` is built from.

Trial arrays (``[n_trials, n_time, n]``) are checked a block of trials at a time
(:func:`~neurognocchi._chunks.trial_chunks`), so a memory-mapped array stays mapped and is never
read into memory whole. Every error names the field and what is wrong with it.
"""

from __future__ import annotations

import numpy as np

from neurognocchi._checks.errors import InvalidArgumentError
from neurognocchi._chunks import release_pages, trial_chunks

__all__ = [
    "MAX_COUNT",
    "as_behavior",
    "as_counts",
    "as_info_column",
    "as_trial_array",
    "check_finite_array",
]


def as_finite(value: object, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """``value`` as a float64 array of rank ``ndim`` (or one of them), non-empty and finite;
    otherwise :class:`InvalidArgumentError` naming ``name``.

    Examples
    --------
    >>> as_finite([[1, 2]], "codes", 2).dtype
    dtype('float64')
    """
    array = np.asarray(value, dtype=np.float64)
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in ranks:
        allowed = " or ".join(map(str, ranks))
        raise InvalidArgumentError(f"{name} must have rank {allowed}; got shape {array.shape}")
    if array.size == 0:
        raise InvalidArgumentError(f"{name} is empty; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidArgumentError(f"{name} must be finite (found NaN or inf)")
    return array


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


def as_trial_array(value: object, name: str, *, dtype=None) -> np.ndarray:
    """Validate a ``[n_trials, n_time, n]`` array: numeric, rank 3, finite.

    A ``np.memmap`` stays memory-mapped (when already of ``dtype``) and is checked in blocks.

    Examples
    --------
    >>> as_trial_array(np.zeros((2, 3, 4)), "activity", dtype=np.float32).dtype
    dtype('float32')
    """
    array = value if isinstance(value, np.memmap) else np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InvalidArgumentError(f"{name} must be a numeric array; got dtype {array.dtype}")
    if array.ndim != 3:
        raise InvalidArgumentError(
            f"{name} must have rank 3 [n_trials, n_time, n]; got shape {array.shape}"
        )
    finite = all(np.all(np.isfinite(chunk)) for chunk in trial_chunks(array))
    release_pages(array)
    if not finite:
        chunks = trial_chunks(array)
        n_bad = sum(int(c.size - np.count_nonzero(np.isfinite(c))) for c in chunks)
        raise InvalidArgumentError(f"{name} contains {n_bad} NaN or infinite values")
    if dtype is None or array.dtype == dtype:
        return array
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(dtype)
    if np.issubdtype(dtype, np.floating) and not all(
        np.all(np.isfinite(chunk)) for chunk in trial_chunks(cast)
    ):
        raise InvalidArgumentError(
            f"{name} has values beyond the range of {np.dtype(dtype).name} "
            f"(|x| > {np.finfo(dtype).max:.3g})"
        )
    return cast


#: The largest spike count in one bin that is accepted: every count up to it is exact in float32
#: (the models compute in float32). Real recordings stay far below (hundreds per bin at most).
MAX_COUNT = 2**24


def as_counts(value: object, name: str = "spikes") -> np.ndarray:
    """Validate binned spike counts: whole, non-negative numbers up to :data:`MAX_COUNT`,
    stored as integers (``int32`` unless already of an integer dtype).

    Examples
    --------
    >>> as_counts(np.ones((1, 2, 3))).dtype
    dtype('int32')
    """
    counts = as_trial_array(value, name)
    negative = any(np.any(chunk < 0) for chunk in trial_chunks(counts))
    release_pages(counts)
    if negative:
        raise InvalidArgumentError(f"{name} must be non-negative counts; found negative values")
    if not np.issubdtype(counts.dtype, np.integer) and any(
        np.any(chunk != np.round(chunk)) for chunk in trial_chunks(counts)
    ):
        raise InvalidArgumentError(f"{name} must be whole-number counts; found non-integer values")
    largest = max((chunk.max() for chunk in trial_chunks(counts) if chunk.size), default=0)
    release_pages(counts)
    if largest > MAX_COUNT:
        raise InvalidArgumentError(
            f"{name} holds a count of {largest:.6g} in one bin, more than {MAX_COUNT:,} (the "
            "largest float32 holds exactly): not a spike count; an integer overflow or another "
            f"field stored as {name}?"
        )
    return counts if np.issubdtype(counts.dtype, np.integer) else counts.astype(np.int32)


def as_info_column(value: object, key: str, n_trials: int) -> np.ndarray:
    """Validate the ``trial_info`` column ``key``: numbers, booleans or strings, shape
    ``(n_trials,)``.

    Examples
    --------
    >>> as_info_column([1, 2], "target", 2)
    array([1, 2])
    """
    if "\x00" in key:  # a zip member name (Trials.save) ends at a NUL
        raise InvalidArgumentError(f"trial_info keys must not contain NUL characters; got {key!r}")
    column = np.asarray(value)
    if column.dtype.kind not in "biufU":
        raise InvalidArgumentError(
            f"trial_info[{key!r}] must hold numbers, booleans or strings; got dtype {column.dtype}"
        )
    if column.ndim != 1 or len(column) != n_trials:
        raise InvalidArgumentError(
            f"trial_info[{key!r}] must be 1-D with one value per trial ({n_trials}); "
            f"got shape {column.shape}"
        )
    return column


def as_behavior(behavior: object, *, names, activity_shape: tuple[int, int, int]):
    """Validate ``behavior`` (n_trials, n_time, n_behavior) against ``activity_shape`` and
    name its channels (``names``, else ``b0, b1, ...``).

    Returns
    -------
    tuple
        The behaviour as a float32 array (None without ``behavior``) and a tuple of channel
        names (empty without ``behavior``).

    Examples
    --------
    >>> as_behavior(np.zeros((2, 3, 2)), names=None, activity_shape=(2, 3, 5))[1]
    ('b0', 'b1')
    """
    if behavior is None:
        if names is not None:
            raise InvalidArgumentError("behavior_names was given without behavior")
        return None, ()
    behavior = as_trial_array(behavior, "behavior", dtype=np.float32)
    if behavior.shape[:2] != activity_shape[:2]:
        raise InvalidArgumentError(
            "behavior must have the same n_trials and n_time as activity "
            f"{activity_shape[:2]}; got {behavior.shape[:2]}"
        )
    names = tuple(f"b{i}" for i in range(behavior.shape[2])) if names is None else names
    names = tuple(str(name) for name in names)
    if len(names) != behavior.shape[2]:
        raise InvalidArgumentError(
            f"behavior_names has {len(names)} names for {behavior.shape[2]} behaviour channels"
        )
    return behavior, names
