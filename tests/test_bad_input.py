"""The bad-input matrix: each bad input gives a clear error naming the problem, through the
Python API and through the command line, and the disk is left exactly as it was.

Through the API the error is a ValueError, TypeError or FileNotFoundError whose message names
the problem. Through the CLI the command exits with status 2 and prints one line on stderr (no
traceback), and every file in the working folder, including a fitted run directory, is
byte-for-byte unchanged with nothing added. (Refusals specific to run directories: existing
runs, --resume/--overwrite, non-run folders, are in test_cli_runs.py.)
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from cli_checks import assert_cli_refuses, snapshot
from neurognocchi import GNOCCHI, LFADS
from neurognocchi.cli import main
from neurognocchi.data import Trials, load_nwb, load_trials, make_toy_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(max_epochs=1, channels=8, code_dim=3, encoder_dim=8, channel_mults=(1, 2))
TINY_ARGS = ["--quiet", "--set", "max_epochs=1", "--set", "channels=8", "--set", "code_dim=3"]
TINY_ARGS += ["--set", "encoder_dim=8", "--set", "channel_mults=[1, 2]"]
SHAPE = (40, 8, 3)  # n_trials, n_time, n_neurons of the well-formed files


def _counts(shape=SHAPE) -> np.ndarray:
    return np.random.default_rng(0).poisson(2.0, shape).astype(np.float64)


def _with(array: np.ndarray, index, value) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


# Each writer puts one bad file in `folder` and returns its path.
def _nan_activity(folder):
    np.savez(folder / "nan.npz", activity=_with(_counts(), (3, 2, 1), np.nan))
    return folder / "nan.npz"


def _inf_activity(folder):
    np.save(folder / "inf.npy", _with(_counts(), (0, 0, 0), np.inf))
    return folder / "inf.npy"


def _negative_counts(folder):
    np.savez(folder / "neg.npz", activity=_counts(), spikes=_with(_counts(), (5, 1, 2), -1))
    return folder / "neg.npz"


def _fractional_counts(folder):
    np.savez(folder / "frac.npz", activity=_counts(), spikes=_with(_counts(), (5, 1, 2), 0.5))
    return folder / "frac.npz"


def _rank_two(folder):
    np.save(folder / "flat.npy", _counts()[:, :, 0])
    return folder / "flat.npy"


def _zero_trials(folder):
    np.save(folder / "empty.npy", np.zeros((0, 8, 3)))
    return folder / "empty.npy"


def _zero_neurons(folder):
    np.save(folder / "silent.npy", np.zeros((40, 8, 0)))
    return folder / "silent.npy"


def _mismatched_info(folder):
    np.savez(folder / "labels.npz", activity=_counts(), condition=np.arange(7))
    return folder / "labels.npz"


def _no_activity(folder):
    np.savez(folder / "other.npz", rates=_counts())
    return folder / "other.npz"


def _text_file(folder):
    (folder / "data.csv").write_text("1,2,3\n")
    return folder / "data.csv"


def _nwb_file(folder):
    (folder / "session.nwb").write_bytes(b"\x89HDF\r\n\x1a\n")
    return folder / "session.nwb"


def _not_a_zip(folder):
    (folder / "fake.npz").write_bytes(b"just some text, not an archive")
    return folder / "fake.npz"


def _pickled_array(folder):
    np.save(folder / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return folder / "objects.npy"


def _missing(folder):
    return folder / "does_not_exist.npz"


UNREADABLE = {
    "NaN activity": (_nan_activity, "NaN or infinite"),
    "inf activity": (_inf_activity, "NaN or infinite"),
    "negative counts": (_negative_counts, "non-negative"),
    "non-integer counts": (_fractional_counts, "whole-number"),
    "wrong rank": (_rank_two, "rank 3"),
    "zero trials": (_zero_trials, "0 trials"),
    "zero neurons": (_zero_neurons, "0 neurons"),
    "trial_info length": (_mismatched_info, "one value per trial (40)"),
    "npz without activity": (_no_activity, "no 'activity' array"),
    "wrong file kind": (_text_file, "must be a .nwb, .mat, .npy or .npz"),
    "NWB given to fit": (_nwb_file, "neurognocchi convert"),
    "not a zip archive": (_not_a_zip, "not a zip archive"),
    "pickled objects": (_pickled_array, "Object arrays cannot be loaded"),
    "missing file": (_missing, "no such file"),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A toy trials file and a fitted GNOCCHI run directory."""
    folder = tmp_path_factory.mktemp("bad_input")
    make_toy_dataset(50, n_neurons=3, n_time=8).save(folder / "toy.npz")
    assert main(["fit", str(folder / "toy.npz"), "--out", str(folder / "run"), *TINY_ARGS]) == 0
    return folder


@pytest.fixture()
def folder(workdir, tmp_path):
    """A fresh folder holding a copy of the toy file, with `workdir`'s run next to it."""
    (tmp_path / "toy.npz").write_bytes((workdir / "toy.npz").read_bytes())
    return tmp_path


# ---------------------------------------------------------------------- unreadable data files
@pytest.mark.parametrize("case", UNREADABLE)
def test_api_names_the_problem_with_a_data_file(tmp_path, case):
    writer, message = UNREADABLE[case]
    with pytest.raises((ValueError, TypeError, FileNotFoundError)) as caught:
        load_trials(writer(tmp_path))
    assert message in str(caught.value)


@pytest.mark.parametrize("case", UNREADABLE)
def test_every_command_reading_data_refuses_the_file(workdir, folder, capsys, case):
    writer, message = UNREADABLE[case]
    path = writer(folder)
    commands = [
        ["fit", path, "--out", folder / "new_run", "--fit-on", "all", *TINY_ARGS],
        ["encode", workdir / "run", path, "--out", folder / "codes.npy"],
        ["evaluate", workdir / "run", "--data", path, "--out", folder / "report"],
        ["info", path],
    ]
    if path.suffix in (".npy", ".npz"):  # other kinds: test_convert_refuses_* below
        commands.append(["convert", path, "--out", folder / "converted.npz"])
    run_before = snapshot(workdir / "run")
    for argv in commands:
        assert_cli_refuses(argv, message, folder, capsys)
    assert snapshot(workdir / "run") == run_before


# ---------------------------------------------------------------------- readable but unfittable
def _one_time_bin():
    return Trials(_counts((40, 1, 3)))


def _three_trials():
    return Trials(_counts((3, 8, 3)))


@pytest.mark.parametrize("estimator", [GNOCCHI, LFADS])
@pytest.mark.parametrize(
    ("make", "message"),
    [(_one_time_bin, "n_time=1"), (_three_trials, "fewer than 2 validation trials")],
)
def test_fit_refuses_data_it_cannot_model(estimator, make, message):
    with pytest.raises(ValueError, match=message):
        estimator(max_epochs=1, verbose=False).fit(make())


@pytest.mark.parametrize(
    ("make", "fit_on", "message"),
    [
        (_one_time_bin, "all", "n_time=1"),
        (_three_trials, "all", "fewer than 2 validation trials"),
        (lambda: Trials(_counts()), "train", "no 'heldout' column"),
        (lambda: make_toy_dataset(4, n_neurons=3, n_time=8), "train", "held-in and held-out"),
        (lambda: make_toy_dataset(4, n_neurons=3, n_time=8), "heldin", "fewer than 2 valid"),
    ],
)
def test_cli_fit_refuses_data_it_cannot_model(folder, capsys, make, fit_on, message):
    make().save(folder / "small.npz")
    argv = ["fit", folder / "small.npz", "--out", folder / "run", "--fit-on", fit_on, *TINY_ARGS]
    assert_cli_refuses(argv, message, folder, capsys)


def test_bad_parameters_fail_before_the_data_is_read():
    # The data argument is not even an array: the parameter is reported first.
    with pytest.raises(ValueError, match="n_sample_steps"):
        GNOCCHI(n_sample_steps=0).fit("not data")
    with pytest.raises(ValueError, match="likelihood"):
        LFADS(likelihood="bernoulli").fit("not data")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("n_sample_steps=0", "n_sample_steps must be in [1, n_train_steps=1000]"),
        ("n_sample_steps=1001", "n_sample_steps must be in [1, n_train_steps=1000]"),
        ("valid_fraction=1.5", "valid_fraction"),
        ('device="tpu"', "device"),
        ("code_dim=0", "code_dim"),
        ("learning_rate=-1", "learning_rate"),
    ],
)
def test_cli_fit_refuses_bad_parameters(folder, capsys, setting, message):
    argv = ["fit", folder / "toy.npz", "--out", folder / "run", *TINY_ARGS, "--set", setting]
    assert_cli_refuses(argv, message, folder, capsys)


# ---------------------------------------------------------------------- generation arguments
@pytest.fixture(scope="module")
def model(workdir):
    from neurognocchi.runs.directory import load_model

    return load_model(workdir / "run")


@pytest.mark.parametrize(
    ("codes", "options", "error", "message"),
    [
        (np.zeros((2, 4)), {}, ValueError, r"codes must have shape \(n_codes, 3\)"),
        (np.zeros(3), {}, ValueError, r"codes must have shape \(n_codes, 3\)"),
        (np.full((2, 3), np.nan), {}, ValueError, "NaN or infinite"),
        (np.zeros((2, 3)), {"n_steps": 0}, ValueError, r"n_steps must be in \[1, 1000\]"),
        (np.zeros((2, 3)), {"n_steps": 1001}, ValueError, r"n_steps must be in \[1, 1000\]"),
        (np.zeros((2, 3)), {"n_steps": 2.5}, TypeError, "n_steps must be an int"),
        (np.zeros((2, 3)), {"n_samples": 0}, ValueError, "n_samples"),
        (np.zeros((2, 3)), {"eta": 2.0}, ValueError, "eta"),
    ],
)
def test_generate_refuses_bad_arguments(model, codes, options, error, message):
    with pytest.raises(error, match=message):
        model.generate(codes, **options)


def test_encode_refuses_trials_of_another_shape(model):
    with pytest.raises(ValueError, match=r"fitted on \(8, 3\)"):
        model.encode(_counts((5, 8, 4)))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prior", "2", "--n-steps", "0"], "n_steps must be in [1, 1000]"),
        (["--prior", "2", "--n-steps", "1001"], "n_steps must be in [1, 1000]"),
        (["--prior", "0"], "n must be an int >= 1"),
        (["--codes", "codes.npy", "--n-samples", "0"], "n_samples"),
        (["--codes", "wide.npy"], "codes must have shape (n_codes, 3)"),
        (["--codes", "nan.npy"], "NaN or infinite"),
        (["--codes", "missing.npy"], "--codes must be an existing .npy file"),
    ],
)
def test_cli_generate_refuses_bad_arguments(workdir, folder, capsys, extra, message):
    np.save(folder / "codes.npy", np.zeros((2, 3)))
    np.save(folder / "wide.npy", np.zeros((2, 4)))
    np.save(folder / "nan.npy", np.full((2, 3), np.nan))
    extra = [folder / arg if arg.endswith(".npy") else arg for arg in extra]
    argv = ["generate", workdir / "run", *extra, "--out", folder / "samples.npz"]
    assert_cli_refuses(argv, message, folder, capsys)


# ---------------------------------------------------------------------- conditions and NWB files
def test_unknown_condition_names(folder, capsys):
    trials = load_trials(folder / "toy.npz")
    for call in (trials.mark_heldout, trials.split_by_condition):
        with pytest.raises(ValueError, match=r"unknown condition value\(s\) \[99\]"):
            call([3, 99])
    with pytest.raises(ValueError, match=r"condition has no trials with value\(s\) \[99\]"):
        trials.select(condition=99)
    argv = ["convert", folder / "toy.npz", "--out", folder / "marked.npz", "--heldout", "3", "99"]
    assert_cli_refuses(argv, "unknown condition value(s) [99]", folder, capsys)
    argv = [*argv[:-2], "3", "--condition-key", "colour"]
    assert_cli_refuses(argv, "colour", folder, capsys)


def test_convert_refuses_to_hold_out_every_trial(folder, capsys):
    everything = [str(value) for value in range(25)]
    argv = ["convert", folder / "toy.npz", "--out", folder / "marked.npz", "--heldout"]
    assert_cli_refuses([*argv, *everything], "would hold out all", folder, capsys)


def test_convert_marks_heldout_conditions(folder, capsys):
    out = folder / "marked.npz"
    assert main(["convert", str(folder / "toy.npz"), "--out", str(out), "--heldout", "0", "7"]) == 0
    capsys.readouterr()
    original, marked = load_trials(folder / "toy.npz"), load_trials(out)
    np.testing.assert_array_equal(marked.activity, original.activity)
    expected = np.isin(original.info("condition"), [0, 7])
    np.testing.assert_array_equal(marked.info("heldout"), expected)


def test_convert_refuses_unknown_kinds_and_its_own_output(folder, capsys):
    (folder / "table.csv").write_text("1,2\n")
    argv = ["convert", folder / "table.csv", "--out", folder / "t.npz"]
    assert_cli_refuses(argv, "must be a .nwb, .mat, .npy or .npz", folder, capsys)
    argv = ["convert", folder / "toy.npz", "--out", folder / "toy.npz", "--overwrite"]
    assert_cli_refuses(argv, "--out must differ from the input", folder, capsys)
    argv = ["convert", folder / "toy.npz", "--out", folder / "toy.h5"]
    assert_cli_refuses(argv, "--out must end in .npz", folder, capsys)


def _nwb_without_units(path):
    pynwb = pytest.importorskip("pynwb")
    nwbfile = pynwb.NWBFile(
        session_description="no units",
        identifier="no-units",
        session_start_time=datetime.now(timezone.utc),
    )
    nwbfile.add_trial(start_time=0.0, stop_time=1.0)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def test_nwb_without_units(folder, capsys):
    path = _nwb_without_units(folder / "no_units.nwb")
    with pytest.raises(ValueError, match="no units with spike_times"):
        load_nwb(path)
    argv = ["convert", path, "--out", folder / "t.npz"]
    assert_cli_refuses(argv, "no units with spike_times", folder, capsys)


def test_convert_refuses_a_file_that_is_not_nwb(folder, capsys):
    pytest.importorskip("pynwb")
    (folder / "fake.nwb").write_text("not HDF5")
    argv = ["convert", folder / "fake.nwb", "--out", folder / "t.npz"]
    assert_cli_refuses(argv, "fake.nwb", folder, capsys)


def test_convert_marks_string_conditions_as_written(folder, capsys):
    labels = np.array(["3", "left", "right", "left"] * 10)  # "3" stays the text "3"
    np.savez(folder / "labelled.npz", activity=_counts(), condition=labels)
    out = folder / "marked.npz"
    assert main(["convert", str(folder / "labelled.npz"), "--out", str(out), "--heldout", "3"]) == 0
    capsys.readouterr()
    np.testing.assert_array_equal(load_trials(out).info("heldout"), labels == "3")
