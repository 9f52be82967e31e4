"""Validation, indexing, selection, npz round trips and repr of `Trials`."""

from __future__ import annotations

import os

import numpy as np
import pytest

from neurognocchi.data import Trials

N_TRIALS, N_TIME, N_NEURONS, N_BEHAVIOR = 6, 4, 3, 2


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (N_TRIALS, N_TIME, N_NEURONS)
    return {
        "activity": rng.normal(size=shape).astype(np.float32),
        "spikes": rng.poisson(2.0, size=shape).astype(np.int32),
        "truth": rng.uniform(1.0, 5.0, size=shape).astype(np.float32),
        "behavior": rng.normal(size=(N_TRIALS, N_TIME, N_BEHAVIOR)).astype(np.float32),
    }


def _trial_info() -> dict[str, np.ndarray]:
    return {
        "trial_id": np.arange(100, 100 + N_TRIALS),
        "condition": np.array([0, 1, 2, 3, 0, 1]),
        "heldout": np.array([False, False, True, False, False, True]),
        "start_x": np.linspace(-1.0, 1.0, N_TRIALS),
        "label": np.array(["a", "b", "c", "d", "e", "f"]),
    }


def _make(**changes) -> Trials:
    arrays = _arrays()
    fields = dict(
        spikes=arrays["spikes"],
        truth=arrays["truth"],
        behavior=arrays["behavior"],
        behavior_names=("hand_x", "hand_y"),
        trial_info=_trial_info(),
        bin_size_s=0.02,
        align="go_cue [-0.2, 0.8] s",
    )
    fields.update(changes)
    activity = fields.pop("activity", arrays["activity"])
    return Trials(activity, **fields)


@pytest.fixture
def trials() -> Trials:
    return _make()


# ---------------------------------------------------------------------- construction


def test_valid_construction_stores_fields(trials):
    arrays = _arrays()
    assert trials.activity.dtype == np.float32
    assert np.array_equal(trials.activity, arrays["activity"])
    assert np.array_equal(trials.spikes, arrays["spikes"])
    assert np.issubdtype(trials.spikes.dtype, np.integer)
    assert (trials.n_trials, trials.n_time, trials.n_neurons) == (N_TRIALS, N_TIME, N_NEURONS)
    assert len(trials) == N_TRIALS
    assert trials.behavior_names == ("hand_x", "hand_y")
    assert trials.bin_size_s == 0.02
    assert trials.align == "go_cue [-0.2, 0.8] s"


def test_activity_is_converted_to_float32():
    activity = np.ones((2, 3, 4), dtype=np.float64)
    assert Trials(activity).activity.dtype == np.float32
    assert Trials(np.ones((2, 3, 4), dtype=np.int64)).activity.dtype == np.float32


def test_float_whole_number_spikes_are_stored_as_integers():
    counts = np.array([[[0.0, 1.0], [2.0, 3.0]]])
    trials = Trials(np.zeros((1, 2, 2)), spikes=counts)
    assert np.issubdtype(trials.spikes.dtype, np.integer)
    assert np.array_equal(trials.spikes, [[[0, 1], [2, 3]]])


def test_default_behavior_names():
    trials = Trials(np.zeros((2, 3, 1)), behavior=np.zeros((2, 3, 3)))
    assert trials.behavior_names == ("b0", "b1", "b2")


@pytest.mark.parametrize("field", ["activity", "truth", "behavior", "spikes"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_rejected(field, bad):
    arrays = _arrays()
    array = arrays[field].astype(np.float64)
    array[1, 2, 0] = bad
    with pytest.raises(ValueError, match=rf"{field} contains 1 NaN or infinite"):
        _make(**{field: array})


def test_negative_counts_are_rejected():
    spikes = _arrays()["spikes"].copy()
    spikes[0, 0, 0] = -1
    with pytest.raises(ValueError, match="spikes must be non-negative"):
        _make(spikes=spikes)


def test_non_integer_counts_are_rejected():
    spikes = _arrays()["spikes"].astype(float)
    spikes[0, 1, 2] = 1.5
    with pytest.raises(ValueError, match="spikes must be whole-number"):
        _make(spikes=spikes)


@pytest.mark.parametrize("field", ["activity", "spikes", "truth", "behavior"])
@pytest.mark.parametrize("shape", [(N_TRIALS, N_TIME), (N_TRIALS, N_TIME, N_NEURONS, 1)])
def test_wrong_rank_is_rejected(field, shape):
    with pytest.raises(ValueError, match=rf"{field} must have rank 3"):
        _make(**{field: np.zeros(shape)})


def test_non_numeric_activity_is_rejected():
    with pytest.raises(TypeError, match="activity must be a numeric array"):
        Trials(np.full((1, 2, 2), "x"))


@pytest.mark.parametrize("field", ["spikes", "truth"])
@pytest.mark.parametrize(
    "shape",
    [
        (N_TRIALS - 1, N_TIME, N_NEURONS),
        (N_TRIALS, N_TIME + 1, N_NEURONS),
        (N_TRIALS, N_TIME, N_NEURONS + 1),
    ],
)
def test_shape_mismatch_with_activity_is_rejected(field, shape):
    with pytest.raises(ValueError, match=rf"{field} must have the shape of activity"):
        _make(**{field: np.zeros(shape)})


@pytest.mark.parametrize(
    "shape", [(N_TRIALS + 1, N_TIME, N_BEHAVIOR), (N_TRIALS, N_TIME - 1, N_BEHAVIOR)]
)
def test_behavior_with_wrong_trials_or_time_is_rejected(shape):
    with pytest.raises(ValueError, match="behavior must have the same n_trials and n_time"):
        _make(behavior=np.zeros(shape))


def test_behavior_with_other_channel_count_is_allowed():
    trials = _make(behavior=np.zeros((N_TRIALS, N_TIME, 5)), behavior_names=None)
    assert trials.behavior.shape == (N_TRIALS, N_TIME, 5)


def test_behavior_names_length_mismatch_is_rejected():
    with pytest.raises(ValueError, match="behavior_names has 3 names for 2"):
        _make(behavior_names=("x", "y", "z"))


def test_behavior_names_without_behavior_is_rejected():
    with pytest.raises(ValueError, match="behavior_names was given without behavior"):
        _make(behavior=None, behavior_names=("x", "y"))


def test_trial_info_column_of_wrong_length_is_rejected():
    info = _trial_info() | {"target_x": np.zeros(N_TRIALS + 1)}
    with pytest.raises(ValueError, match=r"trial_info\['target_x'\] must be 1-D"):
        _make(trial_info=info)


def test_trial_info_2d_column_is_rejected():
    info = _trial_info() | {"target": np.zeros((N_TRIALS, 2))}
    with pytest.raises(ValueError, match=r"trial_info\['target'\] must be 1-D"):
        _make(trial_info=info)


def test_trial_info_object_column_is_rejected():
    column = np.array([{"a": i} for i in range(N_TRIALS)], dtype=object)
    with pytest.raises(TypeError, match=r"trial_info\['meta'\] must hold numbers"):
        _make(trial_info=_trial_info() | {"meta": column})


@pytest.mark.parametrize(
    ("shape", "what"),
    [
        ((0, N_TIME, N_NEURONS), "0 trials"),
        ((N_TRIALS, 0, N_NEURONS), "0 time bins"),
        ((N_TRIALS, N_TIME, 0), "0 neurons"),
    ],
)
def test_empty_dimensions_are_rejected(shape, what):
    with pytest.raises(ValueError, match=f"activity has {what}"):
        Trials(np.zeros(shape))


@pytest.mark.parametrize("bin_size_s", [0.0, -0.01, np.nan, np.inf])
def test_bad_bin_size_value_is_rejected(bin_size_s):
    with pytest.raises(ValueError, match="bin_size_s must be a positive number"):
        _make(bin_size_s=bin_size_s)


@pytest.mark.parametrize("bin_size_s", ["0.02", True, [0.02]])
def test_bin_size_not_a_number_is_rejected(bin_size_s):
    with pytest.raises(TypeError, match="bin_size_s must be a number"):
        _make(bin_size_s=bin_size_s)


def test_bin_size_none_and_int_are_accepted():
    assert _make(bin_size_s=None).bin_size_s is None
    assert _make(bin_size_s=1).bin_size_s == 1.0


@pytest.mark.parametrize("align", [None, 0.5, b"go"])
def test_align_not_a_str_is_rejected(align):
    with pytest.raises(TypeError, match="align must be a str"):
        _make(align=align)


# ---------------------------------------------------------------------- indexing


def _assert_trial_carried(subset: Trials, position: int, original: Trials, trial: int):
    for name in ("activity", "spikes", "truth", "behavior"):
        assert np.array_equal(getattr(subset, name)[position], getattr(original, name)[trial])
    for key, column in original.trial_info.items():
        assert subset.trial_info[key][position] == column[trial]
    assert subset.behavior_names == original.behavior_names
    assert subset.bin_size_s == original.bin_size_s
    assert subset.align == original.align


@pytest.mark.parametrize(("index", "trial"), [(0, 0), (4, 4), (-1, 5), (-6, 0), (np.int64(2), 2)])
def test_int_index_gives_one_trial(trials, index, trial):
    subset = trials[index]
    assert isinstance(subset, Trials)
    assert subset.n_trials == 1
    assert subset.activity.shape == (1, N_TIME, N_NEURONS)
    _assert_trial_carried(subset, 0, trials, trial)


@pytest.mark.parametrize("index", [6, -7, 100])
def test_int_index_out_of_range(trials, index):
    with pytest.raises(IndexError, match="out of range"):
        trials[index]


def test_slice_index(trials):
    subset = trials[1:5:2]
    assert subset.n_trials == 2
    assert subset.trial_info["trial_id"].tolist() == [101, 103]
    _assert_trial_carried(subset, 1, trials, 3)


def test_integer_array_index_keeps_order(trials):
    subset = trials[np.array([5, 0, 3])]
    assert subset.trial_info["trial_id"].tolist() == [105, 100, 103]
    assert subset.trial_info["label"].tolist() == ["f", "a", "d"]
    _assert_trial_carried(subset, 0, trials, 5)
    _assert_trial_carried(subset, 2, trials, 3)
    assert trials[[5, 0]].trial_info["trial_id"].tolist() == [105, 100]


def test_boolean_mask_index(trials):
    mask = np.array([True, False, False, True, False, True])
    subset = trials[mask]
    assert subset.n_trials == 3
    assert subset.trial_info["trial_id"].tolist() == [100, 103, 105]
    for name in ("activity", "spikes", "truth", "behavior"):
        assert np.array_equal(getattr(subset, name), getattr(trials, name)[mask])
    _assert_trial_carried(subset, 1, trials, 3)


def test_boolean_mask_of_wrong_length(trials):
    with pytest.raises(IndexError, match="boolean mask must have shape"):
        trials[np.ones(N_TRIALS - 1, dtype=bool)]


def test_non_integer_index_is_rejected(trials):
    with pytest.raises(IndexError, match="cannot index trials"):
        trials[np.array([0.5, 1.0])]


def test_indexing_without_optional_fields():
    trials = Trials(np.arange(24, dtype=float).reshape(4, 3, 2))
    subset = trials[[1, 2]]
    assert subset.spikes is None and subset.truth is None and subset.behavior is None
    assert subset.behavior_names == ()
    assert np.array_equal(subset.activity, trials.activity[1:3])


# ---------------------------------------------------------------------- info / select


def test_info_returns_column(trials):
    assert np.array_equal(trials.info("condition"), [0, 1, 2, 3, 0, 1])


def test_info_unknown_key_lists_available(trials):
    with pytest.raises(KeyError, match="available: trial_id, condition, heldout"):
        trials.info("target_x")


def test_select_single_value(trials):
    subset = trials.select(heldout=False)
    assert subset.trial_info["trial_id"].tolist() == [100, 101, 103, 104]
    assert not subset.trial_info["heldout"].any()
    _assert_trial_carried(subset, 2, trials, 3)


def test_select_list_of_values(trials):
    subset = trials.select(condition=[0, 3])
    assert subset.trial_info["trial_id"].tolist() == [100, 103, 104]
    assert set(subset.trial_info["condition"].tolist()) == {0, 3}


def test_select_several_criteria(trials):
    subset = trials.select(condition=[1, 2], heldout=True)
    assert subset.trial_info["trial_id"].tolist() == [102, 105]


def test_select_string_column(trials):
    assert trials.select(label="c").trial_info["trial_id"].tolist() == [102]


def test_select_unknown_key(trials):
    with pytest.raises(KeyError, match=r"available: .*condition"):
        trials.select(target=1)


def test_select_unknown_value(trials):
    with pytest.raises(ValueError, match="condition has no trials with value"):
        trials.select(condition=[0, 7])


# ---------------------------------------------------------------------- repr


def test_repr_shows_shape_fields_and_keys(trials):
    text = repr(trials)
    assert f"n_trials={N_TRIALS}" in text
    assert f"n_time={N_TIME}" in text
    assert f"n_neurons={N_NEURONS}" in text
    assert "20 ms" in text
    assert "activity, spikes, truth, behavior[hand_x, hand_y]" in text
    assert "trial_info: trial_id, condition, heldout, start_x, label" in text
    assert "go_cue [-0.2, 0.8] s" in text


def test_repr_minimal():
    text = repr(Trials(np.zeros((2, 3, 4))))
    assert "bin_size=unknown" in text
    assert "fields: activity\n" in text
    assert "trial_info: (none)" in text
    assert "spikes" not in text


# ---------------------------------------------------------------------- npz round trip


def _assert_same(a: Trials, b: Trials):
    for name in ("activity", "spikes", "truth", "behavior"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None:
            assert y is None
        else:
            assert x.dtype == y.dtype
            assert np.array_equal(x, y)
    assert list(a.trial_info) == list(b.trial_info)
    for key in a.trial_info:
        assert a.trial_info[key].dtype == b.trial_info[key].dtype
        assert np.array_equal(a.trial_info[key], b.trial_info[key])
    assert a.behavior_names == b.behavior_names
    assert a.bin_size_s == b.bin_size_s
    assert a.align == b.align


def test_npz_round_trip_is_lossless(trials, tmp_path):
    path = trials.save(tmp_path / "trials.npz")
    assert path == tmp_path / "trials.npz"
    loaded = Trials.load(path)
    _assert_same(trials, loaded)
    assert loaded.trial_info["label"].dtype.kind == "U"
    assert loaded.trial_info["heldout"].dtype == bool
    assert loaded.trial_info["start_x"].dtype == np.float64
    assert loaded.trial_info["trial_id"].dtype == np.int64


def test_npz_round_trip_keeps_odd_bin_size_and_int64_spikes(tmp_path):
    spikes = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    trials = Trials(np.zeros((2, 3, 4)), spikes=spikes, bin_size_s=1 / 3, align="")
    loaded = Trials.load(trials.save(str(tmp_path / "a.npz")))
    assert loaded.bin_size_s == 1 / 3
    assert loaded.spikes.dtype == np.int64
    _assert_same(trials, loaded)


def test_npz_round_trip_minimal(tmp_path):
    trials = Trials(np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    loaded = Trials.load(trials.save(tmp_path / "nested" / "dir" / "min.npz"))
    assert loaded.bin_size_s is None
    assert loaded.trial_info == {}
    _assert_same(trials, loaded)


def test_save_requires_npz_suffix(trials, tmp_path):
    with pytest.raises(ValueError, match=r"path must end in \.npz"):
        trials.save(tmp_path / "trials.npy")
    assert not any(tmp_path.iterdir())


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        Trials.load(tmp_path / "missing.npz")


def test_load_plain_npz_points_to_load_trials(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, activity=np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="load_trials"):
        Trials.load(path)


def test_load_garbage_file(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"this is not an npz archive" * 10)
    with pytest.raises(ValueError, match=r"not a readable \.npz file"):
        Trials.load(path)


def test_load_truncated_npz(trials, tmp_path):
    path = trials.save(tmp_path / "trials.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"not a readable \.npz file"):
        Trials.load(path)


def test_load_npz_with_corrupted_bytes(trials, tmp_path):
    path = trials.save(tmp_path / "trials.npz")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"not a readable \.npz file"):
        Trials.load(path)


def test_load_npy_content_under_npz_name(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"not a readable \.npz file"):
        Trials.load(path)


def test_load_npz_with_foreign_meta(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, activity=np.zeros((2, 3, 4)), meta=np.array('{"format": "other"}'))
    with pytest.raises(ValueError, match="unsupported format"):
        Trials.load(path)


def test_save_is_atomic_when_writing_fails(trials, tmp_path, monkeypatch):
    path = tmp_path / "trials.npz"
    original = Trials(np.ones((1, 2, 3)), bin_size_s=0.01)
    original.save(path)
    before = path.read_bytes()

    def failing_savez(handle, **arrays):
        handle.write(b"PK\x03\x04 half written " * 100)
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        trials.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["trials.npz"]
    monkeypatch.undo()
    _assert_same(original, Trials.load(path))
