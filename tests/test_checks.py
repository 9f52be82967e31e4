"""The argument validators of `neurognocchi._checks`: value first, then its name, and one
exception type (`InvalidArgumentError`, both a ValueError and a TypeError) naming the argument."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neurognocchi import _checks
from neurognocchi._checks import InvalidArgumentError

X = torch.zeros(2, 3, 4)

BAD_CALLS = {
    "check_int": lambda: _checks.check_int(True, "arg"),
    "check_positive_int": lambda: _checks.check_positive_int(0, "arg"),
    "check_seeds": lambda: _checks.check_seeds((1, 1), "arg"),
    "check_real": lambda: _checks.check_real(float("nan"), "arg"),
    "check_fraction": lambda: _checks.check_fraction(1.0, "arg"),
    "check_dropout": lambda: _checks.check_dropout(-0.1, "arg"),
    "check_bool": lambda: _checks.check_bool(1, "arg"),
    "check_choice": lambda: _checks.check_choice("c", "arg", ("a", "b")),
    "check_random_state": lambda: _checks.check_random_state(1.5, "arg"),
    "check_step": lambda: _checks.check_step(10, "arg", 10),
    "as_bin_size": lambda: _checks.as_bin_size(-1.0, "arg"),
    "check_finite_array": lambda: _checks.check_finite_array([np.inf], "arg"),
    "as_trial_array": lambda: _checks.as_trial_array(np.zeros((2, 3)), "arg"),
    "as_counts": lambda: _checks.as_counts(-np.ones((1, 2, 3)), "arg"),
    "as_info_column": lambda: _checks.as_info_column([1, 2, 3], "arg", 2),
    "as_finite": lambda: _checks.as_finite([[1.0, float("nan")]], "arg", 2),
    "as_behavior": lambda: _checks.as_behavior(None, names=["arg"], activity_shape=(1, 2, 3)),
    "resolve_device": lambda: _checks.resolve_device("nonsense", "arg"),
    "check_activity": lambda: _checks.check_activity(X, "arg", 5),
    "check_batch_steps": lambda: _checks.check_batch_steps(torch.tensor([0, 9]), "arg", X, 5),
    "check_data": lambda: _checks.check_data(3.0, "arg"),
    "check_same_shape": lambda: _checks.check_same_shape(torch.zeros(2), "arg", X),
}


def test_every_validator_has_a_bad_call_here():
    validators = {name for name in _checks.__all__ if name[:1].islower()}
    assert validators == set(BAD_CALLS)


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_validators_raise_one_exception_type_naming_the_argument(name):
    with pytest.raises(InvalidArgumentError) as caught:
        BAD_CALLS[name]()
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, TypeError)
    named = "behavior" if name == "as_behavior" else "arg"  # as_behavior names its own fields
    assert named in str(caught.value)


def test_importing_the_checks_does_not_import_torch():
    """The data layer imports the checks; torch is imported inside the tensor checks only.
    (The package's own ``__init__`` imports torch, so the checks are loaded without it.)"""
    code = (
        "import sys, types; package = types.ModuleType('neurognocchi'); "
        "package.__path__ = [sys.argv[1]]; sys.modules['neurognocchi'] = package; "
        "import neurognocchi._checks; assert 'torch' not in sys.modules, 'torch imported'"
    )
    package_dir = str(Path(_checks.__file__).parents[1])
    subprocess.run([sys.executable, "-c", code, package_dir], check=True)
