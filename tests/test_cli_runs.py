"""`neurognocchi fit / encode / generate` end to end at tiny sizes, and their user errors."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from neurognocchi.cli import main
from neurognocchi.cli.params import parse_overrides
from neurognocchi.data import load_trials
from neurognocchi.evaluation import protocol_split
from neurognocchi.runs.directory import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_GNOCCHI = ["--set", "max_epochs=2", "--set", "channels=8", "--set", "code_dim=3"]
TINY_GNOCCHI += ["--set", "encoder_dim=8", "--set", "channel_mults=[1, 2]", "--quiet"]


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"neurognocchi {command}: error:"), err
    return lines[0]


def snapshot(directory) -> dict:
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A toy data file and one fitted GNOCCHI run directory, shared by the tests below."""
    root = tmp_path_factory.mktemp("cli")
    data = root / "toy.npz"
    small = ["--n-trials", "50", "--n-neurons", "6", "--n-time", "12"]
    assert main(["synth", "toy", "--out", str(data), *small]) == 0
    assert main(["fit", str(data), "--out", str(root / "run"), *TINY_GNOCCHI]) == 0
    return root


def test_fit_writes_a_complete_run_directory(workdir):
    run = workdir / "run"
    for name in ("config.json", "weights.pt", "history.json", "history.csv", "run.json"):
        assert (run / name).is_file(), name
    assert (run / "checkpoints" / "last.pt").is_file()
    assert "fitting GNOCCHI" in (run / "log.txt").read_text()
    record = json.loads((run / "run.json").read_text())
    assert record["model"] == "gnocchi" and record["fit_on"] == "train"
    assert record["params"]["code_dim"] == 3 and record["params"]["random_state"] == 0
    # Fitted on the protocol's held-in training trials only: never validation or held-out ones.
    trials = load_trials(workdir / "toy.npz")
    split = protocol_split(trials, random_state=0)
    assert record["fit_trials"] == split.train.tolist()
    assert [row["epoch"] for row in json.loads((run / "history.json").read_text())] == [1, 2]
    assert load_model(run).model_.config.code_dim == 3


def test_encode_then_generate_from_codes_and_prior(workdir, capsys):
    run, data = workdir / "run", workdir / "toy.npz"
    codes_path, out = workdir / "codes.npy", workdir / "gen.npz"
    assert main(["encode", str(run), str(data), "--out", str(codes_path)]) == 0
    codes = np.load(codes_path)
    assert codes.shape == (50, 3)
    np.testing.assert_allclose(codes, load_model(run).encode(load_trials(data)), rtol=1e-5)
    args = ["generate", str(run), "--codes", str(codes_path), "--out", str(out)]
    assert main([*args, "--n-samples", "2", "--n-steps", "4", "--seed", "3"]) == 0
    with np.load(out) as saved:
        assert saved["samples"].shape == (50, 2, 12, 6)
        np.testing.assert_array_equal(saved["codes"], codes)
        first = saved["samples"]
    assert main([*args, "--n-samples", "2", "--n-steps", "4", "--seed", "3", "--overwrite"]) == 0
    with np.load(out) as saved:  # same seed, same samples
        np.testing.assert_array_equal(saved["samples"], first)
    assert (
        main(
            [
                *args,
                "--n-samples",
                "2",
                "--n-steps",
                "4",
                "--seed",
                "3",
                "--overwrite",
                "--method",
                "ddim",
            ]
        )
        == 0
    )
    with np.load(out) as saved:  # another sampler, other samples of the same codes
        expected = load_model(run).generate(
            codes, n_samples=2, n_steps=4, random_state=3, method="ddim"
        )
        np.testing.assert_array_equal(saved["samples"], expected)
        assert not np.array_equal(saved["samples"], first)
    prior = workdir / "prior.npz"
    assert main(["generate", str(run), "--prior", "5", "--out", str(prior), "--n-steps", "3"]) == 0
    with np.load(prior) as saved:
        assert saved["samples"].shape == (5, 1, 12, 6) and np.isfinite(saved["samples"]).all()
    assert "saved samples" in capsys.readouterr().out


def test_resume_continues_with_a_longer_budget(workdir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(workdir / "run", run)
    data = str(workdir / "toy.npz")
    assert main(["fit", data, "--out", str(run), "--resume", "--set", "max_epochs=3"]) == 0
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert json.loads((run / "run.json").read_text())["params"]["max_epochs"] == 3
    assert "resuming GNOCCHI" in (run / "log.txt").read_text()


def test_fit_lfads_on_all_trials(workdir, tmp_path):
    run = tmp_path / "lfads"
    args = ["fit", str(workdir / "toy.npz"), "--out", str(run), "--model", "lfads"]
    assert main([*args, "--fit-on", "all", "--set", "max_epochs=1", "--quiet"]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["model"] == "lfads" and len(record["fit_trials"]) == 50
    assert type(load_model(run)).__name__ == "LFADS"


def test_config_file_and_overrides_combine(workdir, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"code_dim": 2, "max_epochs": 1, "channels": 8}))
    run = tmp_path / "run"
    args = ["fit", str(workdir / "toy.npz"), "--out", str(run), "--config", str(config)]
    assert main([*args, "--set", "code_dim=4", "--set", "channel_mults=[1]", "--quiet"]) == 0
    params = json.loads((run / "run.json").read_text())["params"]
    assert (params["code_dim"], params["max_epochs"], params["channels"]) == (4, 1, 8)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "nonsense=1"], "unknown GNOCCHI parameter(s) ['nonsense']"),
        (["--set", "code_dim"], "--set expects key=value"),
        (["--set", "code_dim=-1"], "code_dim"),
        (["--config", "missing.json"], "--config: no such file"),
        (["--resume", "--overwrite"], "either --resume or --overwrite"),
    ],
)
def test_fit_rejects_bad_arguments_before_touching_disk(workdir, tmp_path, capsys, extra, message):
    run = tmp_path / "run"
    assert main(["fit", str(workdir / "toy.npz"), "--out", str(run), *extra]) == 2
    assert message in one_line_error(capsys, "fit")
    assert not run.exists()


def test_fit_refuses_an_existing_run_and_changes_nothing(workdir, capsys):
    run = workdir / "run"
    before = snapshot(run)
    assert main(["fit", str(workdir / "toy.npz"), "--out", str(run), "--set", "max_epochs=1"]) == 2
    assert "--resume" in one_line_error(capsys, "fit")
    args = ["fit", str(workdir / "toy.npz"), "--out", str(run), "--resume", "--set", "code_dim=5"]
    assert main(args) == 2
    assert "code_dim" in one_line_error(capsys, "fit")
    assert snapshot(run) == before


def test_fit_overwrite_refuses_a_directory_that_is_not_a_run(workdir, tmp_path, capsys):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    args = ["fit", str(workdir / "toy.npz"), "--out", str(precious), "--overwrite"]
    assert main(args) == 2
    assert "not a neurognocchi run directory" in one_line_error(capsys, "fit")
    assert (precious / "chapter1.tex").read_text() == "years of work"


def test_resume_refuses_a_run_written_by_0_1_and_changes_nothing(workdir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(workdir / "run", run)
    record = json.loads((run / "run.json").read_text())
    record["versions"]["neurognocchi"] = "0.1.0.dev0"
    (run / "run.json").write_text(json.dumps(record))
    before = snapshot(run)
    data = str(workdir / "toy.npz")
    assert main(["fit", data, "--out", str(run), "--resume", "--set", "max_epochs=3"]) == 2
    assert "written by neurognocchi 0.1.0.dev0" in one_line_error(capsys, "fit")
    assert snapshot(run) == before
    assert type(load_model(run)).__name__ == "GNOCCHI"  # its finished model still loads


def test_resume_needs_an_earlier_run(workdir, tmp_path, capsys):
    assert main(["fit", str(workdir / "toy.npz"), "--out", str(tmp_path / "x"), "--resume"]) == 2
    assert "no earlier run" in one_line_error(capsys, "fit")


def test_generate_and_encode_errors(workdir, tmp_path, capsys):
    run = str(workdir / "run")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((4, 7)))
    out = str(tmp_path / "g.npz")
    cases = [
        (["generate", run, "--codes", str(wrong), "--out", out], "(n_codes, 3)"),
        (["generate", run, "--prior", "0", "--out", str(tmp_path / "g.npz")], "n must be"),
        (["generate", run, "--prior", "2", "--out", str(tmp_path / "g.txt")], ".npz"),
        (
            ["generate", run, "--prior", "2", "--n-steps", "0", "--out", str(tmp_path / "g.npz")],
            "n_steps",
        ),
        (
            ["generate", str(tmp_path), "--prior", "2", "--out", str(tmp_path / "g.npz")],
            "no fitted model",
        ),
        (
            ["encode", run, str(tmp_path / "none.npz"), "--out", str(tmp_path / "c.npy")],
            "no such file",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in one_line_error(capsys, argv[0]), argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wrong.npy"]


def test_parse_overrides_reads_json_values():
    parsed = parse_overrides(["a=1", "b=0.5", "c=true", "d=[1, 2]", "e=conv", "f=null"])
    assert parsed == {"a": 1, "b": 0.5, "c": True, "d": [1, 2], "e": "conv", "f": None}


def test_evaluate_writes_the_api_numbers_and_a_report(workdir, tmp_path, capsys):
    from neurognocchi.evaluation import evaluate

    data, lfads = workdir / "toy.npz", tmp_path / "lfads"
    args = ["fit", str(data), "--out", str(lfads), "--model", "lfads", "--quiet"]
    assert main([*args, "--set", "max_epochs=1", "--set", "code_dim=3"]) == 0
    out = tmp_path / "eval"
    runs = [str(workdir / "run"), str(lfads), "--data", str(data)]
    quick = ["--n-samples", "2", "--sampling-seeds", "1"]
    assert main(["evaluate", *runs, "--out", str(out), *quick]) == 0
    assert "| metric | GNOCCHI | LFADS |" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert "<table" in (out / "report.html").read_text()
    direct = evaluate(
        load_model(workdir / "run"),
        load_trials(data),
        random_state=0,
        n_samples=2,
        n_sampling_seeds=1,
    )
    timing = {"fit_seconds", "evaluate_seconds"}
    cli_summary = metrics["models"]["GNOCCHI"]["summary"]
    assert {k: v for k, v in cli_summary.items() if k not in timing} == {
        k: v for k, v in direct["summary"].items() if k not in timing
    }
    # Outputs are never silently replaced.
    assert main(["evaluate", *runs, "--out", str(out), *quick]) == 2
    assert "--overwrite" in one_line_error(capsys, "evaluate")
    # Several evaluations (here the same one twice) combine into one mean ± s.d. table.
    table = tmp_path / "table.md"
    assert (
        main(["table", str(out / "metrics.json"), str(out / "metrics.json"), "--out", str(table)])
        == 0
    )
    text = table.read_text()
    assert text == capsys.readouterr().out and "over 2 evaluations" in text
    assert "| held-out target R² | " in text and " ± 0.000 |" in text
    assert main(["table", str(tmp_path / "missing.json")]) == 2
    assert "metrics" in one_line_error(capsys, "table")


def test_evaluate_refuses_runs_fitted_on_scored_trials(workdir, tmp_path, capsys):
    data, run = workdir / "toy.npz", tmp_path / "all"
    args = ["fit", str(data), "--out", str(run), "--fit-on", "all", *TINY_GNOCCHI]
    assert main(args) == 0
    out = tmp_path / "eval"
    assert main(["evaluate", str(run), "--data", str(data), "--out", str(out)]) == 2
    assert "--fit-on train" in one_line_error(capsys, "evaluate")
    other = tmp_path / "other.npz"
    assert (
        main(
            [
                "synth",
                "toy",
                "--out",
                str(other),
                "--n-trials",
                "50",
                "--n-neurons",
                "6",
                "--n-time",
                "12",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    assert main(["evaluate", str(workdir / "run"), "--data", str(other), "--out", str(out)]) == 2
    assert "another data file" in one_line_error(capsys, "evaluate")
    assert not out.exists()


def test_fit_indices_takes_random_state_not_the_old_seed_name(workdir):
    from neurognocchi.runs.directory import fit_indices

    trials = load_trials(workdir / "toy.npz")
    expected = protocol_split(trials, random_state=4).train
    np.testing.assert_array_equal(fit_indices(trials, "train", random_state=4), expected)
    with pytest.raises(TypeError, match="'seed'"):  # renamed random_state in 0.2, gone in 0.3
        fit_indices(trials, "train", seed=4)
    assert len(fit_indices(trials, "all")) == trials.n_trials
    with pytest.raises(ValueError, match="--fit-on"):
        fit_indices(trials, "valid")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "must hold a JSON object"),
        (b"{", "is not valid JSON"),
        (b"\xff\xfe\x00", "is not a text (JSON) file"),
    ],
)
def test_config_files_that_are_not_json_objects_are_named(tmp_path, content, message):
    from neurognocchi.cli.params import read_config
    from neurognocchi.study import read_study_config

    path = tmp_path / "c.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"--config: .*{re.escape(message)}"):
        read_config(path)
    with pytest.raises(ValueError, match=f"CONFIG: .*{re.escape(message)}"):
        read_study_config(path)
