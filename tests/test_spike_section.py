"""The spike statistics of a model's own spikes inside `evaluate` (issue 18): the matched design
(generated A vs real B, floor real A vs real B), skips, the flat summary keys and the table rows.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from neurognocchi.data import make_toy_dataset
from neurognocchi.evaluation import compare, evaluate
from neurognocchi.evaluation.spike_section import (
    PREFIXES,
    SUMMARY_KEYS,
    halves,
    spike_floors,
    spike_section,
    spike_summary,
)
from neurognocchi.evaluation.spike_stats import STATISTIC_KEYS, all_statistics


def fake_data(n_trials=24, n_time=12, n_neurons=6, seed=0, *, spikes=True, kind="samples"):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(0.4, size=(n_trials, n_time, n_neurons)) if spikes else None
    trials = SimpleNamespace(spikes=counts, bin_size_s=0.01, n_time=n_time)
    split = SimpleNamespace(valid=np.arange(4, n_trials, 2))  # every other trial from 4
    codes = np.arange(n_trials, dtype=float)[:, None]  # code = trial index
    return SimpleNamespace(trials=trials, split=split, codes=codes, seed=seed, output_kind=kind)


class ReplayModel:
    """Generates, for the code of trial i, the real spikes of trial i: a perfect conditional
    model. Its prior draws real validation trials at random."""

    def __init__(self, data, *, prior_trials=None):
        self.spikes, self.prior_trials = data.trials.spikes, prior_trials
        self.calls = []

    def generate(self, codes, *, n_samples=1, random_state=None, output="activity"):
        self.calls.append(("generate", output, random_state))
        index = np.asarray(codes)[:, 0].astype(int)
        return np.repeat(self.spikes[index][:, None], n_samples, axis=1)

    def sample_prior(self, n, *, random_state=None, output="activity"):
        self.calls.append(("sample_prior", output, random_state))
        chosen = np.random.default_rng(random_state).choice(self.prior_trials, size=n)
        return self.spikes[chosen]


def test_halves_split_the_validation_trials_disjointly_and_deterministically():
    valid = np.arange(10, 31)
    first, rest = halves(valid, 3)
    assert len(first) == 10 and len(rest) == 11
    assert np.array_equal(np.sort(np.concatenate([first, rest])), valid)
    again = halves(valid, 3)
    assert np.array_equal(first, again[0]) and np.array_equal(rest, again[1])
    assert not np.array_equal(first, halves(valid, 4)[0])


def test_a_perfect_conditional_model_scores_exactly_the_floor():
    data = fake_data()
    model = ReplayModel(data, prior_trials=data.split.valid)
    section = spike_section(model, data)
    first, rest = halves(data.split.valid, data.seed)
    expected = all_statistics(data.trials.spikes[first], data.trials.spikes[rest], bin_size_s=0.01)
    assert section["conditional"] == expected == section["floor"]
    assert section["n_trials"] == [len(first), len(rest)]
    assert set(section["unconditional"]) == set(STATISTIC_KEYS)
    assert [call[1] for call in model.calls] == ["spikes", "spikes"]


def test_a_model_of_the_wrong_rates_scores_above_the_floor():
    data = fake_data()

    class Loud(ReplayModel):
        def generate(self, codes, *, n_samples=1, random_state=None, output="activity"):
            rng = np.random.default_rng(random_state)
            return rng.poisson(1.5, size=(len(codes), n_samples, *self.spikes.shape[1:]))

    section = spike_section(Loud(data, prior_trials=data.split.valid), data)
    for key in ("population_count_kl", "mean_rate_rmse_hz"):
        assert section["conditional"][key] > 5 * section["floor"][key]


def test_the_summary_and_floor_keys_are_flat_and_shared():
    data = fake_data()
    section = spike_section(ReplayModel(data, prior_trials=data.split.valid), data)
    summary, floors = spike_summary(section), spike_floors(section)
    names = {f"{prefix}_{name}" for prefix in PREFIXES.values() for name in SUMMARY_KEYS}
    assert set(summary) == set(floors) == names
    assert summary["spikes_cond_count_kl"] == section["conditional"]["population_count_kl"]
    assert summary["spikes_prior_corr_rmse"] == section["unconditional"]["correlation_rmse"]
    assert floors["spikes_cond_isi_mean_rmse"] == floors["spikes_prior_isi_mean_rmse"]
    assert floors["spikes_cond_rate_sd_rmse"] == section["floor"]["sd_rate_rmse_hz"]
    assert spike_summary({"skipped": "why"}) == spike_floors(None) == {}


class NoOutput:
    def generate(self, codes, *, n_samples=1, random_state=None):
        raise AssertionError("not called")

    def sample_prior(self, n, *, random_state=None):
        raise AssertionError("not called")


@pytest.mark.parametrize(
    ("data", "model", "reason"),
    [
        (fake_data(kind="codes"), NoOutput(), "only encodes"),
        (fake_data(spikes=False), NoOutput(), "no spikes"),
        (fake_data(n_trials=8), NoOutput(), "at least 4 validation trials"),
        (fake_data(), NoOutput(), "generate takes no output="),
    ],
)
def test_the_section_is_skipped_with_a_reason(data, model, reason):
    assert reason in spike_section(model, data)["skipped"]


def test_a_model_refusing_spikes_is_skipped_with_its_message_and_bad_shapes_raise():
    data = fake_data()

    class Gaussian(ReplayModel):
        def generate(self, codes, *, n_samples=1, random_state=None, output="activity"):
            raise ValueError("a Gaussian LFADS has no rates")

    section = spike_section(Gaussian(data, prior_trials=data.split.valid), data)
    assert "a Gaussian LFADS has no rates" in section["skipped"]

    class Short(ReplayModel):
        def sample_prior(self, n, *, random_state=None, output="activity"):
            return np.zeros((n, 2, 6), dtype=np.int64)

    with pytest.raises(RuntimeError, match="sample_prior returned shape"):
        spike_section(Short(data, prior_trials=data.split.valid), data)


class PoissonRateModel:
    """Codes are the trials' target positions; generation draws Poisson spikes of the mean
    training count of the nearest training trial's condition (a crude rate model)."""

    def fit(self, trials):
        self.rates_ = trials.spikes.mean(axis=0)  # (T, N) counts per bin
        self.shape_, self.fit_seconds_ = trials.activity.shape[1:], 0.1
        return self

    def encode(self, trials):
        return np.column_stack([trials.info("target_x"), trials.info("target_y")])

    def generate(self, codes, *, n_samples=1, random_state=None, output="activity"):
        rng = np.random.default_rng(random_state)
        counts = rng.poisson(self.rates_, size=(len(codes), n_samples, *self.shape_))
        return counts if output == "spikes" else counts.astype(np.float32)

    def sample_prior(self, n, *, random_state=None, output="activity"):
        codes = np.zeros((n, 2))
        return self.generate(codes, random_state=random_state, output=output)[:, 0]


def test_evaluate_reports_the_spike_statistics_with_floors_and_a_table_row():
    trials = make_toy_dataset(160, n_neurons=12, n_time=20, random_state=0)
    model = PoissonRateModel().fit(trials)
    result = evaluate(model, trials, n_samples=2, n_traversal_steps=5, random_state=1)
    section = result["spikes_stats"]
    assert set(section) >= {"conditional", "unconditional", "floor", "n_trials", "seeds"}
    assert result["summary"]["spikes_cond_count_kl"] >= 0
    floors = result["floor_summaries"]["single_trial"]
    assert floors["spikes_prior_corr_rmse"] == section["floor"]["correlation_rmse"]
    table = compare({"rates": model}, trials, n_samples=2, n_traversal_steps=5)["table"]
    keys = [row["key"] for row in table["rows"]]
    assert "spikes_cond_count_kl" in keys and "spikes_prior_pca_frechet" in keys
