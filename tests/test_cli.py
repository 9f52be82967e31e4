"""The ``neurognocchi`` command: synth, info, demo; user errors exit 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurognocchi
from neurognocchi.cli import main
from neurognocchi.data import load_trials, make_toy_dataset

SMALL = ["--n-trials", "30", "--n-neurons", "5", "--n-time", "10"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synth(out, *extra) -> int:
    return main(["synth", "toy", "--out", str(out), *SMALL, *extra])


def assert_one_line_error(stderr: str, command: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"neurognocchi {command}: error:")
    assert "Traceback" not in stderr


# ---------------------------------------------------------------------- synth
def test_synth_toy_writes_a_loadable_file(tmp_path, capsys):
    out = tmp_path / "t.npz"
    assert synth(out) == 0
    trials = load_trials(out)
    assert (trials.n_trials, trials.n_time, trials.n_neurons) == (30, 10, 5)
    assert trials.spikes is not None and trials.truth is not None
    assert "target_x" in trials.trial_info
    captured = capsys.readouterr()
    assert "saved" in captured.out and str(out) in captured.out
    assert captured.err == ""


def test_synth_refuses_to_overwrite_without_flag(tmp_path, capsys):
    out = tmp_path / "t.npz"
    assert synth(out) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert synth(out, "--seed", "1") == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, "synth")
    assert "--overwrite" in captured.err
    assert out.read_bytes() == before


def test_synth_overwrite_replaces_the_file(tmp_path):
    out = tmp_path / "t.npz"
    assert synth(out) == 0
    first = load_trials(out).activity
    assert synth(out, "--seed", "1", "--overwrite") == 0
    assert not np.array_equal(load_trials(out).activity, first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npz"]  # no temp files


@pytest.mark.parametrize("name", ["t.npy", "t.txt", "t"])
def test_synth_wrong_suffix_is_a_user_error(tmp_path, capsys, name):
    assert synth(tmp_path / name) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, "synth")
    assert ".npz" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_synth_bad_sizes_are_a_user_error(tmp_path, capsys):
    code = main(["synth", "toy", "--out", str(tmp_path / "t.npz"), "--n-trials", "0"])
    assert code == 2
    assert_one_line_error(capsys.readouterr().err, "synth")
    assert list(tmp_path.iterdir()) == []


def test_synth_out_is_a_directory_is_a_user_error(tmp_path, capsys):
    target = tmp_path / "t.npz"
    target.mkdir()
    assert synth(target, "--overwrite") == 2
    assert_one_line_error(capsys.readouterr().err, "synth")
    assert target.is_dir()


# ---------------------------------------------------------------------- info
def test_info_prints_the_trials_repr(tmp_path, capsys):
    out = tmp_path / "t.npz"
    synth(out)
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == repr(load_trials(out)) + "\n"
    assert "n_trials=30" in captured.out


def test_info_reads_plain_npy_arrays(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.ones((4, 3, 2)))
    assert main(["info", str(tmp_path / "a.npy")]) == 0
    assert "n_trials=4, n_time=3, n_neurons=2" in capsys.readouterr().out


def test_info_missing_file_is_a_user_error(tmp_path, capsys):
    assert main(["info", str(tmp_path / "absent.npz")]) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, "info")
    assert "absent.npz" in captured.err


def test_info_corrupt_file_is_a_user_error(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["info", str(bad)]) == 2
    assert_one_line_error(capsys.readouterr().err, "info")


# ---------------------------------------------------------------------- help and parsing
@pytest.mark.parametrize(
    "argv", [[], ["synth"], ["synth", "toy"], ["demo"], ["info"]], ids=" ".join
)
def test_help_exits_zero(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    assert "usage: neurognocchi" in capsys.readouterr().out


def test_missing_subcommand_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_python_dash_m_neurognocchi_help():
    package_dir = Path(neurognocchi.__file__).parent
    if not (package_dir / "__main__.py").exists():
        pytest.skip("neurognocchi has no __main__.py")
    result = subprocess.run(
        [sys.executable, "-m", "neurognocchi", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "usage" in result.stdout


# ---------------------------------------------------------------------- demo
def test_demo_refuses_existing_results(tmp_path, capsys):
    report = tmp_path / "report.html"
    report.write_text("mine")
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, "demo")
    assert "--overwrite" in captured.err
    assert report.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


TINY_DEMO = {
    "data": {"n_trials": 50, "n_neurons": 6, "n_time": 60, "bin_size_s": 0.04},
    "gnocchi": {
        "code_dim": 3,
        "max_epochs": 1,
        "channels": 8,
        "encoder_dim": 8,
        "channel_mults": [1],
        "n_sample_steps": 2,
    },
    "lfads": {
        "code_dim": 3,
        "max_epochs": 1,
        "encoder_dim": 8,
        "generator_dim": 8,
        "factor_dim": 3,
    },
    "ppca": {"code_dim": 3},
    "n_samples": 2,
    "n_sampling_seeds": 1,
}


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("motornet") is None, reason="MotorNet not installed"
)
def test_demo_runs_the_whole_pipeline_on_tiny_settings(tmp_path, capsys, monkeypatch):
    import neurognocchi.runs.demo as demo
    from neurognocchi.runs.directory import load_model

    monkeypatch.setitem(demo.DEMO_SETTINGS, "quick", TINY_DEMO)
    out = tmp_path / "demo"
    (tmp_path / "demo").mkdir()
    (out / "notes.txt").write_text("keep me")
    argv = ["demo", "--quick", "--out", str(out), "--seed", "1"]
    assert main(argv) == 0
    for name in ("data.npz", "metrics.json", "report.html"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"GNOCCHI", "LFADS", "PPCA"}
    printed = capsys.readouterr().out
    assert "| metric | GNOCCHI | LFADS | PPCA |" in printed and "report.html" in printed
    for run in ("gnocchi", "lfads"):
        record = json.loads((out / run / "run.json").read_text())
        assert record["params"]["random_state"] == 1 and record["fit_on"] == "train"
        assert load_model(out / run).sample_prior(1, random_state=0).shape == (1, 15, 6)
    # A second run replaces the demo's own outputs only with --overwrite, and nothing else.
    assert main(argv) == 2
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("motornet") is None, reason="MotorNet not installed"
)
def test_reference_runs_the_demo_per_seed_and_resumes(tmp_path, capsys, monkeypatch):
    import neurognocchi.runs.demo as demo

    monkeypatch.setitem(demo.DEMO_SETTINGS, "quick", TINY_DEMO)
    out = tmp_path / "ref"
    argv = ["reference", "--quick", "--out", str(out), "--seeds", "0", "1"]
    assert main([*argv, "--sampling-seeds", "2"]) == 0
    text = (out / "reference.md").read_text()
    assert "over 2 seeds" in text and "| metric | GNOCCHI | LFADS | PPCA | floor" in text
    table = json.loads((out / "reference.json").read_text())["table"]
    rows = {row["key"]: row["cells"] for row in table["rows"]}
    assert " ± " in rows["heldout_error"][0]  # two training seeds: mean ± s.d.
    first = json.loads((out / "seed0" / "metrics.json").read_text())
    assert first["models"]["GNOCCHI"]["config"]["n_sampling_seeds"] == 2
    # A second call reads the finished seeds back instead of fitting again.
    stamp = (out / "seed1" / "metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*argv, "--sampling-seeds", "2"]) == 0
    assert "evaluating" not in capsys.readouterr().out
    assert (out / "seed1" / "metrics.json").stat().st_mtime_ns == stamp
    assert main([*argv[:-3], "--seeds", "1", "1"]) == 2  # repeated seed: a clear error


# ---------------------------------------------------------------------- synth reaching
needs_motornet = pytest.mark.skipif(
    __import__("importlib").util.find_spec("motornet") is None, reason="MotorNet not installed"
)


@needs_motornet
def test_synth_reaching_writes_binned_trials(tmp_path, capsys):
    out = tmp_path / "r.npz"
    args = ["synth", "reaching", "--out", str(out), "--n-trials", "8", "--n-neurons", "7"]
    assert main([*args, "--n-time", "60", "--bin-size", "0.02"]) == 0
    trials = load_trials(out)
    assert (trials.n_trials, trials.n_time, trials.n_neurons) == (8, 30, 7)
    assert trials.bin_size_s == 0.02 and "heldout" in trials.trial_info
    capsys.readouterr()
    assert main([*args, "--bin-size", "0.015", "--overwrite"]) == 2
    assert "bin_size_s must be a positive multiple" in capsys.readouterr().err


@needs_motornet
def test_synth_train_policy_then_use_it(tmp_path, capsys):
    policy = tmp_path / "p.pt"
    args = ["synth", "train-policy", "--out", str(policy), "--n-updates", "2"]
    assert main([*args, "--batch-size", "4"]) == 0
    assert policy.is_file() and (tmp_path / "p_curve.csv").is_file()
    assert "policy saved" in capsys.readouterr().out
    out = tmp_path / "r.npz"
    argv = ["synth", "reaching", "--out", str(out), "--n-trials", "3", "--n-time", "60"]
    assert main([*argv, "--policy", str(policy)]) == 0
    assert load_trials(out).n_trials == 3
    assert main([*args, "--batch-size", "4"]) == 2  # exists
    assert_one_line_error(capsys.readouterr().err, "synth")


def test_convert_reads_an_nwb_recording(tmp_path, capsys):
    pytest.importorskip("pynwb")
    from neurognocchi.data import save_nwb

    trials = make_toy_dataset(20, n_neurons=4, n_time=8)
    save_nwb(trials, tmp_path / "session.nwb")
    out = tmp_path / "trials.npz"
    argv = ["convert", str(tmp_path / "session.nwb"), "--out", str(out), "--align", "start_time"]
    argv += ["--window", "0", "0.16", "--bin-size", "0.02", "--smooth", "0", "--heldout", "3"]
    assert main(argv) == 0
    assert f"saved {out}" in capsys.readouterr().out
    converted = load_trials(out)
    np.testing.assert_array_equal(converted.spikes, trials.spikes)
    np.testing.assert_allclose(converted.activity, trials.spikes / 0.02)
    np.testing.assert_array_equal(converted.info("heldout"), trials.info("condition") == 3)


# ---------------------------------------------------------------------- the cli package
def test_the_console_script_is_main_and_the_library_lies_beneath_it():
    import importlib

    import neurognocchi.runs as runs
    from neurognocchi.runs import demo, directory, metrics, registry

    module, _, name = "neurognocchi.cli:main".partition(":")  # pyproject's console script
    assert getattr(importlib.import_module(module), name) is main
    modules = (demo, directory, metrics, registry)
    for name in runs.__all__:
        assert any(getattr(m, name, None) is getattr(runs, name) for m in modules), name
    # 0.1's homes of the run directories and the demo (shims in 0.2) are gone in 0.3; the
    # run directories' names are back at `neurognocchi.runs`.
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("neurognocchi.demo")
    assert {"fit_run", "load_model", "evaluate_runs", "MODELS"} <= set(runs.__all__)


def test_run_demo_takes_random_state_not_the_old_seed_name(tmp_path):
    from neurognocchi.runs.demo import run_demo

    (tmp_path / "report.html").write_text("mine")
    with pytest.raises(FileExistsError):
        run_demo(tmp_path, quick=True, random_state=1)
    for old in ("seed", "sead"):  # seed: renamed random_state in 0.2, refused since 0.3
        with pytest.raises(TypeError, match=f"'{old}'"):
            run_demo(tmp_path, quick=True, **{old: 1})
    assert (tmp_path / "report.html").read_text() == "mine"
