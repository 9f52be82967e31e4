"""The model registry: the estimators a run directory, a study or the command line can name
(``"gnocchi"``, ``"lfads"``, ...), and :func:`build_estimator`, which builds one from a name and
parameters read from a file, checked before anything is fitted or written.
"""

from __future__ import annotations

from neurognocchi._checks import InvalidArgumentError, check_choice
from neurognocchi.estimators import CEBRA, GNOCCHI, LFADS, PPCA, LatentGNOCCHI
from neurognocchi.estimators.parameters import (
    CEBRA_PARAMETERS,
    GNOCCHI_PARAMETERS,
    LATENT_PARAMETERS,
    LFADS_PARAMETERS,
    PPCA_PARAMETERS,
)

__all__ = ["MODELS", "PARAMETERS", "build_estimator"]

MODELS = {
    "gnocchi": GNOCCHI,
    "latent-gnocchi": LatentGNOCCHI,
    "lfads": LFADS,
    "ppca": PPCA,
    "cebra": CEBRA,
}  # --model choices

#: Each model's parameter definitions (:mod:`neurognocchi.estimators.parameters`), by its name.
PARAMETERS = {
    "gnocchi": GNOCCHI_PARAMETERS,
    "latent-gnocchi": LATENT_PARAMETERS,
    "lfads": LFADS_PARAMETERS,
    "ppca": PPCA_PARAMETERS,
    "cebra": CEBRA_PARAMETERS,
}


def build_estimator(model: str, params: dict):
    """An unfitted estimator of kind ``model`` (a key of MODELS) with ``params``, checked
    (unknown parameter names are an error that lists the known ones; invalid values are an
    error naming the parameter)."""
    check_choice(model, "--model", sorted(MODELS))
    cls = MODELS[model]
    known = cls().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InvalidArgumentError(
            f"unknown {cls.__name__} parameter(s) {unknown}; known: {', '.join(sorted(known))}"
        )
    for name in ("channel_mults", "behavior_names"):  # JSON lists -> the tuples they stand for
        if isinstance(params.get(name), list):
            params = params | {name: tuple(params[name])}
    estimator = cls(**params)
    estimator.check_params()
    return estimator
