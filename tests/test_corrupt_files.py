"""Files the package did not write: broken ones are refused, strange ones read as defined.

The corpus (``corpus.py``) damages valid files: NWB/HDF5 and ``.mat`` truncated, members
deleted, fields renamed, planted pickles, mismatched lengths, overflowing counts, memmap folders
with a missing or short file. Every broken file is refused by ``load_trials`` with an error
naming the file and the problem, and by ``neurognocchi info``, ``convert`` and ``fit`` with one
line on stderr naming both, exit status 2 and nothing written. Property tests (hypothesis) cut
files at any offset and delete any members. Files that are strange without being broken (trials
with no alignment time, spikes out of order, behaviour at another rate or with gaps, silent or
very busy channels, trials of 2 bins, a single condition) each have a defined behaviour.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus
from cli_checks import assert_cli_refuses
from neurognocchi import GNOCCHI, LFADS
from neurognocchi.cli import main
from neurognocchi.data import Trials, load_trials

pytest.importorskip("pynwb")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_ARGS = ["--quiet", "--set", "max_epochs=1", "--set", "channels=8", "--set", "code_dim=3"]
TINY_ARGS += ["--set", "encoder_dim=8", "--set", "channel_mults=[1, 2]"]
READ_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """One valid file of each kind, made once; tests damage copies."""
    folder = tmp_path_factory.mktemp("sources")
    return {
        "nwb": corpus.nwb_recording(folder / "recording.nwb"),
        "mat": corpus.mat_struct(folder / "datahigh.mat"),
        "npz": corpus.npz_arrays(folder / "arrays.npz"),
        "npy": corpus.npy_array(folder / "activity.npy"),
        "memmap": corpus.memmap_folder(folder / "memmap"),
    }


@pytest.fixture(scope="module")
def originals(sources) -> dict[str, Trials]:
    """The trials of each valid source, as read."""
    return {kind: load_trials(path) for kind, path in sources.items()}


def _copy(source: Path, dest: Path) -> Path:
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        dest.write_bytes(source.read_bytes())
    return dest


def _cut_memmap(sources, folder, name: str, keep_bytes: int | None) -> Path:
    """A copy of the memmap folder with ``name`` cut to ``keep_bytes`` (None: deleted)."""
    copy = _copy(sources["memmap"], folder / "trials")
    if keep_bytes is None:
        (copy / name).unlink()
    else:
        corpus.truncated(copy / name, copy / name, keep_bytes)
    return copy


def _half(path: Path) -> int:
    return path.stat().st_size // 2


# Each case: (make(sources, folder) -> path, what the message says).
BROKEN = {
    "NWB cut to its first byte": (
        lambda s, f: corpus.truncated(s["nwb"], f / "a.nwb", 1),
        "is not a readable NWB file",
    ),
    "NWB cut in half": (
        lambda s, f: corpus.truncated(s["nwb"], f / "a.nwb", _half(s["nwb"])),
        "truncated file",
    ),
    "NWB missing its last byte": (
        lambda s, f: corpus.truncated(s["nwb"], f / "a.nwb", s["nwb"].stat().st_size - 1),
        "truncated file",
    ),
    "NWB units without spike times": (
        lambda s, f: corpus.nwb_recording(f / "a.nwb", spike_times=False),
        "no units with spike_times",
    ),
    "NWB spike-time index deleted": (
        lambda s, f: corpus.without_hdf5_member(s["nwb"], f / "a.nwb", "units/spike_times_index"),
        "Columns must be the same length",
    ),
    "NWB obs_intervals index deleted": (
        lambda s, f: corpus.without_hdf5_member(s["nwb"], f / "a.nwb", "units/obs_intervals_index"),
        "is not a readable NWB file",
    ),
    "NWB trials table without start_time": (
        lambda s, f: corpus.without_hdf5_member(
            s["nwb"], f / "a.nwb", "intervals/trials/start_time"
        ),
        "Could not construct TimeIntervals",
    ),
    "NWB behaviour without samples": (
        lambda s, f: corpus.without_hdf5_member(
            s["nwb"], f / "a.nwb", "processing/behavior/hand_pos/data"
        ),
        "time series 'hand_pos' has 0 samples",
    ),
    "NWB obs_intervals exclude every trial": (
        lambda s, f: corpus.nwb_recording(f / "a.nwb", observed=(100.0, 200.0)),
        "12 outside the units' obs_intervals (no alignment time lies inside every unit's",
    ),
    "NWB observed only in narrower windows": (
        lambda s, f: corpus.nwb_recording(f / "a.nwb", observed_around_onsets=(-0.25, 0.45)),
        "12 outside the units' obs_intervals (the window (-0.25, 0.45) s is observed around 12",
    ),
    "NWB every alignment time NaN": (
        lambda s, f: corpus.nwb_recording(f / "a.nwb", nan_onsets=corpus.N_TRIALS),
        "12 with no alignment time (NaN)",
    ),
    "MAT cut in half": (
        lambda s, f: corpus.truncated(s["mat"], f / "a.mat", _half(s["mat"])),
        "is not a readable .mat file",
    ),
    "MAT cut to its header": (
        lambda s, f: corpus.truncated(s["mat"], f / "a.mat", 128),
        "holds no variables (empty, or cut short after its header)",
    ),
    "MAT struct with other fields": (
        lambda s, f: corpus.mat_struct(f / "a.mat", fields=("spikes", "label")),
        "data_field='data' is not a field of the struct array; its fields: spikes, label",
    ),
    "NPZ cut in half": (
        lambda s, f: corpus.truncated(s["npz"], f / "a.npz", _half(s["npz"])),
        "is not a readable .npz file",
    ),
    "NPZ object array": (
        lambda s, f: corpus.npz_with_pickle(f / "a.npz", f / "unpickled"),
        "Object arrays cannot be loaded",
    ),
    "NPZ spikes of fewer trials": (
        lambda s, f: corpus.npz_arrays(f / "a.npz", spikes=corpus.counts((11, 10, 5))),
        "spikes must have the shape of activity (12, 10, 5); got (11, 10, 5)",
    ),
    "NPZ condition of fewer trials": (
        lambda s, f: corpus.npz_arrays(f / "a.npz", condition=np.arange(5)),
        "trial_info['condition'] must be 1-D with one value per trial (12)",
    ),
    "NPZ counts that overflowed": (
        lambda s, f: corpus.npz_arrays(
            f / "a.npz", spikes=np.full((12, 10, 5), 2**64 - 1, dtype=np.uint64)
        ),
        "more than 16,777,216",
    ),
    "NPZ counts that wrapped negative": (
        lambda s, f: corpus.npz_arrays(
            f / "a.npz", spikes=np.full((12, 10, 5), 200).astype(np.int8)
        ),
        "non-negative",
    ),
    "NPY cut in half": (
        lambda s, f: corpus.truncated(s["npy"], f / "a.npy", _half(s["npy"])),
        "is not a readable .npy array",
    ),
    "memmap without activity.npy": (
        lambda s, f: _cut_memmap(s, f, "activity.npy", None),
        "activity.npy' is missing",
    ),
    "memmap with a short spikes.npy": (
        lambda s, f: _cut_memmap(s, f, "spikes.npy", 300),
        "spikes.npy' is not a readable .npy file",
    ),
    "memmap without trial_info.npz": (
        lambda s, f: _cut_memmap(s, f, "trial_info.npz", None),
        "meta.json lists the trial_info columns ['condition']",
    ),
    "memmap with a cut meta.json": (
        lambda s, f: _cut_memmap(s, f, "meta.json", 40),
        "is not valid JSON",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_load_trials_names_the_file_and_the_problem(sources, tmp_path, case):
    make, message = BROKEN[case]
    path = make(sources, tmp_path)
    with pytest.raises(READ_ERRORS) as caught:
        load_trials(path)
    text = str(caught.value.args[0])
    assert str(path) in text and message in text, text
    assert not (tmp_path / "unpickled").exists()  # a planted pickle never runs


#: Readable NWB files whose trials the reader's default window does not reach: ``info``
#: describes them (the window observed around each time column) instead of refusing.
INFO_DESCRIBES = {
    "NWB obs_intervals exclude every trial",
    "NWB observed only in narrower windows",
    "NWB every alignment time NaN",
}


@pytest.mark.parametrize("case", BROKEN)
def test_info_convert_and_fit_refuse_in_one_line_writing_nothing(sources, tmp_path, capsys, case):
    make, message = BROKEN[case]
    path = make(sources, tmp_path)
    if case in INFO_DESCRIBES:  # info describes the file and says why the defaults read nothing
        assert main(["info", str(path)]) == 0
        assert message in capsys.readouterr().out
    for argv in (
        *([] if case in INFO_DESCRIBES else [["info", path]]),
        ["convert", path, "--out", tmp_path / "converted.npz"],
        ["fit", path, "--out", tmp_path / "run", "--fit-on", "all", *TINY_ARGS],
    ):
        # pynwb may warn while it reads a broken file: warning lines may come first
        assert_cli_refuses(argv, message, tmp_path, capsys, warnings_first=True)
        assert_cli_refuses(argv, str(path), tmp_path, capsys, warnings_first=True)
    assert not (tmp_path / "unpickled").exists()


def test_the_planted_pickle_would_run_if_unpickled(tmp_path):
    """The check above can fail: unpickling the planted object does create the file."""
    path = corpus.npz_with_pickle(tmp_path / "a.npz", tmp_path / "unpickled")
    with np.load(path, allow_pickle=True) as archive:
        archive["activity"]
    assert (tmp_path / "unpickled").exists()


# ---------------------------------------------------------------------- properties
def _assert_refused_or_intact(path: Path, original: Trials | None = None) -> None:
    """Reading ``path`` either fails with a read error naming it, or gives valid trials
    (equal to ``original`` when given: a cut that removed nothing needed)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            trials = load_trials(path)
    except READ_ERRORS as error:
        assert str(path) in str(error.args[0]), error
        return
    if original is not None:
        np.testing.assert_array_equal(trials.activity, original.activity)


# In the slow tier (`make test`): a few seconds each.
PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["nwb", "mat", "npz", "npy"])
@PROPERTY
@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_a_file_cut_at_any_offset_is_refused_or_read_intact(
    sources, originals, tmp_path, kind, fraction
):
    """Intact: a .mat file cut inside the padding after its last element reads as before."""
    source = sources[kind]
    size = int(fraction * source.stat().st_size)
    path = corpus.truncated(source, tmp_path / f"cut.{kind}", size)
    _assert_refused_or_intact(path, originals[kind])


@pytest.mark.slow
@PROPERTY
@given(
    name=st.sampled_from(["activity.npy", "spikes.npy", "behavior.npy", "trial_info.npz"]),
    fraction=st.floats(0.0, 1.0, exclude_max=True),
    mmap=st.booleans(),
)
def test_a_memmap_file_cut_anywhere_is_refused(sources, tmp_path, name, fraction, mmap):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    size = int(fraction * (sources["memmap"] / name).stat().st_size)
    path = _cut_memmap(sources, folder, name, size)
    with pytest.raises(READ_ERRORS) as caught:
        load_trials(path, mmap=mmap)
    assert str(path) in str(caught.value.args[0])


@pytest.mark.slow
@PROPERTY
@given(members=st.sets(st.sampled_from(corpus.NWB_MEMBERS), min_size=1, max_size=3))
def test_nwb_with_any_members_deleted_is_refused_or_read(sources, tmp_path, members):
    path = _copy(sources["nwb"], tmp_path / f"deleted-{abs(hash(frozenset(members)))}.nwb")
    for member in sorted(members):  # a parent first; its children are then gone too
        corpus.delete_hdf5_member(path, member)
    _assert_refused_or_intact(path)


@pytest.mark.slow
@PROPERTY
@given(members=st.sets(st.sampled_from(corpus.SAVED_NPZ_MEMBERS), min_size=1, max_size=3))
def test_a_saved_trials_file_with_members_deleted_is_refused_or_read(sources, tmp_path, members):
    saved = tmp_path / "saved.npz"
    if not saved.exists():
        load_trials(sources["npz"]).save(saved)
    path = tmp_path / f"deleted-{abs(hash(frozenset(members)))}.npz"
    corpus.without_zip_members(saved, path, members)
    _assert_refused_or_intact(path, load_trials(saved))


@pytest.mark.slow
@PROPERTY
@given(
    fields=st.tuples(
        st.sampled_from(["data", "spikes", "x"]), st.sampled_from(["condition", "label", "y"])
    )
)
def test_a_mat_struct_with_any_field_names_is_refused_or_read(tmp_path, fields):
    path = corpus.mat_struct(tmp_path / f"{'-'.join(fields)}.mat", fields=fields)
    _assert_refused_or_intact(path)


# ---------------------------------------------------------------------- strange, not broken
def test_trials_without_an_alignment_time_are_dropped_with_one_warning(tmp_path, capsys):
    path = corpus.nwb_recording(tmp_path / "a.nwb", nan_onsets=3)
    with pytest.warns(UserWarning, match=r"3 of 12 trials dropped: 3 with no alignment time"):
        trials = load_trials(path)
    assert trials.info("trial_id").tolist() == list(range(3, 12))
    assert main(["convert", str(path), "--out", str(tmp_path / "t.npz")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurognocchi convert: warning: 3 of 12"), err


def test_spike_times_out_of_order_are_sorted_with_one_warning(tmp_path):
    ordered = load_trials(corpus.nwb_recording(tmp_path / "a.nwb"))
    shuffled = corpus.nwb_recording(tmp_path / "b.nwb", shuffle_spikes=True)
    with pytest.warns(UserWarning, match=r"spike times of 5 of 5 units are out of order"):
        trials = load_trials(shuffled)
    np.testing.assert_array_equal(trials.spikes, ordered.spikes)


@pytest.mark.parametrize("rate_hz", [240.0, 1000.0])
def test_behaviour_at_any_rate_is_sampled_at_the_bin_centres(tmp_path, rate_hz):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        trials = load_trials(corpus.nwb_recording(tmp_path / "a.nwb", behavior_rate_hz=rate_hz))
    onsets = corpus.MOVE_S + np.arange(corpus.N_TRIALS) * (corpus.TRIAL_S + corpus.GAP_S)
    centres = onsets[:, None] - 0.2 + (np.arange(trials.n_time) + 0.5) * 0.02
    expected = np.stack([np.sin(centres), np.cos(centres)], axis=-1)
    # linear interpolation between samples 1/rate apart: error <= (1/rate)^2 / 8
    np.testing.assert_allclose(trials.behavior, expected, atol=(1 / rate_hz) ** 2 / 8 + 1e-6)
    assert trials.behavior_names == ("hand_pos_x", "hand_pos_y")


def test_trials_over_a_gap_in_behaviour_are_dropped_with_one_warning(tmp_path):
    path = corpus.nwb_recording(tmp_path / "a.nwb", behavior_gap_s=(3.0, 6.0))
    with pytest.warns(UserWarning, match=r"2 of 12 trials dropped: 2 with gaps in 'hand_pos'"):
        trials = load_trials(path)
    assert trials.info("trial_id").tolist() == [0, 1, 4, 5, 6, 7, 8, 9, 10, 11]
    assert np.isfinite(trials.behavior).all()


def _counts_trials(counts: np.ndarray, **info) -> Trials:
    return Trials(counts / 0.05, spikes=counts, bin_size_s=0.05, trial_info=info)


TINY = dict(max_epochs=2, code_dim=3, verbose=False, random_state=0)
ESTIMATORS = {
    "GNOCCHI": lambda: GNOCCHI(channels=8, encoder_dim=8, channel_mults=(1, 2), **TINY),
    "LFADS": lambda: LFADS(encoder_dim=8, generator_dim=8, factor_dim=3, **TINY),
}


def _fit_and_use(name: str, trials: Trials) -> np.ndarray:
    """Fit, check the losses and codes are finite; return generated activity."""
    model = ESTIMATORS[name]().fit(trials)
    assert all(np.isfinite(row["train_loss"]) for row in model.history_)
    assert np.isfinite(model.encode(trials[:4])).all()
    generated = model.generate(model.encode(trials[:2]), n_samples=2)
    assert np.isfinite(generated).all()
    return generated


@pytest.mark.parametrize("name", ESTIMATORS)
def test_silent_channels_are_fitted_with_one_warning_counting_them(name):
    counts = np.random.default_rng(0).poisson(2.0, (40, 16, 6))
    counts[..., [1, 4]] = 0
    with pytest.warns(UserWarning, match=r"2 of 6 neurons are constant .* neurons \[1, 4\]"):
        _fit_and_use(name, _counts_trials(counts))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_channels_at_hundreds_of_spikes_per_bin_are_fitted(name):
    """The shared centre-out files reach 280 spikes in a 50 ms bin."""
    counts = np.random.default_rng(0).poisson(2.0, (40, 16, 6))
    counts[..., 0] = np.random.default_rng(1).poisson(250.0, (40, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing to warn about
        _fit_and_use(name, _counts_trials(counts))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_trials_of_two_bins_are_fitted_and_of_one_refused(name):
    counts = np.random.default_rng(0).poisson(2.0, (40, 2, 6))
    assert _fit_and_use(name, _counts_trials(counts)).shape[-2:] == (2, 6)
    with pytest.raises(ValueError, match="n_time=1"):
        ESTIMATORS[name]().fit(_counts_trials(counts[:, :1]))


def test_a_single_condition_is_fitted_but_cannot_be_held_out(tmp_path, capsys):
    counts = np.random.default_rng(0).poisson(2.0, (40, 8, 6))
    trials = _counts_trials(counts, condition=np.zeros(40, dtype=int))
    _fit_and_use("GNOCCHI", trials)
    with pytest.raises(ValueError, match="would hold out all"):
        trials.mark_heldout([0])
    trials.save(tmp_path / "one.npz")
    argv = ["convert", tmp_path / "one.npz", "--out", tmp_path / "t.npz", "--heldout", "0"]
    assert_cli_refuses(argv, "would hold out all", tmp_path, capsys)


def test_the_window_the_error_suggests_reads_every_trial(tmp_path, capsys):
    path = corpus.nwb_recording(tmp_path / "a.nwb", observed_around_onsets=(-0.25, 0.45))
    out = tmp_path / "t.npz"
    assert main(["convert", str(path), "--window", "-0.25", "0.45", "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
    assert load_trials(out).n_trials == corpus.N_TRIALS


MC_MAZE = Path(__file__).resolve().parents[2] / "shared/data/nlb_mc_maze_small"
MC_MAZE = MC_MAZE / "sub-Jenkins_ses-small_desc-test_ecephys.nwb"


def test_info_says_which_window_is_observed_around_each_time_column(tmp_path, capsys):
    path = corpus.nwb_recording(tmp_path / "a.nwb", observed_around_onsets=(-0.25, 0.45))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{corpus.N_TRIALS} trials" in out and "(with obs_intervals)" in out
    window = "(-0.25, 0.45) s observed by every unit in"
    assert f"around move_onset_time: {window} {corpus.N_TRIALS} of {corpus.N_TRIALS} trials" in out
    assert "with load_nwb's defaults: " in out and "pass window_s inside it" in out
    everywhere = corpus.nwb_recording(tmp_path / "b.nwb")
    assert main(["info", str(everywhere)]) == 0
    out = capsys.readouterr().out
    assert f"observed by every unit in {corpus.N_TRIALS} of {corpus.N_TRIALS} trials" in out
    assert f"with load_nwb's defaults: Trials(n_trials={corpus.N_TRIALS}," in out


@pytest.mark.skipif(not MC_MAZE.exists(), reason="the shared MC_Maze_Small file is absent")
def test_the_real_mc_maze_file_names_the_window_it_observes(tmp_path, capsys):
    """NLB's MC_Maze_Small test file (NWB 2.4, no behaviour): units observed -0.25 to +0.45 s
    around move onset; info says so, and that window reads every trial end to end."""
    assert main(["info", str(MC_MAZE)]) == 0
    out = capsys.readouterr().out
    assert "107 units (with obs_intervals); 100 trials; time series: none" in out
    assert "around move_onset_time: (-0.25, 0.45) s observed by every unit in 100 of 100" in out
    assert "the window (-0.25, 0.45) s is observed around 100 of them" in out
    trials = load_trials(MC_MAZE, window_s=(-0.25, 0.45))
    assert (trials.n_trials, trials.n_time, trials.n_neurons) == (100, 35, 107)
    assert trials.behavior is None and trials.spikes.sum() > 0
    np.testing.assert_array_equal(trials.trial_info["trial_id"], np.arange(100))
