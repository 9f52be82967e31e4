"""The one package of argument validators.

Every public function and config of the package checks its arguments with these helpers, so a
mistake always reads the same way: the argument's name, what was given and what is allowed.
Each takes the value first and then its name (``check_int(value, name, ...)``) and raises
:class:`InvalidArgumentError`, a subclass of both ``ValueError`` and ``TypeError`` (as
scikit-learn's ``InvalidParameterError`` is), so callers may catch either.

By concept: :mod:`~neurognocchi._checks.scalars` (ints, reals, choices, seeds, step indices, bin
sizes), :mod:`~neurognocchi._checks.arrays` (finite arrays and the fields of a `Trials`,
checked a block of trials at a time) and :mod:`~neurognocchi._checks.tensors` (devices and
torch tensors; torch is imported inside the functions). Import them from here.

This package imports nothing from the package but :mod:`neurognocchi._chunks`, so any layer may
use it.
"""

from neurognocchi._checks.arrays import (
    MAX_COUNT,
    as_behavior,
    as_counts,
    as_finite,
    as_info_column,
    as_trial_array,
    check_finite_array,
)
from neurognocchi._checks.errors import InvalidArgumentError
from neurognocchi._checks.scalars import (
    as_bin_size,
    check_bool,
    check_choice,
    check_dropout,
    check_fraction,
    check_int,
    check_positive_int,
    check_random_state,
    check_real,
    check_seeds,
    check_step,
)
from neurognocchi._checks.tensors import (
    check_activity,
    check_batch_steps,
    check_data,
    check_same_shape,
    resolve_device,
)

__all__ = [
    "MAX_COUNT",
    "InvalidArgumentError",
    "as_behavior",
    "as_bin_size",
    "as_counts",
    "as_finite",
    "as_info_column",
    "as_trial_array",
    "check_activity",
    "check_batch_steps",
    "check_bool",
    "check_choice",
    "check_data",
    "check_dropout",
    "check_finite_array",
    "check_fraction",
    "check_int",
    "check_positive_int",
    "check_random_state",
    "check_real",
    "check_same_shape",
    "check_seeds",
    "check_step",
    "resolve_device",
]
