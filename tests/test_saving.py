"""The model-directory format (neurognocchi._saving): versions, old layouts, safe reads."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from neurognocchi import GNOCCHI, LFADS
from neurognocchi._saving import SAVE_FORMAT_VERSION, read_format, read_model_dir
from neurognocchi.data import make_toy_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

COMMON = dict(code_dim=3, max_epochs=1, batch_size=8, verbose=False, random_state=0, device="cpu")
TINY = {
    "gnocchi": lambda: GNOCCHI(
        channels=8,
        channel_mults=(1, 2),
        encoder_dim=8,
        n_train_steps=50,
        n_sample_steps=5,
        **COMMON,
    ),
    "lfads": lambda: LFADS(encoder_dim=4, generator_dim=6, factor_dim=3, **COMMON),
}

# The version-2 layout, written out here independently of the upgrade code under test: the
# normalisation buffers had no "scaler." prefix, the GNOCCHI model kept its own copy of the
# noise schedule, and GNOCCHI's encoder width was called encoder_channels.
V2_KEYS = {"scaler.mean": "mean", "scaler.std": "std"}
V2_FIELDS = {"encoder_dim": "encoder_channels"}


@pytest.fixture(scope="module")
def toy():
    return make_toy_dataset(32, n_neurons=5, n_time=8, random_state=0)


@pytest.fixture(scope="module", params=sorted(TINY))
def fitted(request, toy):
    return TINY[request.param]().fit(toy)


def _rewrite_as_version_2(path, estimator) -> None:
    config = json.loads((path / "config.json").read_text())
    assert config["version"] == SAVE_FORMAT_VERSION == 3
    renamed = V2_FIELDS if isinstance(estimator, GNOCCHI) else {}
    for part in ("params", "model"):
        config[part] = {renamed.get(key, key): value for key, value in config[part].items()}
    config["version"] = 2
    (path / "config.json").write_text(json.dumps(config))
    state = torch.load(path / "weights.pt", weights_only=True)
    assert set(V2_KEYS) <= set(state)
    state = {V2_KEYS.get(key, key): value for key, value in state.items()}
    if isinstance(estimator, GNOCCHI):  # its values do not matter: version 3 recomputes them
        state["alphas_cumprod"] = torch.linspace(1.0, 0.0, estimator.n_train_steps)
    torch.save(state, path / "weights.pt")


def test_a_version_2_directory_loads_to_identical_codes_and_samples(fitted, toy, tmp_path):
    fitted.save(tmp_path / "model")
    _rewrite_as_version_2(tmp_path / "model", fitted)
    loaded = type(fitted).load(tmp_path / "model")
    assert loaded.get_params() == json.loads(json.dumps(fitted.get_params()))  # tuples: lists
    codes = fitted.encode(toy)
    np.testing.assert_array_equal(loaded.encode(toy), codes)
    np.testing.assert_array_equal(
        loaded.generate(codes[:2], n_samples=2, random_state=3),
        fitted.generate(codes[:2], n_samples=2, random_state=3),
    )
    np.testing.assert_array_equal(
        loaded.sample_prior(3, random_state=4), fitted.sample_prior(3, random_state=4)
    )
    assert loaded.history_ == fitted.history_


def test_read_model_dir_returns_the_saved_parts(fitted, tmp_path):
    fitted.save(tmp_path)
    assert read_format(tmp_path) == f"neurognocchi.{type(fitted).__name__}"
    saved = read_model_dir(tmp_path, estimator_name=type(fitted).__name__)
    assert saved.params == json.loads(json.dumps(fitted.get_params()))
    assert saved.model == fitted.model_.config_dict()
    assert saved.fit_seconds == fitted.fit_seconds_
    for key, value in fitted.model_.state_dict().items():
        assert torch.equal(saved.state[key], value)


def test_missing_or_corrupt_config(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        read_format(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_format(tmp_path)
    with pytest.raises(ValueError, match="not valid JSON"):
        GNOCCHI.load(tmp_path)


class _Payload:
    """Unpickling this object calls ``os.mkdir(marker)``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_weights_that_hold_objects_are_refused_unread(fitted, tmp_path):
    fitted.save(tmp_path)
    marker = tmp_path / "unpickled"
    torch.save({"weight": _Payload(str(marker))}, tmp_path / "weights.pt")
    with pytest.raises(pickle.UnpicklingError):
        type(fitted).load(tmp_path)
    assert not marker.exists()
