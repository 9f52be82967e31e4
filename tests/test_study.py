"""`neurognocchi study`: config checks before any fit, the runner, resuming, outputs."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neurognocchi.cli import main
from neurognocchi.study import read_study_config, run_study, study_config_from_dict
from neurognocchi.study import runner as study_runner

pytest.importorskip("optuna")

TINY_GNOCCHI = {
    "code_dim": 3,
    "max_epochs": 2,
    "channels": 8,
    "channel_mults": [1, 2],
    "encoder_dim": 8,
    "encoder_layers": 2,
    "n_sample_steps": 3,
    "batch_size": 32,
    "warmup_steps": 2,
}
TOY = {"source": "toy", "n_trials": 120, "n_neurons": 12, "n_time": 16}


def _config(**changes) -> dict:
    config = {
        "name": "tiny",
        "data": TOY,
        "seeds": [0, 1],
        "evaluation": {"n_samples": 3, "n_sampling_seeds": 1},
        "base": {"gnocchi": TINY_GNOCCHI, "ppca": {"code_dim": 3}},
        "variants": {
            "ppca": {"model": "ppca"},
            "ppca-2": {"model": "ppca", "params": {"code_dim": 2}},
        },
    }
    return config | changes


def _count_fits(monkeypatch) -> list:
    """Record every fit the study starts (variant folder, seed folder)."""
    from neurognocchi.runs import directory as runs

    fits, original = [], runs.fit_run

    def counting(data, run_dir, **kwargs):
        fits.append((run_dir.parent.name, run_dir.name))
        return original(data, run_dir, **kwargs)

    monkeypatch.setattr(runs, "fit_run", counting)
    return fits


def _interrupted_at_fourth_fit(config, out_dir, monkeypatch) -> list:
    """Run the study with a ^C as its fourth fit starts; return the (variant, seed) of the
    four fits started."""
    original, calls = study_runner.fit_and_score, []

    def interrupted(config, variant, seed, out_dir):
        calls.append((variant.name, seed))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return original(config, variant, seed, out_dir)

    monkeypatch.setattr(study_runner, "fit_and_score", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, out_dir, progress=False)
    monkeypatch.setattr(study_runner, "fit_and_score", original)
    return calls


# ---------------------------------------------------------------------- end to end
def test_two_gnocchi_variants_two_seeds_end_to_end(tmp_path, monkeypatch):
    """The issue's done-when: a 2-variant × 2-seed toy study, every output written, and a
    second run refits nothing."""
    fits = _count_fits(monkeypatch)
    raw = _config(variants={}, grid={"model": "gnocchi", "params": {"mmd_weight": [0.01, 1.0]}})
    config = study_config_from_dict(raw)
    results = run_study(config, tmp_path, progress=False)
    assert sorted(fits) == sorted(
        (f"mmd_weight={w}", f"seed{s}") for w in ("0.01", "1.0") for s in (0, 1)
    )
    assert [v["name"] for v in results["variants"]] == ["mmd_weight=0.01", "mmd_weight=1.0"]
    for variant in results["variants"]:
        bias = variant["metrics"]["navigation_bias"]
        assert bias["n"] == 2 and len(bias["values"]) == 2
        assert bias["mean"] == pytest.approx(sum(bias["values"]) / 2)
        assert variant["objective"] == pytest.approx(bias["mean"])
        assert variant["metrics"]["fit_seconds"]["mean"] > 0
    assert results["floors"]["floor.noise_free.navigation_spread"]["mean"] == 0.0
    rows = list(csv.DictReader((tmp_path / "study.csv").open()))
    assert [(r["variant"], r["seed"]) for r in rows] == [
        ("mmd_weight=0.01", "0"),
        ("mmd_weight=0.01", "1"),
        ("mmd_weight=1.0", "0"),
        ("mmd_weight=1.0", "1"),
    ]
    assert float(rows[0]["navigation_bias"]) == pytest.approx(
        results["variants"][0]["metrics"]["navigation_bias"]["values"][0]
    )
    saved = json.loads((tmp_path / "study.json").read_text())
    assert saved["objective"]["best"] in {"mmd_weight=0.01", "mmd_weight=1.0"}
    page = (tmp_path / "study.html").read_text()
    n_metrics = len([k for k in results["variants"][0]["metrics"] if k != "flags"])
    assert page.count("<svg") == n_metrics > 20
    fits.clear()
    again = run_study(config, tmp_path, progress=False)
    assert fits == []
    assert again["variants"] == results["variants"]


def test_interrupted_study_resumes_without_refitting(tmp_path, monkeypatch):
    """^C during the second variant: its trial fails; the next run refits only the fits that
    had not finished (the first variant and the finished seed are kept)."""
    fits = _count_fits(monkeypatch)
    config = study_config_from_dict(_config())
    _interrupted_at_fourth_fit(config, tmp_path, monkeypatch)
    assert fits == [("ppca", "seed0"), ("ppca", "seed1"), ("ppca-2", "seed0")]
    fits.clear()
    results = run_study(config, tmp_path, progress=False)
    assert fits == [("ppca-2", "seed1")]
    assert [v["name"] for v in results["variants"]] == ["ppca", "ppca-2"]


def test_added_variant_runs_alone_and_changed_variant_is_refused(tmp_path, monkeypatch):
    fits = _count_fits(monkeypatch)
    run_study(study_config_from_dict(_config()), tmp_path, progress=False)
    fits.clear()
    more = _config()
    more["variants"] = more["variants"] | {"ppca-1": {"model": "ppca", "params": {"code_dim": 1}}}
    results = run_study(study_config_from_dict(more), tmp_path, progress=False)
    assert sorted(fits) == [("ppca-1", "seed0"), ("ppca-1", "seed1")]
    assert [v["name"] for v in results["variants"]] == ["ppca", "ppca-2", "ppca-1"]
    # The same name with other parameters would silently mix two settings: refused.
    changed = _config()
    changed["variants"] = {"ppca-3": {"model": "ppca", "params": {"code_dim": 3}}}
    run_study(study_config_from_dict(changed | {"name": "other"}), tmp_path, progress=False)
    (tmp_path / "runs" / "ppca-3" / "seed0" / "protocol.json").unlink()
    changed["variants"]["ppca-3"]["params"]["code_dim"] = 1
    with pytest.raises(ValueError, match="'ppca-3' has changed"):
        run_study(study_config_from_dict(changed | {"name": "third"}), tmp_path, progress=False)


def test_search_proposes_variants_and_requeues_a_killed_one(tmp_path, monkeypatch):
    raw = _config(
        variants={},
        search={"model": "ppca", "n_variants": 3, "params": {"code_dim": {"low": 1, "high": 10}}},
    )
    config = study_config_from_dict(raw)
    fits = _count_fits(monkeypatch)
    killed = _interrupted_at_fourth_fit(config, tmp_path, monkeypatch)[-1][0]
    results = run_study(config, tmp_path, progress=False)
    names = [v["name"] for v in results["variants"]]
    # Three distinct proposals, the killed one among them (queued again), and no fit run
    # twice over both runs: the killed proposal's finished seed was read back.
    assert len(set(names)) == 3 and killed in names
    assert all(name.startswith("search-") for name in names)
    assert len(fits) == len(set(fits)) == 6
    assert set(fits) == {(name, f"seed{s}") for name in names for s in (0, 1)}
    for variant in results["variants"]:
        assert 1 <= variant["params"]["code_dim"] <= 10


# ---------------------------------------------------------------------- a real kill
@pytest.mark.slow
def test_killed_process_is_resumed(tmp_path, monkeypatch):
    """SIGKILL in the middle of a study: its RUNNING trial is failed on restart (same host,
    dead pid) and only the unfinished fits run again."""
    path = tmp_path / "study.json"
    raw = _config(
        variants={"a": {"model": "ppca"}, "b": {"model": "gnocchi", "params": {"max_epochs": 400}}}
    )
    path.write_text(json.dumps(raw))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "neurognocchi", "study", str(path), "--out", str(out)]
    process = subprocess.Popen(command, env=os.environ | {"OMP_NUM_THREADS": "1"})
    checkpoint = out / "runs" / "b" / "seed0" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists()
    fits = _count_fits(monkeypatch)
    results = run_study(read_study_config(path), out, progress=False)
    assert ("a", "seed0") not in fits and ("a", "seed1") not in fits
    assert ("b", "seed0") in fits  # resumed from its checkpoint
    assert [v["name"] for v in results["variants"]] == ["a", "b"]


# ---------------------------------------------------------------------- config errors
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": 1}, "unknown key"),
        (
            {"variants": {"x": {"model": "gnocchi", "params": {"code_sise": 3}}}},
            "variant 'x'.*code_sise",
        ),
        (
            {"variants": {"x": {"model": "gnocchi", "params": {"code_dim": -1}}}},
            "variant 'x'.*code_dim",
        ),
        ({"variants": {"x": {"model": "hmm"}}}, "model"),
        ({"variants": {"a/b": {"model": "ppca"}}}, "variant name"),
        ({"variants": {}}, "at least one of variants, grid or search"),
        ({"data": {"source": "spikes"}}, "data.source"),
        ({"data": {"source": "toy", "n_neurone": 3}}, "n_neurone"),
        ({"data": {"source": "file"}}, "data.path"),
        ({"seeds": []}, "seeds"),
        ({"seeds": [0, 0]}, "seeds"),
        ({"evaluation": {"n_samples": 0}}, "n_samples"),
        ({"objective": {"metric": "beauty"}}, "objective.metric"),
        ({"objective": {"direction": "up"}}, "objective.direction"),
        ({"grid": {"params": {"mmd_weight": 0.1}}}, "grid.params"),
        ({"search": {"params": {"mmd_weight": {"low": 1, "high": 0}}}}, "low < high"),
        ({"search": {"params": {"mmd_weight": {"low": 0, "high": 1, "log": True}}}}, "log"),
        ({"search": {"params": {"encoder": {"choices": []}}}}, "choices"),
        ({"search": {"params": {"code_sise": {"low": 1, "high": 3}}}}, "code_sise"),
        ({"table": "navigation_bias"}, "table must be a list"),
        ({"table": ["beauty"]}, "table"),
    ],
)
def test_bad_config_is_refused_before_any_fit(tmp_path, capsys, change, message):
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=message):
        study_config_from_dict(_config(**change))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_config(**change)))
    assert main(["study", str(path)]) == 2
    assert not (tmp_path / "bad").exists()  # nothing written
    assert re.search(message, capsys.readouterr().err)


def test_cli_check_and_unreadable_config(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_config()))
    assert main(["study", str(path), "--check"]) == 0
    assert "4 fits (2 seeds)" in capsys.readouterr().out
    assert not (tmp_path / "s").exists()
    (tmp_path / "broken.json").write_text("{")
    assert main(["study", str(tmp_path / "broken.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["study", str(tmp_path / "absent.json")]) == 2


def test_cli_runs_a_study_and_prints_its_table(tmp_path, capsys):
    path = tmp_path / "s.json"
    table = ["navigation_bias", "spikes_cond_count_kl"]
    path.write_text(json.dumps(_config(data=TOY | {"random_state": 5}, table=table)))
    assert main(["study", str(path), "--out", str(tmp_path / "o"), "--report"]) == 2
    assert "no study storage" in capsys.readouterr().err
    assert main(["study", str(path), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "| ppca-2 | ppca |" in out and "best (navigation_bias):" in out
    lines = (tmp_path / "o" / "table.md").read_text().splitlines()
    assert lines[0] == "| metric | ppca | ppca-2 | floor: single trial | floor: noise free |"
    results = json.loads((tmp_path / "o" / "study.json").read_text())
    kl = results["variants"][1]["metrics"]["spikes_cond_count_kl"]
    assert lines[3].startswith("| spike statistics, conditional: population spike-count KL |")
    assert f"{kl['mean']:.4f} ± {kl['sd']:.4f}" in lines[3]  # mean ± s.d. over the 2 seeds
    floor = results["floors"]["floor.single_trial.spikes_cond_count_kl"]["mean"]
    assert lines[3].split(" | ")[3].startswith(f"{floor:.4f}") and lines[3].endswith("| n/a |")
    (tmp_path / "o" / "study.csv").unlink()
    assert main(["study", str(path), "--out", str(tmp_path / "o"), "--report"]) == 0
    assert "| ppca-2 | ppca |" in capsys.readouterr().out
    assert (tmp_path / "o" / "study.csv").is_file()
    names = [p.name for p in (tmp_path / "o" / "data").iterdir()]
    assert len(names) == 1 and names[0].startswith("toy-") and names[0].endswith("-seed5.npz")


def test_new_evaluation_settings_rescore_and_new_data_settings_redraw(tmp_path, monkeypatch):
    from neurognocchi.evaluation import protocol

    raw = _config(seeds=[0], variants={"p": {"model": "ppca"}})
    run_study(study_config_from_dict(raw), tmp_path, progress=False)
    fits, evaluations, original = _count_fits(monkeypatch), [], protocol.evaluate

    def counting(model, trials, **kwargs):
        evaluations.append(kwargs["n_samples"])
        return original(model, trials, **kwargs)

    monkeypatch.setattr("neurognocchi.evaluation.evaluate", counting)
    more = raw | {"name": "k4", "evaluation": {"n_samples": 4, "n_sampling_seeds": 1}}
    results = run_study(study_config_from_dict(more), tmp_path, progress=False)
    assert fits == [] and evaluations == [4]  # scored again, not refitted
    assert "evaluation.n_samples" not in results["variants"][0]["metrics"]
    cached = json.loads((tmp_path / "runs" / "p" / "seed0" / "protocol.json").read_text())
    assert cached["evaluation.n_samples"] == 4
    bigger = raw | {
        "name": "big",
        "variants": {"q": {"model": "ppca"}},
        "data": TOY | {"n_trials": 140},
    }
    run_study(study_config_from_dict(bigger), tmp_path, progress=False)
    assert len(list((tmp_path / "data").glob("toy-*-seed0.npz"))) == 2


def test_runs_recorded_before_a_parameter_existed_are_reused(tmp_path, monkeypatch):
    """A run directory written before a release added an estimator parameter (absent from
    its run.json) is the same variant when the variant leaves that parameter at its default."""
    raw = _config(variants={"g": {"model": "gnocchi"}}, seeds=[0])
    run_study(study_config_from_dict(raw), tmp_path, progress=False)
    run_dir = tmp_path / "runs" / "g" / "seed0"
    record = json.loads((run_dir / "run.json").read_text())
    del record["params"]["code_noise"]  # as written by 0.2.0.dev0 before the study issue
    (run_dir / "run.json").write_text(json.dumps(record))
    (run_dir / "protocol.json").unlink()
    fits = _count_fits(monkeypatch)
    run_study(study_config_from_dict(raw | {"name": "again"}), tmp_path, progress=False)
    assert fits == []  # reloaded and re-scored, not refitted
    assert (run_dir / "protocol.json").is_file()
    noisy = {"g": {"model": "gnocchi", "params": {"code_noise": 0.1}}}
    changed = raw | {"name": "third", "variants": noisy}
    (run_dir / "protocol.json").unlink()
    with pytest.raises(ValueError, match=r"'g' has changed.*code_noise"):
        run_study(study_config_from_dict(changed), tmp_path, progress=False)


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "studies").glob("*.json")))
def test_shipped_study_configs_are_valid(path):
    config = read_study_config(path)
    assert config.variants and config.seeds == [0, 1, 2]


def test_input_truth_and_resmoothed_spikes_are_fitted_on_and_scored_on_the_data(tmp_path):
    """A variant fitted on the true rates (an oracle) or on re-smoothed spikes is scored
    against the same data as the others; the oracle reconstructs the truth far better."""
    variants = {
        "data": {"model": "ppca"},
        "oracle": {"model": "ppca", "input": "truth"},
        "smooth": {"model": "ppca", "input": {"smooth_s": 0.08}},
    }
    raw = _config(seeds=[0], variants=variants, data=TOY | {"n_trials": 200})
    results = run_study(study_config_from_dict(raw), tmp_path, progress=False)
    r2 = {v["name"]: v["metrics"]["reconstruction_r2"]["mean"] for v in results["variants"]}
    assert r2["oracle"] > r2["data"] + 0.1
    assert [v["input"] for v in results["variants"]] == ["activity", "truth", {"smooth_s": 0.08}]
    fitted_on = {
        name: Path(
            json.loads((tmp_path / "runs" / name / "seed0" / "run.json").read_text())["data"]
        ).name
        for name in variants
    }
    assert fitted_on["oracle"].endswith("-seed0-input-truth.npz")
    assert fitted_on["smooth"].endswith("-seed0-input-smooth0.08.npz")
    assert not fitted_on["data"].count("-input-")
    from neurognocchi.data import load_trials

    data = load_trials(tmp_path / "data" / fitted_on["data"])
    oracle = load_trials(tmp_path / "data" / fitted_on["oracle"])
    np.testing.assert_array_equal(oracle.spikes, data.spikes)
    assert not np.allclose(oracle.activity, data.activity)
    # The same name with another input would mix two settings: refused.
    (tmp_path / "runs" / "oracle" / "seed0" / "protocol.json").unlink()
    moved = raw | {"name": "moved", "variants": {"oracle": {"model": "ppca"}}}
    with pytest.raises(ValueError, match="'oracle' was fitted on"):
        run_study(study_config_from_dict(moved), tmp_path, progress=False)


@pytest.mark.parametrize("bad", ["rates", {"smooth_s": 0}, {"smooth_s": "x"}, {"sigma": 1}])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValueError, match=r"variants\['x'\].input"):
        study_config_from_dict(_config(variants={"x": {"model": "ppca", "input": bad}}))


def test_input_truth_needs_true_rates(tmp_path):
    from neurognocchi.data import Trials
    from neurognocchi.study.inputs import fit_data_file

    path = tmp_path / "d.npz"
    Trials(np.ones((4, 3, 2))).save(path)
    with pytest.raises(ValueError, match="true rates"):
        fit_data_file(path, "truth")
    with pytest.raises(ValueError, match="spikes"):
        fit_data_file(path, {"smooth_s": 0.1})
    assert fit_data_file(path, "activity") == path


def test_a_diverging_variant_fails_alone(tmp_path, monkeypatch, capsys):
    """A fit that diverges fails its variant; the others run, the failure is reported, and
    the next start tries it again."""
    original = study_runner.fit_and_score

    def diverging(config, variant, seed, out_dir):
        if variant.name == "ppca":
            raise FloatingPointError("loss is nan at step 3")
        return original(config, variant, seed, out_dir)

    monkeypatch.setattr(study_runner, "fit_and_score", diverging)
    config = study_config_from_dict(_config())
    results = run_study(config, tmp_path, progress=False)
    assert [v["name"] for v in results["variants"]] == ["ppca-2"]
    assert results["failed"] == {"ppca": "seed 0: FloatingPointError: loss is nan at step 3"}
    assert "loss is nan" in (tmp_path / "study.html").read_text()
    monkeypatch.setattr(study_runner, "fit_and_score", original)
    results = run_study(config, tmp_path, progress=False)
    assert [v["name"] for v in results["variants"]] == ["ppca", "ppca-2"]
    assert results["failed"] == {}
