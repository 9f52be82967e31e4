"""Property-based tests (hypothesis): `Trials` validation, `split_indices` and the metrics."""

from __future__ import annotations

import math
import os
import re
import string
import tempfile

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from neurognocchi.data import Trials
from neurognocchi.data.splits import split_indices
from neurognocchi.evaluation import (
    code_regression_r2,
    condition_snr,
    correlation_rmse,
    direction_cosines,
    per_neuron_r2,
    pooled_r2,
    sample_statistics,
)
from neurognocchi.evaluation.metrics import to_db

FAST = settings(max_examples=40, deadline=None)  # deadline=None: the machine is shared

SHAPES = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6)
FLOATS = st.floats(-1e3, 1e3, width=32)  # finite, and exact in float32 and float64
SMALL_INTS = st.integers(-20, 20).map(float)  # sums of these are exact: no rounding surprises
# No tiny non-zero values, whose squares underflow (a column of them has no usable norm).
MODERATE = st.floats(-1e3, 1e3).map(lambda x: x if abs(x) >= 1e-3 else 0.0)
KEYS = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=8)
FIELDS = ("activity", "spikes", "truth", "behavior")


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-9)


def _counts(shape):
    """Non-negative whole-number counts, stored as integers or as whole floats."""
    integers = hnp.arrays(
        st.sampled_from([np.uint8, np.int16, np.int32, np.int64]),
        shape,
        elements=st.integers(0, 100),
    )
    whole_floats = hnp.arrays(np.float64, shape, elements=st.integers(0, 1000).map(float))
    return integers | whole_floats


def _info_column(n_trials: int):
    ints = hnp.arrays(np.int64, n_trials, elements=st.integers(-(2**62), 2**62))
    floats = hnp.arrays(np.float64, n_trials)  # NaN and inf are allowed in trial_info
    bools = hnp.arrays(bool, n_trials)
    strings = st.lists(st.text(max_size=4), min_size=n_trials, max_size=n_trials).map(np.array)
    return ints | floats | bools | strings


@st.composite
def _trials(draw) -> Trials:
    shape = draw(SHAPES)
    n_trials, n_time, _ = shape
    n_behavior = draw(st.integers(1, 3))
    behavior = draw(
        st.none() | hnp.arrays(np.float32, (n_trials, n_time, n_behavior), elements=FLOATS)
    )
    names = st.lists(st.text(max_size=6), min_size=n_behavior, max_size=n_behavior)
    return Trials(
        draw(hnp.arrays(np.float32, shape, elements=FLOATS)),
        spikes=draw(st.none() | _counts(shape)),
        truth=draw(st.none() | hnp.arrays(np.float32, shape, elements=FLOATS)),
        behavior=behavior,
        behavior_names=None if behavior is None else draw(st.none() | names),
        trial_info=draw(st.dictionaries(KEYS, _info_column(n_trials), max_size=4)),
        bin_size_s=draw(
            st.none()
            | st.floats(min_value=0, exclude_min=True, allow_infinity=False)
            | st.integers(1, 10)
        ),
        align=draw(st.text(max_size=12)),
    )


def _assert_same_trials(a: Trials, b: Trials):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert list(a.trial_info) == list(b.trial_info)
    for key, column in a.trial_info.items():
        assert column.dtype == b.trial_info[key].dtype
        assert np.array_equal(column, b.trial_info[key], equal_nan=column.dtype.kind == "f")
    assert (a.behavior_names, a.bin_size_s, a.align) == (b.behavior_names, b.bin_size_s, b.align)


def _position(shape):
    return st.tuples(*(st.integers(0, size - 1) for size in shape))


# ---------------------------------------------------------------------- Trials: construction


@FAST
@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), SHAPES, elements=FLOATS))
def test_finite_activity_constructs_float32_trials(activity):
    trials = Trials(activity)
    assert trials.activity.dtype == np.float32
    assert np.array_equal(trials.activity, activity.astype(np.float32))
    assert (trials.n_trials, trials.n_time, trials.n_neurons) == activity.shape


@FAST
@given(
    field=st.sampled_from(["activity", "truth", "behavior"]),
    value=st.floats(min_value=-1e300, max_value=1e300),
)
@example(field="activity", value=1e39)
def test_stored_float_fields_are_finite_for_any_finite_input(field, value):
    array = np.full((2, 3, 2), value)
    fields = {"activity": np.zeros_like(array)} | {field: array}
    try:
        trials = Trials(fields.pop("activity"), **fields)
    except ValueError:
        return  # refusing a value float32 cannot hold is fine
    assert np.all(np.isfinite(getattr(trials, field)))


@FAST
@given(
    data=st.data(),
    field=st.sampled_from(FIELDS),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_a_non_finite_value_anywhere_is_rejected(data, field, bad):
    shape = data.draw(SHAPES, label="shape")
    if field == "behavior":
        shape = (*shape[:2], data.draw(st.integers(1, 4), label="n_behavior"))
    elements = st.integers(0, 100).map(float) if field == "spikes" else FLOATS
    array = data.draw(hnp.arrays(np.float64, shape, elements=elements), label=field)
    array[data.draw(_position(shape), label="position")] = bad
    fields = {"activity": np.zeros((*shape[:2], 1))} | {field: array}
    if field in ("spikes", "truth"):
        fields["activity"] = np.zeros(shape)
    with pytest.raises(ValueError, match=rf"{field} contains 1 NaN or infinite values"):
        Trials(fields.pop("activity"), **fields)


@FAST
@given(data=st.data())
def test_whole_number_counts_are_accepted(data):
    shape = data.draw(SHAPES)
    spikes = data.draw(_counts(shape))
    trials = Trials(np.zeros(shape), spikes=spikes)
    assert np.issubdtype(trials.spikes.dtype, np.integer)
    assert np.array_equal(trials.spikes, spikes)


@FAST
@given(st.integers(0, 2**53).map(float))
@example(2.0**31)
def test_large_whole_number_counts_keep_their_value_or_are_rejected(count):
    try:
        trials = Trials(np.zeros((1, 1, 2)), spikes=np.full((1, 1, 2), count))
    except ValueError:
        return
    assert np.all(trials.spikes == count)


@FAST
@given(
    data=st.data(),
    negative=st.integers(-1000, -1) | st.floats(-1e3, -1e-6),
    as_float=st.booleans(),
)
def test_a_negative_count_anywhere_is_rejected(data, negative, as_float):
    shape = data.draw(SHAPES)
    spikes = data.draw(
        hnp.arrays(np.float64 if as_float else np.int64, shape, elements=st.integers(0, 50))
    )
    if not as_float:
        negative = math.floor(negative)
    spikes[data.draw(_position(shape))] = negative
    with pytest.raises(ValueError, match="spikes must be non-negative counts"):
        Trials(np.zeros(shape), spikes=spikes)


@FAST
@given(data=st.data(), whole=st.integers(0, 1000), fraction=st.floats(0.001, 0.999))
def test_a_fractional_count_anywhere_is_rejected(data, whole, fraction):
    shape = data.draw(SHAPES)
    spikes = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(0, 50).map(float)))
    spikes[data.draw(_position(shape))] = whole + fraction
    with pytest.raises(ValueError, match="spikes must be whole-number counts"):
        Trials(np.zeros(shape), spikes=spikes)


@FAST
@given(data=st.data(), key=KEYS)
def test_trial_info_column_of_another_length_is_rejected(data, key):
    shape = data.draw(SHAPES)
    length = data.draw(st.integers(0, 10).filter(lambda n: n != shape[0]))
    column = data.draw(_info_column(length))
    message = re.escape(f"trial_info[{key!r}] must be 1-D with one value per trial ({shape[0]})")
    with pytest.raises(ValueError, match=message):
        Trials(np.zeros(shape), trial_info={key: column})


# ---------------------------------------------------------------------- Trials: files, indexing


@settings(max_examples=30, deadline=None)
@given(_trials())
def test_npz_round_trip_is_lossless(trials):
    with tempfile.TemporaryDirectory() as directory:
        loaded = Trials.load(trials.save(os.path.join(directory, "trials.npz")))
    _assert_same_trials(trials, loaded)


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=4))
@example("\x00")
def test_npz_round_trip_keeps_any_trial_info_key(key):
    if "\x00" in key:  # a zip member name ends at a NUL: refused when the Trials is built
        with pytest.raises(ValueError, match="NUL"):
            Trials(np.zeros((2, 1, 1)), trial_info={key: np.arange(2)})
        return
    trials = Trials(np.zeros((2, 1, 1)), trial_info={key: np.arange(2)})
    with tempfile.TemporaryDirectory() as directory:
        loaded = Trials.load(trials.save(os.path.join(directory, "trials.npz")))
    _assert_same_trials(trials, loaded)


@st.composite
def _trials_and_index(draw):
    trials = draw(_trials())
    n = trials.n_trials
    permutation = st.permutations(range(n)).map(np.array)
    integers = hnp.arrays(np.int64, st.integers(1, 8), elements=st.integers(-n, n - 1))
    mask = hnp.arrays(bool, n).filter(np.any)  # an empty selection is not a Trials
    return trials, draw(permutation | integers | mask)


@FAST
@given(_trials_and_index())
def test_indexing_matches_numpy_indexing(trials_and_index):
    trials, index = trials_and_index
    subset = trials[index]
    for name in FIELDS:
        array = getattr(trials, name)
        if array is None:
            assert getattr(subset, name) is None
        else:
            assert np.array_equal(getattr(subset, name), array[index])
    assert list(subset.trial_info) == list(trials.trial_info)
    for key, column in trials.trial_info.items():
        assert np.array_equal(
            subset.trial_info[key], column[index], equal_nan=column.dtype == float
        )
    assert (subset.behavior_names, subset.bin_size_s, subset.align) == (
        trials.behavior_names,
        trials.bin_size_s,
        trials.align,
    )


# ---------------------------------------------------------------------- split_indices


@st.composite
def _split_arguments(draw):
    n = draw(st.integers(-2, 30))
    valid = st.lists(st.floats(0.01, 1.0), min_size=2, max_size=4).map(
        lambda weights: [w / sum(weights) for w in weights]
    )
    anything = st.lists(st.floats(-0.5, 1.5) | st.just(0.5), max_size=4)
    fractions = draw(valid | valid | anything)
    length = max(n, 0) if draw(st.integers(0, 3)) else draw(st.integers(0, 30))
    labels = draw(
        st.none()
        | st.lists(st.integers(0, 3), min_size=length, max_size=length).map(np.array)
        | st.lists(st.sampled_from("abc"), min_size=length, max_size=length).map(np.array)
    )
    return n, fractions, labels, draw(st.integers(-1, 2**32))


def _split_or_error(n, fractions, labels, seed):
    try:
        return split_indices(n, fractions, labels=labels, random_state=seed)
    except ValueError as error:
        return error


@settings(max_examples=150, deadline=None)
@given(_split_arguments())
def test_split_indices_partitions_or_raises_value_error(arguments):
    parts = _split_or_error(*arguments)
    again = _split_or_error(*arguments)
    if isinstance(parts, ValueError):
        assert isinstance(again, ValueError) and str(again) == str(parts)
        return
    n, fractions, _, _ = arguments
    assert len(parts) == len(fractions)
    assert all(len(part) > 0 for part in parts)
    assert all(np.all(np.diff(part) > 0) for part in parts)  # sorted, no repeats
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n))  # disjoint, covering
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))  # same seed


# ---------------------------------------------------------------------- R^2

NEURON_ARRAYS = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=6), elements=FLOATS
)


def _varies(truth: np.ndarray) -> np.ndarray:
    """Which neurons' truth is not constant."""
    flat = truth.reshape(-1, truth.shape[-1])
    return np.ptp(flat, axis=0) > 0


@FAST
@given(NEURON_ARRAYS)
def test_r2_of_truth_itself_is_one(truth):
    assume(_varies(truth).any())
    assert pooled_r2(truth, truth) == 1.0


@FAST
@given(NEURON_ARRAYS)
def test_r2_of_each_neurons_mean_is_zero(truth):
    assume(_varies(truth).any())
    mean = np.broadcast_to(truth.reshape(-1, truth.shape[-1]).mean(axis=0), truth.shape)
    assert pooled_r2(mean, truth) == pytest.approx(0.0, abs=1e-9)


@FAST
@given(st.data())
def test_r2_is_at_most_one_and_pools_the_per_neuron_r2(data):
    truth = data.draw(NEURON_ARRAYS)
    pred = data.draw(hnp.arrays(np.float64, truth.shape, elements=FLOATS))
    pooled = pooled_r2(pred, truth)
    assert pooled <= 1.0 or math.isnan(pooled)
    per_neuron = per_neuron_r2(pred, truth)
    if truth.shape[-1] == 1:
        assert _same(pooled, float(per_neuron[0]))
    if _varies(truth).all():
        # Pooled R^2 is the per-neuron R^2 averaged with weights SST_j.
        flat = truth.reshape(-1, truth.shape[-1])
        sst = ((flat - flat.mean(axis=0)) ** 2).sum(axis=0)
        assert pooled == pytest.approx(np.sum(sst * per_neuron) / sst.sum(), rel=1e-9, abs=1e-9)


@FAST
@given(value=FLOATS, n_samples=st.integers(2, 8), offset=st.floats(0.5, 10))
@example(value=0.1, n_samples=3, offset=0.1)
def test_r2_of_constant_truth_is_nan(value, n_samples, offset):
    truth = np.full((n_samples, 1), value)
    assert math.isnan(pooled_r2(truth + offset, truth))
    assert math.isnan(per_neuron_r2(truth + offset, truth)[0])


# ---------------------------------------------------------------------- sample statistics


# np.corrcoef warns about a single sample (its correlations are NaN, which the metrics handle).
NO_DOF_WARNING = pytest.mark.filterwarnings("ignore:Degrees of freedom <= 0:RuntimeWarning")


def _trial_arrays(n_neurons: int):
    shapes = st.tuples(st.integers(1, 5), st.integers(1, 4), st.just(n_neurons))
    return hnp.arrays(np.float64, shapes, elements=SMALL_INTS)


@NO_DOF_WARNING
@FAST
@given(st.integers(1, 4).flatmap(_trial_arrays))
def test_sample_statistics_of_identical_data_are_zero(real):
    stats = sample_statistics(real, real)
    assert stats["mean_abs_error"] == 0.0 and stats["sd_abs_error"] == 0.0
    for key in ("mean_rel_error", "sd_rel_error", "corr_rmse"):
        assert stats[key] == 0.0 or math.isnan(stats[key]), key


@NO_DOF_WARNING
@FAST
@given(st.data(), st.integers(1, 4))
def test_sample_statistics_ignore_trial_order(data, n_neurons):
    generated = data.draw(_trial_arrays(n_neurons))
    real = data.draw(_trial_arrays(n_neurons))
    stats = sample_statistics(generated, real)
    shuffled = sample_statistics(
        generated[data.draw(st.permutations(range(len(generated))))],
        real[data.draw(st.permutations(range(len(real))))],
    )
    for key, value in stats.items():
        assert _same(shuffled[key], value), key


@NO_DOF_WARNING
@FAST
@given(st.data(), st.integers(1, 5))
def test_correlation_rmse_is_symmetric_and_zero_on_itself(data, n_neurons):
    samples = hnp.arrays(
        np.float64, st.tuples(st.integers(1, 8), st.just(n_neurons)), elements=FLOATS
    )
    a, b = data.draw(samples), data.draw(samples)
    rmse = correlation_rmse(a, b)
    assert _same(rmse, correlation_rmse(b, a))
    assert rmse >= 0 or math.isnan(rmse)
    itself = correlation_rmse(a, a)
    assert itself == 0.0 or math.isnan(itself)


# ---------------------------------------------------------------------- code SNR


@st.composite
def _projection_and_conditions(draw, elements=SMALL_INTS):
    n = draw(st.integers(2, 20))
    projection = draw(hnp.arrays(np.float64, n, elements=elements))
    conditions = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 3)))
    return projection, conditions


def _has_noise(projection, conditions) -> bool:
    return any(np.ptp(projection[conditions == c]) > 0 for c in np.unique(conditions))


@FAST
@given(_projection_and_conditions(elements=FLOATS))
def test_condition_snr_is_non_negative_or_nan(arguments):
    snr = condition_snr(*arguments)
    assert snr >= 0 or math.isnan(snr)


@FAST
@given(
    data=st.data(),
    scale=st.floats(0.01, 100) | st.floats(-100, -0.01),
    shift=st.floats(-100, 100),
)
def test_condition_snr_is_invariant_to_affine_maps_and_trial_order(data, scale, shift):
    projection, conditions = data.draw(_projection_and_conditions())
    assume(_has_noise(projection, conditions))  # otherwise rounding decides between inf and huge
    snr = condition_snr(projection, conditions)
    assert _same(condition_snr(scale * projection, conditions), snr)
    assert _same(condition_snr(projection + shift, conditions), snr)
    order = np.array(data.draw(st.permutations(range(len(projection)))))
    assert _same(condition_snr(projection[order], conditions[order]), snr)


@FAST
@given(
    st.lists(st.tuples(FLOATS, st.integers(1, 4)), min_size=2, max_size=4, unique_by=lambda c: c[0])
)
@example([(0.1, 3), (0.2, 1)])
def test_condition_snr_without_noise_is_inf(levels):
    # Every condition constant, the conditions' values distinct.
    projection = np.concatenate([np.full(count, value) for value, count in levels])
    conditions = np.repeat(np.arange(len(levels)), [count for _, count in levels])
    assert condition_snr(projection, conditions) == math.inf


# ---------------------------------------------------------------------- navigation


@FAST
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6), elements=MODERATE)
)
def test_direction_cosines_are_symmetric_bounded_with_unit_diagonal(directions):
    cosines = direction_cosines(directions)
    nonzero = np.any(directions != 0, axis=0)
    finite = cosines[np.isfinite(cosines)]
    assert np.all((finite >= 0) & (finite <= 1 + 1e-9))
    np.testing.assert_allclose(cosines, cosines.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(cosines)[nonzero], 1.0, atol=1e-9)
    assert np.all(np.isnan(cosines[~nonzero]))  # an undefined direction has no cosines
    assert np.all(np.isfinite(cosines[np.ix_(nonzero, nonzero)]))


@FAST
@given(
    data=st.data(),
    scale=st.floats(0.01, 100) | st.floats(-100, -0.01),
)
def test_direction_cosines_ignore_the_length_of_a_column(data, scale):
    shape = hnp.array_shapes(min_dims=2, max_dims=2, max_side=6)
    directions = data.draw(hnp.arrays(np.float64, shape, elements=MODERATE))
    column = data.draw(st.integers(0, directions.shape[1] - 1))
    scaled = directions.copy()
    scaled[:, column] *= scale
    np.testing.assert_allclose(direction_cosines(scaled), direction_cosines(directions), atol=1e-9)


# ---------------------------------------------------------------------- code regression, dB


@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    n_train=st.integers(3, 10),
    n_test=st.integers(2, 6),
    code_dim=st.integers(1, 3),
)
def test_code_regression_r2_is_at_most_one(data, n_train, n_test, code_dim):
    def draw(shape):
        return data.draw(hnp.arrays(np.float64, shape, elements=FLOATS))

    r2 = code_regression_r2(
        draw((n_train, code_dim)), draw(n_train), draw((n_test, code_dim)), draw(n_test)
    )
    assert r2 <= 1.0


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_trials=st.integers(30, 60),
    weights=hnp.arrays(np.float64, st.integers(1, 4), elements=st.floats(-10, 10)),
    intercept=st.floats(-100, 100),
)
def test_code_regression_r2_of_an_exact_linear_code_is_one(seed, n_trials, weights, intercept):
    assume(np.linalg.norm(weights) > 0.5)
    codes = np.random.default_rng(seed).normal(size=(n_trials, len(weights)))  # well conditioned
    values = codes @ weights + intercept
    n_train = 2 * n_trials // 3
    r2 = code_regression_r2(codes[:n_train], values[:n_train], codes[n_train:], values[n_train:])
    assert r2 > 0.99


@FAST
@given(st.integers(-30, 30) | st.floats(-100, 100))
def test_to_db_of_a_power_of_ten(k):
    assert to_db(10.0**k) == pytest.approx(10 * k, abs=1e-9)
