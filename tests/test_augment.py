"""The decoder augmentation experiment (issue 19, item 2): which trials enter which training
set (asserted on indices and on the decoders' training rows), the decoders, and
`neurognocchi augment` end to end with its user errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurognocchi.cli import main
from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI, PPCA
from neurognocchi.evaluation import protocol_split
from neurognocchi.experiments import augment as augment_module
from neurognocchi.experiments.augment import (
    augment_decoder,
    augment_markdown,
    combine_results,
    heldout_halves,
)
from neurognocchi.experiments.decoders import fit_decoder, scores

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "max_epochs": 2,
    "batch_size": 16,
    "channels": 8,
    "channel_mults": (1, 2),
    "encoder_dim": 8,
    "n_train_steps": 50,
    "n_sample_steps": 4,
    "verbose": False,
    "random_state": 0,
}
TINY_CLI = [
    "--set",
    "max_epochs=1",
    "--set",
    "channels=8",
    "--set",
    "code_dim=3",
    "--set",
    "encoder_dim=8",
    "--set",
    "channel_mults=[1, 2]",
    "--set",
    "n_sample_steps=3",
    "--quiet",
]


@pytest.fixture(scope="module")
def trials():
    return make_toy_dataset(160, n_neurons=10, n_time=12, random_state=0)


@pytest.fixture(scope="module")
def models(trials):
    train = trials[protocol_split(trials, random_state=0).train]
    return {
        "GNOCCHI": GNOCCHI(3, joint_behavior=True, **TINY).fit(train),
        "PPCA": PPCA(3, random_state=0).fit(train),
    }


def test_heldout_halves_split_every_heldout_condition(trials):
    split = protocol_split(trials, random_state=0)
    bound, test = heldout_halves(trials, split, random_state=0)
    assert not set(bound) & set(test)
    assert sorted([*bound, *test]) == sorted(split.heldout.tolist())
    conditions = trials.info("condition")
    assert set(conditions[bound]) == set(conditions[test]) == set(conditions[split.heldout])


def test_no_real_heldout_trial_enters_a_training_set_but_the_bounds(trials, models, monkeypatch):
    """Indices, and every row each decoder is trained on: test trials never; the other
    held-out half only in the upper bound's training set."""
    fitted_on = []
    original = augment_module.fit_decoder

    def spy(kind, activity, positions, *, random_state=0):
        fitted_on.append(np.asarray(activity))
        return original(kind, activity, positions, random_state=random_state)

    monkeypatch.setattr(augment_module, "fit_decoder", spy)
    result = augment_decoder(models, trials, seeds=(0, 1), multiples=(1,), decoders=("ridge",))
    index, split = result["indices"], protocol_split(trials, random_state=0)
    heldout = set(split.heldout.tolist())
    assert not heldout & set(index["train"]) and not heldout & set(index["naive_sources"])
    assert set(index["naive_sources"]) <= set(index["train"])
    assert set(index["bound_train"]) | set(index["test"]) == heldout
    assert not set(index["bound_train"]) & set(index["test"])

    def rows(ids):
        return {np.asarray(trials.activity[i], dtype=np.float64).tobytes() for i in ids}

    test_rows, bound_rows = rows(index["test"]), rows(index["bound_train"])
    assert len(fitted_on) == 2 * 5  # seeds x (real, bound, two models, naive)
    for n_call, activity in enumerate(fitted_on):
        seen = {trial.tobytes() for trial in activity.astype(np.float64)}
        assert not seen & test_rows
        assert bool(seen & bound_rows) == (n_call % 5 == 1)  # only the bound's second call
    assert result["labels"] == {"GNOCCHI": "generated", "PPCA": "interpolated"}
    assert models["GNOCCHI"].variant == "GNOCCHI + behaviour"  # its name in CLI tables
    json.dumps(result, allow_nan=False)
    table = augment_markdown(result)
    assert table.count("\n") == 1 + 5 and "| + GNOCCHI | 1× |" in table


def test_no_heldout_test_trial_moves_any_training_set(trials, models, monkeypatch):
    """Scramble the real held-out test trials (activity, spikes, behaviour, start positions):
    every decoder is trained on bit-identical data, and only the scores change."""
    captured = {}
    original = augment_module.fit_decoder

    def spy_for(key):
        def spy(kind, activity, positions, *, random_state=0):
            captured.setdefault(key, []).append((np.asarray(activity), np.asarray(positions)))
            return original(kind, activity, positions, random_state=random_state)

        return spy

    options = {"seeds": (0,), "multiples": (1,), "decoders": ("ridge",)}
    monkeypatch.setattr(augment_module, "fit_decoder", spy_for("real"))
    first = augment_decoder(models, trials, **options)
    test = np.asarray(first["indices"]["test"])
    rng = np.random.default_rng(5)
    activity, behavior = trials.activity.copy(), trials.behavior.copy()
    activity[test] = rng.permutation(activity[test].ravel()).reshape(activity[test].shape)
    behavior[test] += rng.normal(size=behavior[test].shape)
    info = {key: np.array(trials.info(key)) for key in trials.trial_info}
    for key in ("start_x", "start_y"):
        info[key][test] += rng.normal(size=len(test))
    scrambled = trials.replace(
        activity=activity, behavior=behavior, trial_info=info, spikes=None, truth=None
    )
    monkeypatch.setattr(augment_module, "fit_decoder", spy_for("scrambled"))
    second = augment_decoder(models, scrambled, **options)
    assert len(captured["real"]) == len(captured["scrambled"]) == 5
    for (x, y), (x2, y2) in zip(captured["real"], captured["scrambled"], strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert first["rows"][0]["position_r2"] != second["rows"][0]["position_r2"]


def test_one_seed_gives_json_with_no_sd_and_results_combine(trials, models):
    result = augment_decoder(
        {"PPCA": models["PPCA"]}, trials, seeds=(3,), multiples=(1,), decoders=("ridge",)
    )
    json.dumps(result, allow_nan=False)
    assert result["rows"][0]["position_r2"]["sd"] is None
    combined = combine_results([result, result])  # e.g. one per training seed
    row = combined["rows"][0]
    assert row["position_r2"]["values"] == 2 * result["rows"][0]["position_r2"]["values"]
    assert row["position_r2"]["sd"] == 0.0 and combined["settings"]["n_training_seeds"] == 2
    assert combined["gap_closed"] == result["gap_closed"]
    paired = {(r["set"], r["decoder"], r["multiple"]): r for r in combined["paired_rows"]}
    own = {(r["set"], r["decoder"], r["multiple"]): r for r in result["rows"]}
    real = own[("real held-in only", "ridge", None)]["position_r2"]["mean"]
    for key, row in paired.items():  # each set minus (i) of the same seed
        assert row["position_r2"]["mean"] == pytest.approx(own[key]["position_r2"]["mean"] - real)
    assert "real held-in only" not in {key[0] for key in paired}
    assert "| + PPCA | 1× | " in augment_markdown(combined, paired=True)
    with pytest.raises(ValueError, match="multiples"):
        augment_decoder(models, trials, multiples=(1, 1))


def test_decoders_recover_a_linear_map_and_score_it():
    rng = np.random.default_rng(0)
    activity = rng.normal(size=(60, 10, 5))
    positions = activity @ rng.normal(size=(5, 2))
    for kind in ("ridge", "gru"):
        decoder = fit_decoder(kind, activity[:40], positions[:40], random_state=0)
        numbers = scores(decoder, activity[40:], positions[40:], window_bins=2)
        assert numbers["position_r2"] > (0.99 if kind == "ridge" else 0.5), kind
    perfect = fit_decoder("ridge", activity, positions)
    assert scores(perfect, activity, positions, window_bins=2)["endpoint_error"] < 1e-3
    with pytest.raises(ValueError, match="decoder"):
        fit_decoder("lstm", activity, positions)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("augment")
    data = root / "toy.npz"
    small = ["--n-trials", "120", "--n-neurons", "6", "--n-time", "12"]
    assert main(["synth", "toy", "--out", str(data), *small]) == 0
    for name, extra in (("gnocchi", ["--set", "joint_behavior=true"]), ("ppca", [])):
        args = ["fit", str(data), "--out", str(root / name), "--model", name]
        assert main([*args, *(TINY_CLI + extra if name == "gnocchi" else ["--quiet"])]) == 0
    return root


def test_cli_runs_the_experiment_and_writes_json_and_table(runs, tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "augment",
        str(runs / "gnocchi"),
        str(runs / "ppca"),
        "--data",
        str(runs / "toy.npz"),
        "--out",
        str(out),
        "--seeds",
        "0",
        "1",
        "--multiples",
        "1",
    ]
    args += ["--decoders", "ridge"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| training set |" in printed and "gap" in printed
    result = json.loads((out / "augment.json").read_text())
    assert result["settings"]["seeds"] == [0, 1]
    assert result["labels"]["GNOCCHI + behaviour"] == "generated"
    assert (out / "augment.md").read_text().startswith("| training set |")
    assert main(args) == 2  # outputs exist
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        (["--seeds", "1", "1"], "--seeds"),
        (["--multiples", "0"], "--multiples"),
        (["--multiples", "2", "2"], "--multiples"),
        (["--run", "absent"], "not a run directory"),
        (["--data", "other"], "another data file"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(
    runs, tmp_path, capsys, change, message
):
    out = tmp_path / "out"
    data, run = runs / "toy.npz", runs / "gnocchi"
    options = []
    if change[0] == "--run":
        run = tmp_path / "absent"
    elif change[0] == "--data":
        data = tmp_path / "other.npz"
        make_toy_dataset(120, n_neurons=6, n_time=12, random_state=9).save(data)
    else:
        options = change
    assert main(["augment", str(run), "--data", str(data), "--out", str(out), *options]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurognocchi augment: error:"), lines
    assert message in lines[0]
    assert not out.exists()
