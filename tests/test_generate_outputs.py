"""``generate(..., output="activity" | "rates" | "spikes")`` of GNOCCHI, LFADS and PPCA, the
Poisson helpers of neurognocchi.estimators.outputs, and ``neurognocchi generate --output``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurognocchi import GNOCCHI, LFADS
from neurognocchi.cli import main
from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import PPCA
from neurognocchi.estimators.outputs import (
    OUTPUTS,
    activity_to_rates,
    check_output,
    poisson_spikes,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_TIME, N_NEURONS = 12, 6
LFADS_TINY = dict(
    encoder_dim=4,
    generator_dim=6,
    factor_dim=3,
    max_epochs=2,
    batch_size=8,
    kl_warmup_steps=4,
    l2_warmup_steps=4,
    warmup_steps=2,
)
GNOCCHI_TINY = dict(
    max_epochs=2,
    channels=8,
    channel_mults=(1, 2),
    encoder_dim=8,
    n_train_steps=50,
    n_sample_steps=4,
)
MAKERS = {
    "gnocchi": lambda: GNOCCHI(3, **GNOCCHI_TINY, verbose=False, random_state=0, device="cpu"),
    "lfads-poisson": lambda: LFADS(3, **LFADS_TINY, verbose=False, random_state=0, device="cpu"),
    "lfads-gaussian": lambda: LFADS(
        3, **LFADS_TINY, likelihood="gaussian", verbose=False, random_state=0, device="cpu"
    ),
    "ppca": lambda: PPCA(3),
}
SPIKING = ("gnocchi", "lfads-poisson", "ppca")


@pytest.fixture(scope="module")
def toy():
    return make_toy_dataset(64, n_neurons=N_NEURONS, n_time=N_TIME, random_state=0)


@pytest.fixture(scope="module")
def fitted(toy):
    return {name: make().fit(toy) for name, make in MAKERS.items()}


@pytest.fixture(scope="module")
def codes(fitted, toy):
    return {name: model.encode(toy)[:3] for name, model in fitted.items()}


def _generate(fitted, codes, name, **kwargs):
    options = {"n_samples": 4, "random_state": 5} | kwargs
    return fitted[name].generate(codes[name], **options)


# ---------------------------------------------------------------------- outputs.py
def test_check_output_names_the_argument():
    assert [check_output(o) for o in OUTPUTS] == list(OUTPUTS)
    with pytest.raises(ValueError, match="output must be one of"):
        check_output("counts")


def test_poisson_spikes_are_seeded_integer_counts_with_the_right_mean():
    rates = np.broadcast_to(np.array([0.0, 0.5, 3.0, 20.0]), (2, 500, 3, 4))  # (n, K, T, N)
    for common in (False, True):
        counts = poisson_spikes(rates, random_state=1, common_noise=common)
        assert counts.dtype == np.int64 and counts.shape == rates.shape and counts.min() >= 0
        np.testing.assert_array_equal(
            counts, poisson_spikes(rates, random_state=1, common_noise=common)
        )
        assert (counts[..., 0] == 0).all()
        mean = counts.mean(axis=(0, 1, 2))  # 3000 draws per rate
        np.testing.assert_allclose(mean, rates[0, 0, 0], atol=0.4, rtol=0.05)
    shared = poisson_spikes(rates, random_state=1, common_noise=True)
    np.testing.assert_array_equal(shared[0], shared[1])  # equal rates, equal uniforms
    independent = poisson_spikes(rates, random_state=1, common_noise=False)
    assert not np.array_equal(independent[0], independent[1])


def test_common_noise_counts_never_fall_as_rates_rise():
    low = np.random.default_rng(0).uniform(0, 5, size=(1, 50, 4, 3))
    rates = np.concatenate([low, low + 1.0, low * 3])  # (3, K, T, N), rising per entry
    counts = poisson_spikes(rates, random_state=2, common_noise=True)
    assert (counts[1] >= counts[0]).all() and (counts[2] >= counts[0]).all()


def test_poisson_spikes_refuses_negative_rates_and_activity_to_rates_clips():
    with pytest.raises(ValueError, match="non-negative"):
        poisson_spikes(-np.ones((1, 1, 2, 2)), random_state=0, common_noise=False)
    np.testing.assert_array_equal(
        activity_to_rates(np.array([-3.0, 0.0, 50.0]), 0.02), [0.0, 0.0, 1.0]
    )


# ---------------------------------------------------------------------- estimators
@pytest.mark.parametrize("name", SPIKING)
def test_spikes_are_seeded_non_negative_counts(fitted, codes, name):
    spikes = _generate(fitted, codes, name, output="spikes")
    assert spikes.shape == (3, 4, N_TIME, N_NEURONS)
    assert np.issubdtype(spikes.dtype, np.integer) and spikes.min() >= 0 and spikes.sum() > 0
    np.testing.assert_array_equal(spikes, _generate(fitted, codes, name, output="spikes"))
    assert not np.array_equal(
        spikes, _generate(fitted, codes, name, output="spikes", random_state=6)
    )


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_default_output_is_activity_bit_identical(fitted, codes, name):
    plain = _generate(fitted, codes, name)
    np.testing.assert_array_equal(plain, _generate(fitted, codes, name, output="activity"))
    assert plain.dtype == np.float32


@pytest.mark.parametrize("name", ["gnocchi", "ppca"])
def test_sampler_rates_are_the_positive_activity_per_bin(fitted, codes, toy, name):
    activity = _generate(fitted, codes, name)
    rates = _generate(fitted, codes, name, output="rates")
    assert fitted[name].bin_size_s_ == toy.bin_size_s
    assert rates.dtype == np.float64
    expected = np.clip(activity.astype(np.float64), 0, None) * toy.bin_size_s
    np.testing.assert_array_equal(rates, expected)


def test_lfads_rates_are_its_hz_output_per_bin_and_spikes_differ_across_samples(fitted, codes, toy):
    activity = _generate(fitted, codes, "lfads-poisson")  # Hz, copies identical
    rates = _generate(fitted, codes, "lfads-poisson", output="rates")
    np.testing.assert_allclose(rates, activity * toy.bin_size_s, rtol=1e-6)
    assert (rates > 0).all()
    spikes = _generate(fitted, codes, "lfads-poisson", output="spikes", n_samples=8)
    assert not all(np.array_equal(spikes[:, 0], spikes[:, k]) for k in range(1, 8))


def test_mean_of_many_spikes_matches_the_rates(fitted, codes):
    for name in SPIKING:
        rates = _generate(fitted, codes, name, output="rates", n_samples=1)
        model, code = fitted[name], codes[name][:1]
        if name == "lfads-poisson":  # deterministic rates: many Poisson copies of one code
            spikes = model.generate(code, n_samples=2000, random_state=0, output="spikes")
            expected = rates[:1, 0]
        else:  # the mean over samples of counts is the mean over samples of rates
            spikes = model.generate(code, n_samples=400, random_state=0, output="spikes")
            expected = model.generate(code, n_samples=400, random_state=0, output="rates")
            expected = expected.mean(axis=1)
        mean = spikes.mean(axis=1)  # (1, T, N)
        assert np.abs(mean - expected).max() < 0.15 + 0.15 * expected.max(), name


@pytest.mark.parametrize("name", SPIKING)
def test_common_noise_keeps_a_codes_spikes_whatever_the_others(fitted, codes, name):
    code = codes[name]
    other = np.stack([code[0], code[2] + 1.0])  # another second code
    first, second = (
        fitted[name].generate(c, n_samples=3, random_state=4, common_noise=True, output="spikes")
        for c in (code[:2], other)
    )
    np.testing.assert_array_equal(first[0], second[0])


def test_gaussian_lfads_has_no_rates_or_spikes(fitted, codes):
    for output in ("rates", "spikes"):
        with pytest.raises(ValueError, match=f"output='{output}'.*gaussian"):
            _generate(fitted, codes, "lfads-gaussian", output=output)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_a_bad_output_names_the_argument(fitted, codes, name):
    with pytest.raises(ValueError, match="output must be one of"):
        _generate(fitted, codes, name, output="counts")


@pytest.mark.parametrize("name", ["gnocchi", "ppca"])
def test_rates_and_spikes_need_a_bin_size(toy, name):
    model = MAKERS[name]().fit(np.asarray(toy.activity))  # a raw array: no bin size
    assert model.bin_size_s_ is None
    code = model.encode(toy.activity[:2])
    for output in ("rates", "spikes"):
        with pytest.raises(ValueError, match=f"output='{output}'.*without"):
            model.generate(code, random_state=0, output=output)
        with pytest.raises(ValueError, match="output="):
            model.sample_prior(2, random_state=0, output=output)
    assert model.generate(code, random_state=0).shape == (2, 1, N_TIME, N_NEURONS)


@pytest.mark.parametrize("name", SPIKING)
def test_sample_prior_passes_output(fitted, name):
    model = fitted[name]
    spikes = model.sample_prior(5, random_state=3, output="spikes")
    assert spikes.shape == (5, N_TIME, N_NEURONS) and np.issubdtype(spikes.dtype, np.integer)
    np.testing.assert_array_equal(spikes, model.sample_prior(5, random_state=3, output="spikes"))
    rates = model.sample_prior(5, random_state=3, output="rates")
    assert rates.dtype == np.float64 and rates.min() >= 0


@pytest.mark.parametrize("name", SPIKING)
def test_a_saved_model_gives_identical_spikes(fitted, codes, name, tmp_path):
    fitted[name].save(tmp_path / "model")
    loaded = type(fitted[name]).load(tmp_path / "model")
    assert loaded.bin_size_s_ == fitted[name].bin_size_s_
    np.testing.assert_array_equal(
        _generate({name: loaded}, codes, name, output="spikes"),
        _generate(fitted, codes, name, output="spikes"),
    )


@pytest.mark.parametrize("name", ["gnocchi", "ppca"])
def test_a_model_saved_without_a_bin_size_loads_with_none(fitted, codes, name, tmp_path):
    path = fitted[name].save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    del config["model"]["bin_size_s"]  # as written before the bin size was recorded
    (path / "config.json").write_text(json.dumps(config))
    loaded = type(fitted[name]).load(path)
    assert loaded.bin_size_s_ is None
    np.testing.assert_array_equal(
        _generate({name: loaded}, codes, name), _generate(fitted, codes, name)
    )
    with pytest.raises(ValueError, match="output='spikes'"):
        _generate({name: loaded}, codes, name, output="spikes")


# ---------------------------------------------------------------------- command line
def test_cli_generate_writes_integer_spikes(fitted, codes, tmp_path, capsys):
    fitted["ppca"].save(tmp_path / "run")
    np.save(tmp_path / "codes.npy", codes["ppca"])
    args = [
        "generate",
        str(tmp_path / "run"),
        "--codes",
        str(tmp_path / "codes.npy"),
        "--n-samples",
        "2",
        "--seed",
        "1",
    ]
    assert main([*args, "--out", str(tmp_path / "s.npz"), "--output", "spikes"]) == 0
    with np.load(tmp_path / "s.npz") as saved:
        assert saved["samples"].dtype == np.int64 and str(saved["output"]) == "spikes"
        expected = fitted["ppca"].generate(
            codes["ppca"], n_samples=2, random_state=1, output="spikes"
        )
        np.testing.assert_array_equal(saved["samples"], expected)
    assert main([*args, "--out", str(tmp_path / "a.npz")]) == 0
    with np.load(tmp_path / "a.npz") as saved:
        assert saved["samples"].dtype == np.float32 and str(saved["output"]) == "activity"
    capsys.readouterr()
    with pytest.raises(SystemExit) as error:
        main([*args, "--out", str(tmp_path / "b.npz"), "--output", "counts"])
    assert error.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--output" in err[-1] and "invalid choice" in err[-1]
