"""Trials of different lengths: `align_trials`, `split_concatenated`, the concatenated ``.npz``
layout read by `load_trials` and `neurognocchi convert`, and the shared centre-out files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from cli_checks import assert_cli_refuses
from neurognocchi.cli import main
from neurognocchi.data import AlignedTrials, align_trials, load_trials, split_concatenated
from neurognocchi.data.concatenated import read_concatenated

M1_CENTEROUT = Path(__file__).resolve().parents[2] / "shared" / "data" / "m1_centerout"

N_TRIALS, N_TIME, N_NEURONS = 6, 5, 3
BEFORE = np.array([0, 2, 1, 4, 0, 3])  # bins padded before each trial's window
AFTER = np.array([1, 0, 3, 2, 0, 1])  # and after it


@pytest.fixture
def aligned_data():
    """Known aligned arrays, and the same trials padded by different numbers of bins."""
    rng = np.random.default_rng(0)
    spikes = rng.poisson(2.0, (N_TRIALS, N_TIME, N_NEURONS))
    hand = rng.normal(size=(N_TRIALS, N_TIME, 2))
    speed = rng.normal(size=(N_TRIALS, N_TIME))

    def pad(array, k):
        before = np.full((BEFORE[k], *array.shape[1:]), 7, dtype=array.dtype)
        after = np.full((AFTER[k], *array.shape[1:]), 9, dtype=array.dtype)
        return np.concatenate([before, array, after])

    ragged = {
        name: [pad(array[k], k) for k in range(N_TRIALS)]
        for name, array in (("spikes", spikes), ("hand", hand), ("speed", speed))
    }
    return spikes, hand, speed, ragged


def _concatenated(counts, **arrays) -> dict:
    """The concatenated layout of per-trial ``counts`` (and per-bin ``arrays``)."""
    offsets = np.concatenate([[0], np.cumsum([len(trial) for trial in counts])])
    contents = {"spikes": np.concatenate(counts).astype(np.int16), "trial_offsets": offsets}
    return contents | arrays


# ---------------------------------------------------------------------- align_trials
def test_padded_trials_aligned_on_their_event_give_the_original_back(aligned_data):
    spikes, hand, speed, ragged = aligned_data
    condition = np.arange(N_TRIALS) % 2
    aligned = align_trials(
        ragged["spikes"],
        align=BEFORE,
        window=(0, N_TIME),
        behavior={"hand": ragged["hand"], "speed": ragged["speed"]},
        trial_info={"condition": condition},
        bin_size_s=0.1,
    )
    assert isinstance(aligned, AlignedTrials)
    trials = aligned.trials
    assert np.array_equal(trials.spikes, spikes)
    assert np.allclose(trials.activity, spikes / 0.1)
    assert np.array_equal(trials.behavior, np.concatenate([hand, speed[..., None]], 2).astype("f4"))
    assert trials.behavior_names == ("hand_x", "hand_y", "speed")
    assert np.array_equal(trials.trial_info["condition"], condition)
    assert aligned.kept.tolist() == list(range(N_TRIALS)) and aligned.dropped.size == 0
    assert aligned.window == (0, N_TIME)
    assert trials.bin_size_s == 0.1 and trials.align == "event [0, 0.5] s"


def test_a_window_around_the_event_reaches_before_it(aligned_data):
    spikes, _, _, ragged = aligned_data
    aligned = align_trials(ragged["spikes"], align=BEFORE + 2, window=(-2, 3))
    assert np.array_equal(aligned.trials.spikes, spikes)
    assert aligned.trials.align == "event bins [-2, 3)"
    assert np.array_equal(aligned.trials.activity, spikes)  # counts per bin: no bin width


def test_start_and_end_alignment():
    counts = [np.arange(n * 2).reshape(n, 2) for n in (4, 6, 5)]
    start = align_trials(counts, align="start", window=(0, 3)).trials.spikes
    assert [trial[:, 0].tolist() for trial in start] == [[0, 2, 4]] * 3
    end = align_trials(counts, align="end", window=(-2, 0)).trials.spikes
    assert [trial[:, 0].tolist() for trial in end] == [[4, 6], [8, 10], [6, 8]]
    same = align_trials(counts, align=1, window=(-1, 2)).trials.spikes
    assert np.array_equal(same, start)


def test_the_default_window_is_the_widest_every_trial_covers():
    counts = [np.ones((n, 2), dtype=int) for n in (4, 6, 5)]
    assert align_trials(counts).window == (0, 4)
    assert align_trials(counts, align="end").window == (-4, 0)
    assert align_trials(counts, align=[1, 5, 2]).window == (-1, 1)


def test_smoothing_uses_the_bins_around_the_window():
    counts = [np.zeros((9, 1), dtype=int) for _ in range(2)]
    counts[0][2] = 5  # a spike outside the window [3, 6) of trial 0 spreads into it
    aligned = align_trials(counts, window=(3, 6), bin_size_s=0.02, smooth_sigma_s=0.04)
    assert aligned.trials.activity[0, 0, 0] > 0 and not aligned.trials.activity[1].any()
    assert not aligned.trials.spikes.any()


def test_too_short_trials_are_refused_naming_them_or_dropped():
    counts = [np.ones((n, 2), dtype=int) for n in (4, 2, 6, 3, 5)]
    message = (
        r"window \(0, 4\) \(bins from the start\) does not fit in 2 of 5 trials: "
        r"trials 1 \(2 bins\), 3 \(3 bins\); too_short='drop' would drop these 2 of 5 trials"
    )
    with pytest.raises(ValueError, match=message):
        align_trials(counts, window=(0, 4))
    aligned = align_trials(counts, window=(0, 4), too_short="drop", trial_info={"id": [*"abcde"]})
    assert aligned.kept.tolist() == [0, 2, 4] and aligned.dropped.tolist() == [1, 3]
    assert aligned.trials.trial_info["id"].tolist() == ["a", "c", "e"]
    assert aligned.describe() == (
        "aligned on start bins [0, 4): kept 3 of 5 trials, dropped 2 too short (trials 1, 3)"
    )


def test_the_too_short_error_lists_a_few_trials_with_their_events():
    counts = [np.ones((3, 1), dtype=int)] * 8 + [np.ones((9, 1), dtype=int)]
    with pytest.raises(ValueError, match=r"trials 0 \(3 bins, event at 1\), .* and 3 more"):
        align_trials(counts, align=[1] * 9, window=(-1, 4))
    with pytest.raises(ValueError, match="no trial is long enough"):
        align_trials(counts, window=(0, 10), too_short="drop")


TWO = [np.ones((4, 2), dtype=int), np.ones((5, 2), dtype=int)]  # the counts of two trials
BAD_INPUTS = [
    (dict(counts=[]), "counts holds no trial"),
    (dict(counts="spikes"), "counts must be a sequence of per-trial arrays"),
    (dict(counts=[np.ones(4)]), r"counts\[0\] must have rank 2"),
    (dict(counts=[TWO[0], -TWO[1]]), r"counts\[1\] must be non-negative counts"),
    (dict(counts=[TWO[0], TWO[1] * 0.5]), r"counts\[1\] must be whole-number counts"),
    (dict(counts=[TWO[0], np.full((5, 2), np.nan)]), r"counts\[1\] contains 10 NaN"),
    (dict(counts=[TWO[0], np.ones((5, 3))]), r"same neurons: counts\[1\] has 3"),
    (dict(align="middle"), "align must be one of"),
    (dict(align=[0]), "align must be 'start', 'end', an int or one integer bin per trial"),
    (dict(align=[0.0, 1.0]), "align must be .* got shape \\(2,\\), dtype float64"),
    (dict(align=[0, 6]), "event of trial 1 at bin 6, outside the trial \\(0 to 5\\)"),
    (dict(align=-1), "event of trial 0 at bin -1"),
    (dict(window=(3, 3)), "window must be \\(start, stop\\) with start < stop"),
    (dict(window=(0, 2.5)), r"window\[1\] must be an int"),
    (dict(window=4), "window must be \\(start, stop\\) in bins"),
    (dict(too_short="pad"), "too_short must be one of"),
    (dict(bin_size_s=-1.0), "bin_size_s must be a positive number"),
    (dict(smooth_sigma_s=0.04), "smooth_sigma_s needs bin_size_s"),
    (dict(behavior={"hand": [np.ones(4)]}), r"behavior\['hand'\] must hold one array per"),
    (dict(behavior={"hand": [np.ones(4), np.ones(4)]}), r"\['hand'\]\[1\] has 4 bins but"),
    (dict(behavior={"v": [np.ones((4, 2)), np.ones((5, 1))]}), r"\['v'\]\[1\] has 1 channels"),
    (dict(behavior={"v": [np.ones(4), np.full(5, np.inf)]}), r"\['v'\]\[1\] contains 5 NaN"),
    (dict(behavior={"v": [np.ones((4, 1, 1)), np.ones(5)]}), r"\['v'\]\[0\] must be"),
    (dict(trial_info={"condition": [1, 2, 3]}), r"trial_info\['condition'\] must be 1-D"),
]


@pytest.mark.parametrize("kwargs, message", BAD_INPUTS)
def test_bad_input_is_refused_naming_the_argument(kwargs, message):
    kwargs = {"counts": TWO, **kwargs}
    with pytest.raises(ValueError, match=message):
        align_trials(kwargs.pop("counts"), **kwargs)


def test_an_empty_trial_leaves_no_common_window():
    counts = [np.ones((3, 1), dtype=int), np.ones((0, 1), dtype=int)]
    with pytest.raises(ValueError, match=r"window=None: .* trial 1 0 from it\); give a window"):
        align_trials(counts)
    assert align_trials(counts, window=(0, 2), too_short="drop").dropped.tolist() == [1]


# ---------------------------------------------------------------------- concatenated layout
def test_split_concatenated_cuts_rows_per_trial():
    trials = split_concatenated(np.arange(12).reshape(6, 2), np.array([0, 2, 2, 6]))
    assert [trial.shape for trial in trials] == [(2, 2), (0, 2), (4, 2)]
    assert trials[2][:, 0].tolist() == [4, 6, 8, 10]


@pytest.mark.parametrize(
    "offsets, message",
    [
        ([1, 6], "trial_offsets must start at 0 and end at the number of rows \\(6\\)"),
        ([0, 5], "must start at 0 and end at the number of rows \\(6\\); got 0 ... 5"),
        ([0, 4, 3, 6], r"never decrease; trial_offsets\[1\] = 4 > trial_offsets\[2\] = 3"),
        ([0.0, 6.0], "trial_offsets must be a 1-D integer array"),
        ([6], "trial_offsets must be a 1-D integer array of n_trials \\+ 1 >= 2"),
        ([[0, 6]], "trial_offsets must be a 1-D integer array"),
    ],
)
def test_bad_offsets_are_refused(offsets, message):
    with pytest.raises(ValueError, match=message):
        split_concatenated(np.zeros((6, 2)), np.array(offsets))


def test_read_concatenated_sorts_per_bin_and_per_trial_arrays(aligned_data):
    spikes, hand, _, ragged = aligned_data
    contents = _concatenated(
        ragged["spikes"],
        hand=np.concatenate(ragged["hand"]),
        go=BEFORE,
        bin_size_s=np.array(0.1),
        note=np.array("ignored"),
    )
    aligned = read_concatenated(contents, align="go", window_s=(0, 0.5), bin_size_s=0.02)
    assert np.array_equal(aligned.trials.spikes, spikes)
    assert np.allclose(aligned.trials.behavior, hand)
    assert aligned.trials.behavior_names == ("hand_x", "hand_y")
    assert sorted(aligned.trials.trial_info) == ["go", "trial_index"]
    assert aligned.trials.bin_size_s == 0.1  # the file's, not the argument
    assert aligned.trials.align == "go [0, 0.5] s"


@pytest.mark.parametrize(
    "change, kwargs, message",
    [
        ({"trial_offsets": None}, {}, r"need 'spikes' and 'trial_offsets'; missing \['trial_"),
        ({"spikes": np.zeros((3, 2, 1), int)}, {}, "spikes must be \\[total_bins, n_neurons\\]"),
        ({}, {"align": "go"}, "align must be 'start', 'end' or a per-trial column"),
        ({}, {"window_s": (0, 0.03)}, "window_s needs the bin width"),
        ({"bin_size_s": np.array(0.02)}, {"window_s": (0, 0.03)}, "not a whole number of bins"),
        ({"bin_size_s": np.array([0.1, 0.2])}, {}, "bin_size_s in the file must be one number"),
    ],
)
def test_bad_concatenated_contents_are_refused(change, kwargs, message):
    contents = _concatenated([np.ones((3, 1), int), np.ones((4, 1), int)]) | change
    contents = {key: value for key, value in contents.items() if value is not None}
    with pytest.raises(ValueError, match=message):
        read_concatenated(contents, **kwargs)


def test_load_trials_reads_the_concatenated_layout_and_warns_of_drops(tmp_path):
    path = tmp_path / "ragged.npz"
    counts = [np.full((n, 2), n) for n in (4, 2, 5)]
    np.savez(path, **_concatenated(counts, label=np.array([7, 8, 9]), bin_size_s=0.05))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_trials(path).spikes.shape == (3, 2, 2)
    with pytest.warns(UserWarning, match="kept 2 of 3 trials, dropped 1 too short \\(trials 1\\)"):
        trials = load_trials(path, window_s=(0, 0.2), too_short="drop", smooth_sigma_s=0.05)
    assert trials.trial_info["trial_index"].tolist() == [0, 2]
    assert trials.trial_info["label"].tolist() == [7, 9]
    with pytest.raises(ValueError, match=r"'variable'\] do not apply to trials of different"):
        load_trials(path, variable="x")


# ---------------------------------------------------------------------- neurognocchi convert
def _ragged_file(folder) -> Path:
    counts = [np.full((n, 3), n) for n in (6, 3, 8, 5)]
    path = folder / "ragged.npz"
    vel = np.arange(22 * 2, dtype=float).reshape(22, 2)
    contents = _concatenated(counts, vel=vel, go=np.array([2, 1, 4, 3]), direction=np.arange(4))
    np.savez(path, **contents, bin_size_s=np.array(0.1))
    return path


def test_convert_aligns_and_drops_the_short_trials(tmp_path, capsys):
    path, out = _ragged_file(tmp_path), tmp_path / "trials.npz"
    argv = ["convert", str(path), "--out", str(out), "--align", "end", "--window", "-0.4", "0"]
    assert main([*argv, "--drop-short", "--smooth", "0"]) == 0
    printed = capsys.readouterr().out
    assert "kept 3 of 4 trials, dropped 1 too short (trials 1)" in printed
    trials = load_trials(out)
    assert trials.spikes.shape == (3, 4, 3) and trials.spikes[:, 0, 0].tolist() == [6, 8, 5]
    assert trials.behavior_names == ("vel_x", "vel_y")
    assert trials.trial_info["direction"].tolist() == [0, 2, 3]
    assert trials.align == "end [-0.4, 0] s" and trials.bin_size_s == 0.1
    assert np.allclose(trials.activity, trials.spikes / 0.1)


def test_convert_defaults_to_the_common_window_from_the_start(tmp_path, capsys):
    path, out = _ragged_file(tmp_path), tmp_path / "trials.npz"
    assert main(["convert", str(path), "--out", str(out), "--align", "go"]) == 0
    assert "aligned on go [-0.1, 0.2] s: kept 4 of 4 trials" in capsys.readouterr().out
    assert main(["convert", str(path), "--out", str(out), "--overwrite"]) == 0
    assert load_trials(out).n_time == 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--window", "-0.4", "0", "--align", "end"], "--drop-short would drop these 1 of 4"),
        (["--window", "0", "0.45"], "not a whole number of bins"),
        (["--align", "target"], "per-trial columns: go, direction, trial_index"),
    ],
)
def test_convert_refusals_write_nothing(tmp_path, capsys, extra, message):
    path = _ragged_file(tmp_path)
    argv = ["convert", path, "--out", tmp_path / "trials.npz", *extra]
    assert_cli_refuses(argv, message, tmp_path, capsys)


def test_drop_short_is_refused_for_other_files(tmp_path, capsys):
    path = tmp_path / "plain.npz"
    np.savez(path, activity=np.ones((2, 3, 4)))
    argv = ["convert", path, "--out", tmp_path / "trials.npz", "--drop-short"]
    assert_cli_refuses(
        argv, "--drop-short applies to trials of different lengths", tmp_path, capsys
    )


# ---------------------------------------------------------------------- the shared recordings
@pytest.mark.skipif(not M1_CENTEROUT.is_dir(), reason="../shared/data/m1_centerout is absent")
@pytest.mark.parametrize(
    "name, n_trials, n_neurons, shortest",
    [
        ("chewie_10032013_bin100ms_vel_thresh5.00.npz", 159, 174, 4),
        ("mihi_03032014_bin100ms_vel_thresh5.00.npz", 209, 187, 4),
        ("chewie_10032013_bin50ms_vel_thresh5.00.npz", 159, 174, 7),
    ],
)
def test_the_shared_centre_out_sessions(name, n_trials, n_neurons, shortest):
    path = M1_CENTEROUT / name
    trials = load_trials(path)  # every trial, cropped to the shortest from its start
    assert trials.spikes.shape == (n_trials, shortest, n_neurons)
    assert trials.behavior_names[-8:] == (
        *("pos_x", "pos_y", "vel_x", "vel_y"),
        *("acc_x", "acc_y", "force_x", "force_y"),
    )
    assert sorted(set(trials.trial_info["direction"].tolist())) == list(range(8))
    with np.load(path) as archive:
        raw = dict(archive)
    offsets = raw["trial_offsets"]
    assert np.array_equal(trials.spikes[:, 0], raw["spikes"][offsets[:-1]])  # each first bin
    aligned = read_concatenated(raw, align="end", window_s=(-0.5, 0), too_short="drop")
    lengths = np.diff(offsets)
    assert (
        aligned.dropped.tolist()
        == np.flatnonzero(lengths < round(0.5 / trials.bin_size_s)).tolist()
    )
    last = raw["spikes"][offsets[1:][aligned.kept] - 1]
    assert np.array_equal(aligned.trials.spikes[:, -1], last)  # each kept trial's last bin
