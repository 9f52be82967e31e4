"""The CEBRA code baseline: parameters, the missing extra, windows inside trials, codes, files,
and the protocol, comparison table and CLI for a model that cannot generate.

Fits are tiny (toy trials, 20-40 iterations): these tests check the wiring, not CEBRA's quality.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as checks

from neurognocchi.cli import main
from neurognocchi.data import Trials, make_toy_dataset
from neurognocchi.estimators import CEBRA, GNOCCHI, PPCA
from neurognocchi.estimators.cebra_windows import WindowSampler
from neurognocchi.evaluation import compare, evaluate, protocol_split, write_report
from neurognocchi.evaluation.comparison import seed_table, table_markdown
from neurognocchi.runs.directory import load_model

needs_cebra = pytest.mark.skipif(
    importlib.util.find_spec("cebra") is None, reason="needs the optional extra cebra"
)
TINY = {"code_dim": 4, "max_iterations": 20, "batch_size": 64, "time_offsets": 5}


@pytest.fixture(scope="module")
def trials(one_torch_thread) -> Trials:
    return make_toy_dataset(120, n_neurons=8, n_time=24, random_state=0)


@pytest.fixture(scope="module")
def split(trials):
    return protocol_split(trials, random_state=0)


@pytest.fixture(scope="module")
def fitted(trials, split) -> CEBRA:
    pytest.importorskip("cebra")
    return CEBRA(**TINY, random_state=0).fit(trials[split.train])


# ---------------------------------------------------------------------- parameters and extra
def test_parameters_are_checked_at_fit_not_in_init():
    x = np.zeros((8, 24, 3), dtype=np.float32)
    assert CEBRA(code_dim=-1, conditional="space").get_params()["conditional"] == "space"
    for params, name in [
        ({"code_dim": 0}, "code_dim"),
        ({"conditional": "space"}, "conditional"),
        ({"conditional": "time_delta", "behavior_names": "hand_x"}, "behavior_names"),
        ({"behavior_names": ("hand_x",)}, "behavior_names applies to conditional='time_delta'"),
        ({"code_dim": 4, "time_windows": 3}, "time_windows=3 must divide code_dim=4"),
        ({"num_hidden_units": 0}, "num_hidden_units"),
        ({"time_offsets": 0}, "time_offsets"),
        ({"batch_size": "many"}, "batch_size"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"distance": "manhattan"}, "distance"),
        ({"temperature": 0.0}, "temperature"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"random_state": 1.5}, "random_state"),
        ({"device": "tpu"}, "device"),
        ({"verbose": "loud"}, "verbose"),
    ]:
        with pytest.raises((ValueError, TypeError), match=name):
            CEBRA(**params).fit(x)
    with pytest.raises(TypeError):
        CEBRA(4, "time")  # keyword-only after code_dim


@needs_cebra
@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        ("no-such-model", "model_architecture must name a network"),
        ("offset1-model", "not convolutional"),
    ],
)
def test_architecture_is_checked(architecture, message):
    with pytest.raises(ValueError, match=message):
        CEBRA(model_architecture=architecture).check_params()


@pytest.mark.parametrize(
    "check",
    [
        checks.check_parameters_default_constructible,
        checks.check_no_attributes_set_in_init,
        checks.check_get_params_invariance,
        checks.check_set_params,
        checks.check_estimator_cloneable,
        checks.check_estimator_repr,
        checks.check_do_not_raise_errors_in_init_or_set_params,
    ],
)
def test_sklearn_data_free_check(check):
    check("CEBRA", CEBRA())


def test_missing_cebra_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "cebra", None)  # `import cebra` now raises ImportError
    monkeypatch.setitem(sys.modules, "cebra.models", None)
    x = np.zeros((8, 24, 3), dtype=np.float32)
    with pytest.raises(ImportError, match=r"pip install 'neurognocchi\[cebra\]'"):
        CEBRA(code_dim=4).fit(x)
    data = tmp_path / "toy.npz"
    make_toy_dataset(20, n_neurons=3, n_time=24, random_state=0).save(data)
    fit = ["fit", str(data), "--out", str(tmp_path / "run"), "--model", "cebra"]
    assert main(fit) == 2  # one line, before anything is written
    assert "neurognocchi[cebra]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------- windows inside trials
def test_time_positives_lie_later_in_the_same_trial():
    sampler = WindowSampler(n_trials=7, n_time=30, length=10, time_offsets=6, seed=0)
    trial, first = sampler.batch(500)
    ref, pos, neg = (slice(i * 500, (i + 1) * 500) for i in range(3))
    assert torch.equal(trial[pos], trial[ref]) and torch.equal(first[pos], first[ref] + 6)
    assert int(first.min()) == 0 and int(first.max()) == 30 - 10  # windows inside the trial
    assert len(torch.unique(trial[neg])) == 7  # negatives from every trial
    again = WindowSampler(n_trials=7, n_time=30, length=10, time_offsets=6, seed=0).batch(500)
    assert torch.equal(again[0], trial) and torch.equal(again[1], first)


def test_behaviour_positives_have_the_nearest_label_after_a_drawn_change():
    # Labels constant within each trial (its condition, 3 trials per condition): every label
    # change over time_offsets is 0, so a positive's label equals its reference's, and it
    # comes from any trial of the condition.
    conditions = np.repeat(np.arange(4.0), 3)  # 12 trials
    labels = np.broadcast_to(conditions[:, None, None], (12, 15, 1)).copy()  # (n, windows, 1)
    sampler = WindowSampler(12, 24, 10, 5, seed=1, labels=labels)
    trial, _ = sampler.batch(400)
    ref, pos = trial[:400].numpy(), trial[400:800].numpy()
    np.testing.assert_array_equal(conditions[pos], conditions[ref])


# ---------------------------------------------------------------------- fit and codes
@needs_cebra
def test_codes_are_mean_window_embeddings_of_each_trial_alone(fitted, trials):
    codes = fitted.encode(trials)
    assert codes.shape == (trials.n_trials, 4) and codes.dtype == np.float32
    np.testing.assert_array_equal(fitted.encode(trials), codes)
    np.testing.assert_allclose(fitted.encode(trials, batch_size=7), codes, atol=1e-6)
    np.testing.assert_allclose(fitted.encode(trials.activity[5:8]), codes[5:8], atol=1e-6)
    np.testing.assert_array_equal(fitted.transform(trials), codes)
    # The definition: the network on the z-scored trial (windows inside it), averaged.
    z = fitted.scaler_(torch.as_tensor(trials.activity[:3])).transpose(1, 2)  # (3, N, T)
    with torch.no_grad():
        per_window = fitted.model_(z)  # (3, 4, n_time - 9), unit vectors (cosine model)
    assert per_window.shape == (3, 4, 24 - 9)
    np.testing.assert_allclose(codes[:3], per_window.mean(dim=2).numpy(), atol=1e-6)
    assert np.all(np.linalg.norm(codes, axis=1) <= 1 + 1e-5)


@needs_cebra
def test_time_windows_concatenate_stretch_means(trials, split):
    model = CEBRA(**TINY | {"time_windows": 2}, random_state=0).fit(trials[split.train])
    z = model.scaler_(torch.as_tensor(trials.activity[:2])).transpose(1, 2)
    with torch.no_grad():
        per_window = model.model_(z)  # (2, 2, 15): 15 windows -> stretches of 8 and 7
    expected = torch.cat([per_window[:, :, :8].mean(2), per_window[:, :, 8:].mean(2)], dim=1)
    np.testing.assert_allclose(model.encode(trials[:2]), expected.numpy(), atol=1e-6)


@needs_cebra
def test_fit_is_seeded_and_leaves_the_global_generator_alone(fitted, trials, split):
    state = torch.get_rng_state()
    again = CEBRA(**TINY, random_state=0).fit(trials[split.train])
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(again.encode(trials), fitted.encode(trials))
    other = CEBRA(**TINY, random_state=1).fit(trials[split.train])
    assert not np.allclose(other.encode(trials), fitted.encode(trials))
    assert fitted.training_labels_ == () and len(fitted.history_) == 20
    assert all(np.isfinite(row["loss"]) for row in fitted.history_)


@needs_cebra
def test_behaviour_variant_needs_labels_and_records_them(trials, split):
    train = trials[split.train]
    model = CEBRA(**TINY, conditional="time_delta", behavior_names=("hand_x", "hand_y"))
    assert model.fit(train) is model
    assert model.training_labels_ == ("hand_x", "hand_y")
    assert model.variant == "CEBRA-Behavior (supervised)" and CEBRA().variant == "CEBRA-Time"
    with pytest.raises(ValueError, match=r"\['speed'\] are not among"):
        CEBRA(**TINY, conditional="time_delta", behavior_names=("speed",)).fit(train)
    with pytest.raises(ValueError, match="needs labels"):
        CEBRA(**TINY, conditional="time_delta").fit(train.activity)
    labels = train.behavior[..., :1]
    from_array = CEBRA(**TINY, conditional="time_delta").fit(train.activity, labels)
    assert from_array.training_labels_ == ("y0",)
    with pytest.raises(ValueError, match="needs trials with behavior"):
        CEBRA(**TINY, conditional="time_delta").fit(Trials(train.activity))


@needs_cebra
def test_short_trials_and_wrong_shapes_are_refused(fitted, trials):
    with pytest.raises(ValueError, match="trials need at least 15 bins"):
        CEBRA(**TINY).fit(np.zeros((6, 14, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="X has shape"):
        fitted.encode(np.zeros((2, 25, 8), dtype=np.float32))
    with pytest.raises(NotFittedError, match="fit"):
        clone(fitted).encode(trials)
    assert not hasattr(fitted, "generate") and fitted.output_kind == "codes"


@needs_cebra
def test_save_load_round_trip(trials, split, tmp_path):
    model = CEBRA(**TINY, conditional="time_delta", behavior_names=("hand_x",), random_state=0)
    model.fit(trials[split.train]).save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["format"] == "neurognocchi.CEBRA" and config["params"]["code_dim"] == 4
    loaded = CEBRA.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.encode(trials), model.encode(trials))
    assert loaded.get_params() == model.get_params()  # behavior_names a tuple again
    assert loaded.training_labels_ == ("hand_x",) and loaded.history_ == model.history_
    with pytest.raises(ValueError, match="GNOCCHI"):
        GNOCCHI.load(tmp_path / "model")


# ---------------------------------------------------------------------- protocol and table
@needs_cebra
def test_the_protocol_scores_only_the_codes(fitted, trials, split):
    result = evaluate(fitted, trials, split=split, n_samples=2, n_sampling_seeds=1)
    json.dumps(result, allow_nan=False)
    summary = result["summary"]
    assert result["config"]["output_kind"] == "codes" and result["generation"].startswith(
        "cannot generate"
    )
    assert np.isfinite(summary["code_r2_target_x"]) and np.isfinite(summary["heldout_error"])
    assert not any(
        key.startswith(("reconstruction", "navigation_", "unconditional")) for key in summary
    )
    assert result["floor_summaries"] == {} and result["flags"] == []


@needs_cebra
def test_compare_says_cebra_cannot_generate(fitted, trials, split, tmp_path):
    ppca = PPCA(4).fit(trials[split.train])
    behaviour = CEBRA(**TINY, conditional="time_delta", random_state=0).fit(trials[split.train])
    models = {"CEBRA-Time": fitted, "PPCA": ppca, "CEBRA-Behavior": behaviour}
    comparison = compare(models, trials, split=split, n_samples=2, n_sampling_seeds=1)
    table = comparison["table"]
    rows = {row["key"]: row["cells"] for row in table["rows"]}
    assert table["columns"][:4] == ["metric", *models]
    assert any(c.startswith("floor") for c in table["columns"])  # from PPCA, the generator
    assert rows["output_kind"][:3] == [
        "no: codes only (cannot generate)",
        "yes (samples)",
        "no: codes only (cannot generate)",
    ]
    assert rows["training_labels"][:3] == [
        "no (unsupervised)",
        "no (unsupervised)",
        "yes: hand_x, hand_y, hand_vx, hand_vy",
    ]
    for key in ("reconstruction_r2", "navigation_bias", "unintended_target_x"):
        cells = rows[key]
        assert cells[0] == cells[2] == "cannot generate" and cells[1] not in ("n/a", "—")
    assert "cannot generate" not in rows["code_r2_target_x"][:3]
    assert rows["paired_trials"][2] != "cannot generate"  # held-out errors pair any models
    assert "| generates activity | no: codes only (cannot generate) |" in comparison["markdown"]
    twice = seed_table([comparison, comparison])
    assert {row["key"]: row["cells"] for row in twice["rows"]}["reconstruction_r2"][0] == (
        "cannot generate"
    )
    assert "cannot generate" in table_markdown(twice)
    html = write_report(comparison, tmp_path / "report.html", trials=trials).read_text()
    assert "cannot generate" in html and 'id="fig-code_pcs"' in html
    alone = compare({"CEBRA-Time": fitted}, trials, split=split, n_sampling_seeds=1)
    figures = write_report(alone, tmp_path / "alone.html").read_text()
    assert 'id="fig-code_snr"' in figures and 'id="fig-reconstruction"' not in figures


@needs_cebra
def test_cli_fits_evaluates_and_refuses_to_generate(tmp_path, capsys):
    data, run = tmp_path / "toy.npz", tmp_path / "run"
    make_toy_dataset(120, n_neurons=5, n_time=24, random_state=0).save(data)
    sets = [f"{key}={value}" for key, value in TINY.items()]
    fit = ["fit", str(data), "--out", str(run), "--model", "cebra", "--quiet"]
    assert main([*fit, *[a for s in sets for a in ("--set", s)]]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["model"] == "cebra" and record["params"]["max_iterations"] == 20
    assert isinstance(load_model(run), CEBRA)
    codes = tmp_path / "codes.npy"
    assert main(["encode", str(run), str(data), "--out", str(codes)]) == 0
    assert np.load(codes).shape == (120, 4)
    capsys.readouterr()
    out = tmp_path / "samples.npz"
    assert main(["generate", str(run), "--codes", str(codes), "--out", str(out)]) == 2
    assert "cannot generate" in capsys.readouterr().err and not out.exists()
    evaluation = ["evaluate", str(run), "--data", str(data), "--out", str(tmp_path / "eval")]
    assert main([*evaluation, "--sampling-seeds", "1"]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert list(metrics["models"]) == ["CEBRA-Time"]
