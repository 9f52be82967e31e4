"""Every kind of NWB file the package writes passes nwbinspector (no ERROR, PYNWB_VALIDATION,
CRITICAL or BEST_PRACTICE_VIOLATION message) and still reads back; the metadata arguments of
the writers are stored and checked."""

from __future__ import annotations

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")

from neurognocchi.data import make_toy_dataset  # noqa: E402
from neurognocchi.data.nwb import (  # noqa: E402
    load_mc_rtt,
    load_nwb,
    load_samples_nwb,
    save_nwb,
    save_samples_nwb,
)
from neurognocchi.data.nwb.metadata import SYNTHETIC_SPECIES  # noqa: E402
from neurognocchi.data.nwb.synthetic import make_random_target_nwb  # noqa: E402

# Importances that mean a file is wrong or badly formed; BEST_PRACTICE_SUGGESTION is allowed.
FAILING = {"ERROR", "PYNWB_VALIDATION", "CRITICAL", "BEST_PRACTICE_VIOLATION"}


def inspect(path) -> list:
    return [m for m in nwbinspector.inspect_nwbfile(nwbfile_path=str(path)) if m is not None]


def failing_messages(path) -> list[str]:
    return [
        f"{m.importance.name} {m.check_function_name} at {m.location}: {m.message}"
        for m in inspect(path)
        if m.importance.name in FAILING
    ]


def assert_passes_inspector(path) -> None:
    failing = failing_messages(path)
    assert not failing, "\n".join(failing)


@pytest.fixture(scope="module")
def toy():
    return make_toy_dataset(12, n_neurons=5, n_time=15, random_state=4)


def _read_back(path, trials):
    window = (0.0, trials.n_time * trials.bin_size_s)
    return load_nwb(
        path,
        align="start_time",
        window_s=window,
        bin_size_s=trials.bin_size_s,
        smooth_sigma_s=None,
        behavior=list(trials.behavior_names),
    )


# ---------------------------------------------------------------------- each kind of file
def test_synthetic_toy_trials_pass_and_round_trip(tmp_path, toy):
    path = save_nwb(toy, tmp_path / "toy.nwb")
    assert_passes_inspector(path)
    back = _read_back(path, toy)
    assert np.array_equal(back.spikes, toy.spikes)
    np.testing.assert_allclose(back.behavior, toy.behavior, rtol=1e-6)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        assert nwbfile.subject.species == SYNTHETIC_SPECIES
        assert "Synthetic" in nwbfile.experiment_description
        assert "synthetic data" in list(nwbfile.keywords[:])


def test_reaching_trials_pass_and_round_trip(tmp_path):
    pytest.importorskip("motornet")
    from neurognocchi.data import make_reaching_dataset

    trials = make_reaching_dataset(6, n_neurons=5, n_time=60, random_state=2)
    path = save_nwb(trials, tmp_path / "reaching.nwb")
    assert_passes_inspector(path)
    assert np.array_equal(_read_back(path, trials).spikes, trials.spikes)


def test_recorded_trials_need_their_species_and_pass_with_it(tmp_path, toy):
    recorded = toy.replace(truth=None)  # no ground truth: not known to be synthetic
    unknown = save_nwb(recorded, tmp_path / "unknown.nwb")
    # The one complaint is the species no one gave: the writer does not invent one.
    assert [m.split()[1] for m in failing_messages(unknown)] == ["check_subject_species_exists"]
    subject = {"species": "Macaca mulatta", "subject_id": "monkey-J", "sex": "M", "age": "P9Y"}
    path = save_nwb(recorded, tmp_path / "recorded.nwb", subject=subject)
    assert_passes_inspector(path)
    assert np.array_equal(_read_back(path, toy).spikes, toy.spikes)


def test_generated_samples_pass_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    samples = rng.gamma(2.0, 5.0, size=(4, 3, 15, 6)).astype(np.float32)  # (codes, K, T, N)
    codes = rng.normal(size=(4, 3)).astype(np.float32)
    path = save_samples_nwb(samples, tmp_path / "samples.nwb", bin_size_s=0.02, codes=codes)
    assert_passes_inspector(path)
    back = load_samples_nwb(path)
    assert np.array_equal(back["samples"], samples) and np.array_equal(back["codes"], codes)
    assert float(back["bin_size_s"]) == 0.02
    prior = save_samples_nwb(samples[:, :1], tmp_path / "prior.nwb", bin_size_s=0.02)
    assert_passes_inspector(prior)
    assert "codes" not in load_samples_nwb(prior)


def test_synthetic_mc_rtt_session_passes_and_loads(tmp_path):
    path = tmp_path / "rtt.nwb"
    make_random_target_nwb(path, n_units=6, duration_s=20.0, gap_s=(8.0, 10.0), random_state=3)
    assert_passes_inspector(path)
    assert load_mc_rtt(path).n_trials > 5
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        assert nwbfile.units.resolution == pytest.approx(1e-3)
        assert "random_state=3" in nwbfile.experiment_description
        assert nwbfile.subject.subject_id == "synthetic-rtt-3"


# ---------------------------------------------------------------------- metadata and spike times
def test_caller_metadata_is_stored_and_silences_the_suggestions(tmp_path, toy):
    metadata = dict(
        experimenter=["Doe, Jane", "Roe, Rich"],
        institution="Emory University",
        lab="Pandarinath lab",
        keywords=["motor cortex"],
        session_description="toy session",
        experiment_description="a toy",
    )
    path = save_nwb(toy, tmp_path / "toy.nwb", subject={"subject_id": "s1"}, **metadata)
    assert {m.check_function_name for m in inspect(path)}.isdisjoint(
        {"check_experimenter_exists", "check_experimenter_form", "check_institution"}
    )
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        assert list(nwbfile.experimenter) == metadata["experimenter"]
        assert (nwbfile.institution, nwbfile.lab) == ("Emory University", "Pandarinath lab")
        assert list(nwbfile.keywords[:]) == ["motor cortex"]
        assert nwbfile.session_description == "toy session"
        assert nwbfile.subject.subject_id == "s1"
        assert nwbfile.subject.species == SYNTHETIC_SPECIES  # the other fields keep defaults


def test_spike_times_lie_on_the_resolution_grid_inside_their_bins(tmp_path, toy):
    spikes = toy.spikes.copy()
    spikes[:, 3] = 45  # more spikes than the 20 one-ms steps of a 20 ms bin: steps are shared
    dense = toy.replace(spikes=spikes)
    path = save_nwb(dense, tmp_path / "dense.nwb")
    assert_passes_inspector(path)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        units = io.read().units
        assert units.resolution == pytest.approx(1e-3)
        times = units.get_unit_spike_times(0)
    steps = times / 1e-3 - 0.5  # trials start at multiples of 0.8 s: whole numbers of steps
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    assert np.all(np.diff(times) >= 0)
    assert np.array_equal(_read_back(path, dense).spikes, dense.spikes)


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"subject": {"sex": "male"}}, r"subject\['sex'\] must be one of"),
        ({"subject": {"weight_kg": "3"}}, r"subject has unknown fields \['weight_kg'\]"),
        ({"subject": ["Macaca mulatta"]}, "subject must be a mapping"),
        ({"experimenter": ""}, r"experimenter\[0\] must be a non-empty str"),
        ({"keywords": []}, "keywords must be a str or a non-empty sequence"),
        ({"institution": 3}, "institution must be a non-empty str"),
    ],
)
def test_bad_metadata_names_the_argument_and_writes_nothing(tmp_path, toy, metadata, match):
    with pytest.raises(ValueError, match=match):
        save_nwb(toy, tmp_path / "toy.nwb", **metadata)
    with pytest.raises(ValueError, match=match):
        save_samples_nwb(np.ones((1, 1, 20, 2)), tmp_path / "s.nwb", bin_size_s=0.01, **metadata)
    assert not any(tmp_path.iterdir())


def test_bad_samples_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="samples must have 4 dimensions"):
        save_samples_nwb(np.ones((2, 20, 3)), tmp_path / "s.nwb", bin_size_s=0.01)
    with pytest.raises(ValueError, match="codes must have one row per code"):
        save_samples_nwb(
            np.ones((2, 1, 20, 3)), tmp_path / "s.nwb", bin_size_s=0.01, codes=np.ones((3, 2))
        )
    with pytest.raises(ValueError, match="bin_size_s"):
        save_samples_nwb(np.ones((2, 1, 20, 3)), tmp_path / "s.nwb", bin_size_s=0.0)
    make_random_target_nwb(tmp_path / "rtt.nwb", n_units=2, duration_s=4.0)
    with pytest.raises(ValueError, match="holds no samples written by save_samples_nwb"):
        load_samples_nwb(tmp_path / "rtt.nwb")
