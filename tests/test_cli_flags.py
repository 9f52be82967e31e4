"""`neurognocchi fit --precision/--compile/--mmap` and `neurognocchi report`, at tiny sizes."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from neurognocchi.cli import build_parser, main
from neurognocchi.data import load_trials, save_memmap
from neurognocchi.runs.directory import load_model
from test_cli_runs import TINY_GNOCCHI, one_line_error, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ONE_EPOCH = [*TINY_GNOCCHI, "--set", "max_epochs=1"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A toy data file, the same trials as a save_memmap directory, a one-epoch GNOCCHI run
    fitted with --precision fp32, a PPCA run, and the evaluate outputs of the PPCA run."""
    root = tmp_path_factory.mktemp("flags")
    data = root / "toy.npz"
    small = ["--n-trials", "50", "--n-neurons", "6", "--n-time", "12"]
    assert main(["synth", "toy", "--out", str(data), *small]) == 0
    save_memmap(load_trials(data), root / "toy_mm")
    fit = ["fit", str(data), "--out"]
    assert main([*fit, str(root / "fp32"), "--precision", "fp32", *ONE_EPOCH]) == 0
    assert main([*fit, str(root / "ppca"), "--model", "ppca", "--set", "code_dim=3"]) == 0
    quick = ["--n-samples", "2", "--sampling-seeds", "1"]
    evaluate = ["evaluate", str(root / "ppca"), "--data", str(data), "--out", str(root / "eval")]
    assert main([*evaluate, *quick]) == 0
    return root


def params_of(run) -> dict:
    return json.loads((run / "run.json").read_text())["params"]


def metrics_table(path) -> str:
    """The full table (its collapsible groups) of a report."""
    return re.search(r'<div id="metrics">.*?</div>', path.read_text(encoding="utf-8")).group(0)


# ---------------------------------------------------------------------- --precision, --compile
def test_precision_is_recorded_and_resume_must_agree(workdir, tmp_path, capsys):
    assert params_of(workdir / "fp32")["precision"] == "fp32"
    run, data = tmp_path / "run", str(workdir / "toy.npz")
    shutil.copytree(workdir / "fp32", run)
    before = snapshot(run)
    assert main(["fit", data, "--out", str(run), "--resume", "--precision", "bf16"]) == 2
    assert "['precision']" in one_line_error(capsys, "fit")
    assert snapshot(run) == before
    resume = ["fit", data, "--out", str(run), "--resume", "--precision", "fp32", "--quiet"]
    assert main([*resume, "--set", "max_epochs=2"]) == 0
    assert [row["epoch"] for row in json.loads((run / "history.json").read_text())] == [1, 2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="bf16 is refused only without CUDA")
def test_bf16_without_cuda_exits_2_touching_nothing(workdir, tmp_path, capsys):
    data = str(workdir / "toy.npz")
    new = tmp_path / "new"
    assert main(["fit", data, "--out", str(new), "--precision", "bf16", *ONE_EPOCH]) == 2
    assert "needs a CUDA device" in one_line_error(capsys, "fit")
    assert not new.exists()
    # --overwrite must not remove the earlier run for a fit that cannot start.
    run = tmp_path / "run"
    shutil.copytree(workdir / "fp32", run)
    before = snapshot(run)
    args = ["fit", data, "--out", str(run), "--overwrite", "--set", "precision=bf16"]
    assert main([*args, *ONE_EPOCH]) == 2
    assert "needs a CUDA device" in one_line_error(capsys, "fit")
    assert snapshot(run) == before


def test_compile_is_recorded(workdir, tmp_path, monkeypatch):
    # A real torch.compile takes minutes on CPU; the run is recorded the same without it.
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module, **_: compiled.append(module) or module)
    run = tmp_path / "run"
    assert main(["fit", str(workdir / "toy.npz"), "--out", str(run), "--compile", *ONE_EPOCH]) == 0
    assert params_of(run)["compile"] is True and len(compiled) == 1
    absent = build_parser().parse_args(["fit", "x.npz", "--out", "run"])
    assert (absent.compile, absent.precision, absent.mmap) == (None, None, False)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--model", "ppca", "--precision", "fp32"],
            "--precision applies to GNOCCHI, LatentGNOCCHI and LFADS",
        ),
        (["--model", "ppca", "--compile"], "PPCA has no 'compile' parameter"),
        (["--precision", "bf16", "--set", "precision=fp32"], "--config/--set give 'fp32'"),
        (["--compile", "--set", "compile=false"], "--compile sets compile=True"),
        (["--mmap"], "cannot be memory-mapped"),
    ],
)
def test_fit_flags_refused_before_touching_disk(workdir, tmp_path, capsys, extra, message):
    run = tmp_path / "run"
    assert main(["fit", str(workdir / "toy.npz"), "--out", str(run), *extra]) == 2
    assert message in one_line_error(capsys, "fit")
    assert not run.exists()


def test_resumed_ppca_run_refuses_compile(workdir, capsys):
    run = workdir / "ppca"
    before = snapshot(run)
    assert main(["fit", str(workdir / "toy.npz"), "--out", str(run), "--resume", "--compile"]) == 2
    assert "PPCA has no 'compile' parameter" in one_line_error(capsys, "fit")
    assert snapshot(run) == before


# ---------------------------------------------------------------------- --mmap
def test_mmap_fits_the_same_codes_and_resume_maps_again(workdir, tmp_path, monkeypatch):
    import neurognocchi.runs.directory as runs

    data, trials = workdir / "toy_mm", load_trials(workdir / "toy.npz")
    plain, mapped = tmp_path / "plain", tmp_path / "mapped"
    assert main(["fit", str(data), "--out", str(plain), *ONE_EPOCH]) == 0
    assert main(["fit", str(data), "--out", str(mapped), "--mmap", *ONE_EPOCH]) == 0
    records = [json.loads((run / "run.json").read_text()) for run in (plain, mapped)]
    assert [record["mmap"] for record in records] == [False, True]
    assert records[0]["data_sha256"] == records[1]["data_sha256"]  # a directory's digest
    codes = [load_model(run).encode(trials) for run in (plain, mapped)]
    np.testing.assert_array_equal(codes[0], codes[1])
    calls = []
    monkeypatch.setattr(
        runs, "load_trials", lambda path, **kw: calls.append(kw) or load_trials(path, **kw)
    )
    assert main(["fit", str(data), "--out", str(mapped), "--resume", "--set", "max_epochs=2"]) == 0
    assert calls == [{"mmap": True}]  # the recorded choice, without --mmap


# ---------------------------------------------------------------------- report
def test_report_rerenders_the_evaluate_report(workdir, tmp_path, capsys):
    metrics, original = workdir / "eval" / "metrics.json", workdir / "eval" / "report.html"
    out = tmp_path / "again.html"
    assert main(["report", str(metrics), "--out", str(out)]) == 0
    assert metrics_table(out) == metrics_table(original)
    assert "Trials(n_trials=" not in out.read_text(encoding="utf-8")  # no --data: no trials
    before = out.read_bytes()
    assert main(["report", str(metrics), "--out", str(out)]) == 2
    assert "--overwrite" in one_line_error(capsys, "report")
    assert out.read_bytes() == before
    data = ["--data", str(workdir / "toy.npz")]
    assert main(["report", str(metrics), "--out", str(out), *data, "--overwrite"]) == 0
    text = out.read_text(encoding="utf-8")
    assert metrics_table(out) == metrics_table(original)
    assert "Trials(n_trials=50" in text and "Trials(n_trials=50" in original.read_text()


def test_report_errors_write_nothing(workdir, tmp_path, capsys):
    other = tmp_path / "other.npz"
    assert (
        main(
            [
                "synth",
                "toy",
                "--out",
                str(other),
                "--n-trials",
                "30",
                "--n-neurons",
                "6",
                "--n-time",
                "12",
            ]
        )
        == 0
    )
    not_json, reference = tmp_path / "notes.json", tmp_path / "reference.json"
    not_json.write_text("not JSON")
    reference.write_text(json.dumps({"seeds": [0], "table": {}}))
    metrics, out = str(workdir / "eval" / "metrics.json"), str(tmp_path / "r.html")
    cases = [
        ([str(not_json), "--out", out], "'" + str(not_json) + "' is not a metrics.json"),
        ([str(reference), "--out", out], "'" + str(reference) + "' is not a metrics.json"),
        ([str(workdir / "ppca" / "run.json"), "--out", out], "is not a metrics.json"),
        ([str(tmp_path / "missing.json"), "--out", out], "does not exist"),
        ([metrics, "--out", str(tmp_path / "r.txt")], "--out must end in .html"),
        ([metrics, "--out", out, "--data", str(other)], "--data"),
    ]
    for argv, message in cases:
        assert main(["report", *argv]) == 2, argv
        assert message in one_line_error(capsys, "report"), argv
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "notes.json",
        "other.npz",
        "reference.json",
    ]


# ---------------------------------------------------------------------- --preset
def test_preset_sets_gnocchi_parameters_under_config_and_set(workdir, tmp_path, capsys):
    from neurognocchi.estimators.gnocchi import PRESETS

    for name in PRESETS:  # the flag offers every preset
        args = build_parser().parse_args(["fit", "d", "--out", "r", "--preset", name])
        assert args.preset == name
    data, run = str(workdir / "toy.npz"), tmp_path / "run"
    assert main(["fit", data, "--out", str(run), "--preset", "long", *ONE_EPOCH, "--quiet"]) == 0
    params = params_of(run)
    assert (params["ema_decay"], params["max_epochs"]) == (0.999, 1)  # --set wins
    lfads = ["fit", data, "--out", str(tmp_path / "l"), "--model", "lfads", "--preset", "long"]
    assert main(lfads) == 2
    assert "--preset applies to GNOCCHI only" in one_line_error(capsys, "fit")
    assert not (tmp_path / "l").exists()


def test_written_out_choices_are_the_librarys():
    from neurognocchi.cli import augment, models
    from neurognocchi.diffusion import METHODS
    from neurognocchi.estimators import outputs
    from neurognocchi.experiments.decoders import DECODERS
    from neurognocchi.runs.registry import MODELS

    assert sorted(models.SAMPLERS) == sorted(METHODS)
    assert models.OUTPUTS == outputs.OUTPUTS
    assert augment.DECODERS == DECODERS
    assert models.MODEL_NAMES == tuple(MODELS)


def test_help_and_parsing_load_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; from neurognocchi.cli import build_parser; "
        "build_parser().parse_args(['fit', 'x.npz', '--out', 'r']); "
        "import neurognocchi, neurognocchi.data; "
        "print(sorted(m for m in ('torch', 'sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
