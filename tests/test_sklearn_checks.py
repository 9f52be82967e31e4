"""scikit-learn conformance of the estimators, where it applies to 3-D input.

scikit-learn's own data-free checks run on every estimator (construction, cloning,
get_params/set_params, no validation or attributes in ``__init__``); its data checks assume 2-D
tables, so the fitted-state conventions they encode are checked here by hand on trial arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as checks

from neurognocchi import GNOCCHI, LFADS
from neurognocchi.estimators import PPCA, LatentGNOCCHI

DATA_FREE_CHECKS = (
    checks.check_parameters_default_constructible,
    checks.check_no_attributes_set_in_init,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_estimator_cloneable,
    checks.check_estimator_repr,
    checks.check_estimator_tags_renamed,
    checks.check_valid_tag_types,
    checks.check_mixin_order,
)
ESTIMATORS = (GNOCCHI, LFADS, PPCA)
TINY = {
    GNOCCHI: {"channels": 8, "n_sample_steps": 2},
    LFADS: {"generator_dim": 8, "factor_dim": 2},
    PPCA: {},
}
# Constructor arguments of the trained estimators that PPCA (no training loop) does not take.
TRAINING = {"max_epochs": 1, "batch_size": 4, "valid_fraction": 0.25}
NONSENSE = {GNOCCHI: {"batch_size": "many"}, LFADS: {"batch_size": "many"}, PPCA: {}}


def _data_free_cases():
    for estimator in (*ESTIMATORS, LatentGNOCCHI):
        for check in DATA_FREE_CHECKS:
            yield pytest.param(estimator, check, id=f"{estimator.__name__}-{check.__name__}")


@pytest.mark.parametrize(("estimator", "check"), list(_data_free_cases()))
def test_sklearn_data_free_check(estimator, check):
    check(estimator.__name__, estimator())


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_init_accepts_nonsense_and_fit_refuses_it(estimator):
    model = estimator(code_dim=-3, **NONSENSE[estimator])  # no validation in __init__
    assert model.get_params()["code_dim"] == -3
    with pytest.raises(ValueError, match=r"code_dim|batch_size"):
        model.fit(np.zeros((8, 4, 3), dtype=np.float32))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_fitted_attributes_end_in_underscore_and_clone_is_unfitted(estimator, one_torch_thread):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 8, 3)).astype(np.float32)
    training = {} if estimator is PPCA else TRAINING
    model = estimator(code_dim=2, random_state=0, verbose=False, **training)
    model.set_params(**TINY[estimator])
    before = set(vars(model))
    assert model.fit(x) is model
    added = set(vars(model)) - before
    assert added, "fit set no attribute"
    assert all(name.endswith("_") or name.startswith("_") for name in added), sorted(added)
    assert set(model.get_params()) == set(clone(model).get_params())
    with pytest.raises(NotFittedError):
        clone(model).encode(x)
