"""Each parameter is defined once (neurognocchi.estimators.parameters, the configs' fields): the
estimators' signatures, get_params, docstrings and checks, the configs, the sampler layers, the
command line's `params` and docs/parameters.md all agree with that definition."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
from sklearn.base import clone

from neurognocchi import GNOCCHI, LFADS, LatentGNOCCHI
from neurognocchi._params import Parameter, table
from neurognocchi.cli import main
from neurognocchi.diffusion import DEFAULT_SAMPLER, sample
from neurognocchi.diffusion.sampling import resolve_sampler
from neurognocchi.diffusion.scheduler import Scheduler
from neurognocchi.estimators.parameters import (
    GNOCCHI_MODEL,
    LATENT_AUTOENCODER,
    LFADS_MODEL,
    TRAINING,
)
from neurognocchi.models import GnocchiModel
from neurognocchi.models.config import GnocchiConfig, LfadsConfig, PoissonAutoencoderConfig
from neurognocchi.runs.registry import MODELS, PARAMETERS
from neurognocchi.training import TrainConfig

DOCS = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
ESTIMATORS = sorted(MODELS)


def _printed(argv, capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def _defaults(cls) -> dict:
    return {
        name: parameter.default for name, parameter in inspect.signature(cls).parameters.items()
    }


@pytest.mark.parametrize("model", ESTIMATORS)
def test_the_signature_is_the_table_in_order_with_its_defaults(model):
    cls, parameters = MODELS[model], PARAMETERS[model]
    signature = _defaults(cls)
    assert list(signature) == list(parameters)
    for name, parameter in parameters.items():
        # repr, not ==: 1 and 1.0 (or False and 0) are different defaults here
        assert repr(signature[name]) == repr(parameter.default), name


@pytest.mark.parametrize("model", ESTIMATORS)
def test_get_params_and_clone_give_back_the_defaults(model):
    estimator = MODELS[model]()
    params = estimator.get_params()
    assert params == {name: p.default for name, p in PARAMETERS[model].items()}
    assert clone(estimator).get_params() == params


@pytest.mark.parametrize("model", ESTIMATORS)
def test_the_docstring_documents_every_parameter_from_its_definition(model):
    doc = " ".join(MODELS[model].__doc__.split())  # lines rewrapped as one
    for name, parameter in PARAMETERS[model].items():
        assert f" {name} : {parameter.type} " in doc, name
        assert f"Default ``{parameter.default!r}``" in doc


@pytest.mark.parametrize("model", ESTIMATORS)
def test_check_params_runs_each_parameters_own_check(model):
    checked = [name for name, p in PARAMETERS[model].items() if p.check is not None]
    assert len(checked) >= len(PARAMETERS[model]) - 3  # all but free-form settings
    for name in checked:
        with pytest.raises(ValueError, match=name):
            MODELS[model](**{name: object()}).check_params()


def test_model_parameters_are_the_config_fields_with_the_configs_defaults():
    # Every setting of a config that is not read from the data is a parameter of the
    # estimator, under its name there (or the field it sets), with the config's default.
    from_data = {"n_neurons", "n_time", "bin_size_s", "behavior_names", "heldout_neurons"}
    fixed = {
        LfadsConfig: {"likelihood", "ic_prior_var", "ic_post_var_min"},
        PoissonAutoencoderConfig: {"kernel_size"},
    }
    for config, parameters in [
        (GnocchiConfig, GNOCCHI_MODEL),
        (LfadsConfig, LFADS_MODEL),
        (PoissonAutoencoderConfig, LATENT_AUTOENCODER),
    ]:
        fields = {f.name: f.default for f in dataclasses.fields(config)}
        taken = {p.field or p.name: p.default for p in parameters}
        assert set(taken) == set(fields) - from_data - fixed.get(config, set()), config
        assert all(repr(fields[name]) == repr(default) for name, default in taken.items())


def test_the_estimators_defaults_build_the_configs_defaults():
    gnocchi = GnocchiConfig.from_dict(GNOCCHI()._model_config(n_time=2, n_neurons=1))
    assert gnocchi == GnocchiConfig(n_neurons=1, n_time=2)
    assert GNOCCHI()._train_config(0) == TrainConfig()
    lfads = LfadsConfig.from_dict(LFADS()._model_config(n_time=2, n_neurons=1))
    assert lfads == LfadsConfig(n_neurons=1, n_time=2, heldout_neurons=())


def test_a_default_unlike_the_configs_says_why():
    for model in ESTIMATORS:
        for name in TRAINING:
            parameter = PARAMETERS[model].get(name)
            if parameter is None:
                continue
            field = {f.name: f.default for f in dataclasses.fields(TrainConfig)}[name]
            if repr(parameter.default) != repr(field):
                assert parameter.reason, f"{model}.{name}"
    assert LFADS().batch_size == 32 and "toy data" in PARAMETERS["lfads"]["batch_size"].reason


def test_every_layer_samples_with_the_one_default_sampler():
    assert GNOCCHI().sampler == LatentGNOCCHI().sampler == DEFAULT_SAMPLER.method == "unipc"
    assert GNOCCHI().n_sample_steps == DEFAULT_SAMPLER.n_steps == 10
    for function in (sample, GnocchiModel.generate):
        defaults = inspect.signature(function).parameters
        assert defaults["method"].default is None and defaults["n_steps"].default is None
    scheduler = Scheduler()
    assert resolve_sampler(scheduler, None, None) == ("unipc", 10)
    assert resolve_sampler(scheduler, "ddpm", None) == ("ddpm", scheduler.n_train_steps)


def test_settings_whose_default_changed_read_old_records_as_they_were_made():
    assert GNOCCHI.recorded_params({}) == {"encoder_pooling": "mean_max", "sampler": "ddim"}
    assert GNOCCHI.recorded_params({"sampler": "unipc"})["sampler"] == "unipc"
    assert LFADS.recorded_params({}) == {}
    old = GnocchiConfig.from_dict({"n_neurons": 2, "n_time": 3})
    assert old.encoder_pooling == "mean_max"
    assert GnocchiConfig(n_neurons=2, n_time=3).encoder_pooling == GNOCCHI().encoder_pooling


def test_a_table_refuses_a_parameter_defined_twice():
    one = Parameter("x", 1, "A setting.")
    with pytest.raises(ValueError, match="defined twice"):
        table(one, [one])


def test_the_command_line_lists_each_parameter_with_its_default(capsys):
    for model in ESTIMATORS:
        out = _printed(["params", "--model", model], capsys)
        lines = out.splitlines()[1:]
        assert [line.split()[0] for line in lines] == list(PARAMETERS[model])
        for line, parameter in zip(lines, PARAMETERS[model].values(), strict=True):
            assert line.split(maxsplit=1)[1].startswith(repr(parameter.default))


def test_docs_parameters_md_is_the_generated_table(capsys):
    out = _printed(["params", "--markdown"], capsys)
    text = DOCS.read_text()
    assert text[text.index("## ") :] == out, (
        "docs/parameters.md is stale: neurognocchi params --markdown regenerates its tables"
    )
