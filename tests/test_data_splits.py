"""Random, stratified and by-condition splits of `Trials` and `split_indices`."""

from __future__ import annotations

import numpy as np
import pytest

from neurognocchi.data import Trials
from neurognocchi.data.splits import split_indices


def _trials(condition_sizes=(5, 6, 7, 8, 9, 10, 11), seed: int = 0) -> Trials:
    """Trials with a unique ``trial_id`` and conditions of the given sizes, in shuffled order."""
    rng = np.random.default_rng(seed)
    condition = rng.permutation(np.repeat(np.arange(len(condition_sizes)), condition_sizes))
    n_trials = len(condition)
    activity = rng.normal(size=(n_trials, 3, 2))
    return Trials(
        activity,
        trial_info={
            "trial_id": np.arange(n_trials) + 1000,
            "condition": condition,
            "heldout": np.isin(condition, [1, 4]),
        },
        bin_size_s=0.01,
    )


def _ids(trials: Trials) -> np.ndarray:
    return trials.trial_info["trial_id"]


def _assert_partition(parts, trials: Trials):
    ids = [_ids(part) for part in parts]
    joined = np.concatenate(ids)
    assert len(joined) == trials.n_trials
    assert len(np.unique(joined)) == trials.n_trials  # disjoint
    assert set(joined.tolist()) == set(_ids(trials).tolist())  # union = all
    for part in parts:
        # Each part's rows belong together: activity matches the original trial with that id.
        rows = _ids(part) - 1000
        assert np.array_equal(part.activity, trials.activity[rows])
        assert np.array_equal(part.trial_info["condition"], trials.trial_info["condition"][rows])


def test_split_partitions_trials():
    trials = _trials()
    train, valid = trials.split((0.8, 0.2))
    _assert_partition((train, valid), trials)
    assert abs(valid.n_trials - 0.2 * trials.n_trials) <= 1
    assert train.bin_size_s == trials.bin_size_s


@pytest.mark.parametrize("fractions", [(0.8, 0.2), (0.7, 0.3), (0.5, 0.5)])
@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_split_is_stratified_by_condition(fractions, random_state):
    trials = _trials()
    parts = trials.split(fractions, random_state=random_state)
    _assert_partition(parts, trials)
    conditions, sizes = np.unique(trials.trial_info["condition"], return_counts=True)
    for part, fraction in zip(parts, fractions, strict=True):
        for condition, size in zip(conditions, sizes, strict=True):
            count = int(np.sum(part.trial_info["condition"] == condition))
            assert count >= 1, f"condition {condition} missing from a part"
            assert abs(count - fraction * size) <= 1


def test_three_way_split():
    trials = _trials(condition_sizes=(10,) * 7)
    fractions = (0.6, 0.2, 0.2)
    parts = trials.split(fractions, random_state=3)
    assert len(parts) == 3
    _assert_partition(parts, trials)
    for part, fraction in zip(parts, fractions, strict=True):
        assert abs(part.n_trials - fraction * trials.n_trials) <= 1
        for condition in range(7):
            count = int(np.sum(part.trial_info["condition"] == condition))
            assert abs(count - fraction * 10) <= 1


def test_split_without_stratification():
    trials = _trials()
    train, valid = trials.split((0.75, 0.25), stratify_by=None, random_state=5)
    _assert_partition((train, valid), trials)
    assert abs(valid.n_trials - 0.25 * trials.n_trials) <= 1


def test_split_stratify_by_missing_column_falls_back_to_random():
    trials = _trials()
    train, valid = trials.split((0.5, 0.5), stratify_by="no_such_column")
    _assert_partition((train, valid), trials)


def test_split_is_reproducible_and_seed_dependent():
    trials = _trials()
    first = trials.split((0.8, 0.2), random_state=7)
    again = trials.split((0.8, 0.2), random_state=7)
    other = trials.split((0.8, 0.2), random_state=8)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(_ids(a), _ids(b))
    assert not np.array_equal(_ids(first[1]), _ids(other[1]))


def test_split_too_few_trials():
    trials = _trials(condition_sizes=(1, 1))
    with pytest.raises(ValueError, match="too few trials"):
        trials.split((0.2, 0.2, 0.6))


@pytest.mark.parametrize(
    "fractions", [(0.5, 0.4), (0.7, 0.7), (1.2, -0.2), (0.5, 0.0, 0.5), (1.0,), 1.0, ()]
)
def test_split_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        _trials().split(fractions)


def test_split_by_condition_uses_heldout_column():
    trials = _trials()
    held_in, held_out = trials.split_by_condition()
    _assert_partition((held_in, held_out), trials)
    assert set(held_out.trial_info["condition"].tolist()) == {1, 4}
    assert held_out.trial_info["heldout"].all()
    assert not held_in.trial_info["heldout"].any()
    assert held_out.n_trials == 6 + 9


def test_split_by_condition_with_explicit_list():
    trials = _trials()
    held_in, held_out = trials.split_by_condition([0, 6])
    _assert_partition((held_in, held_out), trials)
    assert set(held_out.trial_info["condition"].tolist()) == {0, 6}
    assert set(held_in.trial_info["condition"].tolist()) == {1, 2, 3, 4, 5}


def test_split_by_condition_with_other_key():
    trials = _trials()
    held_in, held_out = trials.split_by_condition([1000, 1001], key="trial_id")
    assert _ids(held_out).tolist() == [1000, 1001]
    assert held_in.n_trials == trials.n_trials - 2


def test_split_by_condition_unknown_condition():
    with pytest.raises(ValueError, match=r"unknown condition value\(s\)"):
        _trials().split_by_condition([2, 99])


def test_split_by_condition_all_held_out():
    with pytest.raises(ValueError, match="needs trials on both sides"):
        _trials(condition_sizes=(3, 4)).split_by_condition([0, 1])


def test_split_by_condition_none_held_out():
    trials = _trials()
    trials.trial_info["heldout"] = np.zeros(trials.n_trials, dtype=bool)
    with pytest.raises(ValueError, match="needs trials on both sides"):
        trials.split_by_condition()


def test_split_by_condition_without_heldout_column():
    trials = Trials(np.zeros((4, 2, 1)), trial_info={"condition": np.array([0, 0, 1, 1])})
    with pytest.raises(KeyError, match="heldout"):
        trials.split_by_condition()


# ---------------------------------------------------------------------- split_indices


@pytest.mark.parametrize("fractions", [(0.8, 0.2), (0.6, 0.2, 0.2)])
def test_split_indices_single_trial_per_label(fractions):
    n_trials = 10
    labels = np.arange(n_trials)[::-1]
    parts = split_indices(n_trials, fractions, labels=labels, random_state=0)
    assert len(parts) == len(fractions)
    assert all(len(part) >= 1 for part in parts)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n_trials))
    for part, fraction in zip(parts, fractions, strict=True):
        assert abs(len(part) - fraction * n_trials) <= 1
        assert np.array_equal(part, np.sort(part))
        assert part.dtype == np.intp


def test_split_indices_string_labels():
    labels = np.array(["a", "b"] * 10)
    train, valid = split_indices(20, (0.5, 0.5), labels=labels, random_state=1)
    assert sorted(labels[train].tolist()) == ["a"] * 5 + ["b"] * 5
    assert sorted(labels[valid].tolist()) == ["a"] * 5 + ["b"] * 5


def test_split_indices_labels_of_wrong_length():
    with pytest.raises(ValueError, match="labels has length 3; expected 4"):
        split_indices(4, (0.5, 0.5), labels=np.arange(3))


def test_split_indices_too_few():
    with pytest.raises(ValueError, match="too few trials"):
        split_indices(1, (0.5, 0.5))
