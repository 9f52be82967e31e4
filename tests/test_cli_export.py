"""`neurognocchi export`: trials and generated samples to NWB files that read back; refusals
and bad input exit 2 with one line and leave the folder as it was."""

from __future__ import annotations

import numpy as np
import pytest

from neurognocchi.cli import main
from neurognocchi.data import load_trials

pynwb = pytest.importorskip("pynwb")

from neurognocchi.data.nwb import load_nwb, load_samples_nwb  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = ["--n-trials", "30", "--n-neurons", "5", "--n-time", "10"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurognocchi export: error:"), err
    return lines[0]


def snapshot(directory) -> dict:
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Toy trials, a PPCA run fitted on them, its codes and samples generated from them."""
    root = tmp_path_factory.mktemp("export")
    data, run, codes = root / "toy.npz", root / "run", root / "codes.npy"
    assert main(["synth", "toy", "--out", str(data), *SMALL]) == 0
    fit = ["fit", str(data), "--out", str(run), "--model", "ppca", "--set", "code_dim=2"]
    assert main([*fit, "--quiet"]) == 0
    assert main(["encode", str(run), str(data), "--out", str(codes)]) == 0
    samples = ["generate", str(run), "--codes", str(codes), "--n-samples", "2"]
    assert main([*samples, "--out", str(root / "samples.npz")]) == 0
    return root


def test_export_trials_round_trips_with_the_metadata_given(workdir, tmp_path, capsys):
    out = tmp_path / "toy.nwb"
    argv = ["export", str(workdir / "toy.npz"), "--out", str(out), "--experimenter", "Doe, Jane"]
    argv += ["--institution", "Emory University", "--keywords", "toy", "reaching"]
    assert main(argv) == 0
    assert f"saved {out}" in capsys.readouterr().out
    trials = load_trials(workdir / "toy.npz")
    window = (0.0, trials.n_time * trials.bin_size_s)
    back = load_nwb(
        out,
        align="start_time",
        window_s=window,
        bin_size_s=trials.bin_size_s,
        smooth_sigma_s=None,
        behavior=list(trials.behavior_names),
    )
    assert np.array_equal(back.spikes, trials.spikes)
    np.testing.assert_allclose(back.behavior, trials.behavior, rtol=1e-6)
    for key, column in trials.trial_info.items():
        assert np.array_equal(back.trial_info[key], column), key
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwbfile = io.read()
        assert list(nwbfile.experimenter) == ["Doe, Jane"]
        assert nwbfile.institution == "Emory University"
        assert list(nwbfile.keywords[:]) == ["toy", "reaching"]
        assert nwbfile.subject.subject_id == "synthetic"  # synth toy carries ground truth
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.nwb"]  # no temporary files


def test_export_generated_samples_round_trips(workdir, tmp_path, capsys):
    out = tmp_path / "samples.nwb"
    argv = ["export", str(workdir / "samples.npz"), "--out", str(out), "--bin-size", "0.02"]
    assert main([*argv, "--species", "Macaca mulatta", "--subject-id", "model-1"]) == 0
    assert "saved samples (30, 2, 10, 5)" in capsys.readouterr().out
    back = load_samples_nwb(out)
    with np.load(workdir / "samples.npz") as saved:
        np.testing.assert_array_equal(back["samples"], saved["samples"].astype(np.float32))
        np.testing.assert_array_equal(back["codes"], saved["codes"])
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        subject = io.read().subject
        assert (subject.species, subject.subject_id) == ("Macaca mulatta", "model-1")


def test_export_refuses_an_existing_file_unless_overwrite(workdir, tmp_path, capsys):
    out = tmp_path / "toy.nwb"
    argv = ["export", str(workdir / "toy.npz"), "--out", str(out)]
    assert main(argv) == 0
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert main([*argv, "--lab", "another lab"]) == 2
    assert "--overwrite" in one_line_error(capsys)
    assert snapshot(tmp_path) == before
    assert main([*argv, "--lab", "another lab", "--overwrite"]) == 0
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        assert io.read().lab == "another lab"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.nwb"]


def _activity_only(folder):
    np.savez(folder / "rates.npz", activity=np.ones((4, 6, 3)))
    return folder / "rates.npz"


def _three_dim_samples(folder):
    np.savez(folder / "flat.npz", samples=np.ones((4, 6, 3)))
    return folder / "flat.npz"


@pytest.mark.parametrize(
    ("make_input", "out_name", "extra", "message"),
    [
        ("toy.npz", "toy.h5", [], "--out must end in .nwb"),
        ("absent.npz", "out.nwb", [], "no such file"),
        ("samples.npz", "out.nwb", [], "--bin-size is needed"),
        ("toy.npz", "out.nwb", ["--unit", "Hz"], "--unit applies to generated samples"),
        ("toy.npz", "out.nwb", ["--bin-size", "0.01"], "differs from the bin width"),
        ("toy.npz", "out.nwb", ["--experimenter", " "], "experimenter[0] must be a non-empty"),
        (_activity_only, "out.nwb", [], "has no spike counts"),
        (_three_dim_samples, "out.nwb", ["--bin-size", "0.02"], "samples must have 4 dimensions"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    workdir, tmp_path, capsys, make_input, out_name, extra, message
):
    path = make_input(tmp_path) if callable(make_input) else workdir / make_input
    before = snapshot(tmp_path)
    assert main(["export", str(path), "--out", str(tmp_path / out_name), *extra]) == 2
    assert message in one_line_error(capsys)
    assert snapshot(tmp_path) == before
