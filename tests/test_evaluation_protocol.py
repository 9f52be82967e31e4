"""The protocol runner (DESIGN §7): split, evaluate and compare, end to end with fast fake models.

`LinearCodeModel` stands in for a fitted GNOCCHI/LFADS: its codes are the standardised trial
variables plus noise, and it generates activity with the least-squares linear map from those
variables. With no code noise it is a near-oracle; with much noise its codes carry little.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurognocchi.data import make_toy_dataset
from neurognocchi.evaluation import compare, evaluate, protocol_split, summary_table, table_markdown
from neurognocchi.evaluation.comparison import format_value
from neurognocchi.evaluation.protocol import VARIABLES


class LinearCodeModel:
    """A numpy model with ``encode``/``generate``/``sample_prior`` (see the module docstring)."""

    def __init__(self, noise: float = 0.1, seed: int = 0):
        self.noise, self.seed = noise, seed

    def fit(self, trials):
        variables = self._variables(trials)
        self.mean_, self.sd_ = variables.mean(0), variables.std(0)
        design = np.column_stack([(variables - self.mean_) / self.sd_, np.ones(len(variables))])
        self.map_ = np.linalg.lstsq(design, trials.activity.reshape(len(trials), -1), rcond=None)[0]
        self.shape_ = trials.activity.shape[1:]
        self.fit_seconds_ = 0.5
        return self

    @staticmethod
    def _variables(trials):
        return np.stack([trials.info(name) for name in VARIABLES], axis=1)

    def encode(self, trials):
        codes = (self._variables(trials) - self.mean_) / self.sd_
        return codes + self.noise * np.random.default_rng(self.seed).normal(size=codes.shape)

    def generate(self, codes, *, n_samples=1, random_state=None):
        codes = np.asarray(codes)
        mean = np.column_stack([codes, np.ones(len(codes))]) @ self.map_
        noise = np.random.default_rng(random_state).normal(size=(len(codes), n_samples, 1))
        return (mean[:, None] + 0.5 * noise).reshape(len(codes), n_samples, *self.shape_)

    def sample_prior(self, n, *, random_state=None):
        codes = np.random.default_rng(random_state).normal(size=(n, len(VARIABLES)))
        return self.generate(codes, random_state=random_state)[:, 0]


def toy_trials():
    return make_toy_dataset(200, n_neurons=20, n_time=25, random_state=0)


@pytest.fixture(scope="module")
def trials():
    return toy_trials()


@pytest.fixture(scope="module")
def oracle(trials):
    return LinearCodeModel(noise=0.05).fit(trials[protocol_split(trials).train])


@pytest.fixture(scope="module")
def oracle_result(oracle, trials):
    return evaluate(oracle, trials)


# ---------------------------------------------------------------------- split
def test_protocol_split_matches_the_trials_split_of_held_in_trials(trials):
    split = protocol_split(trials, valid_fraction=0.2, random_state=3)
    held_in, held_out = trials.split_by_condition()
    train, valid = held_in.split((0.8, 0.2), random_state=3)
    np.testing.assert_array_equal(trials.activity[split.train], train.activity)
    np.testing.assert_array_equal(trials.activity[split.valid], valid.activity)
    np.testing.assert_array_equal(trials.activity[split.heldout], held_out.activity)
    assert not set(split.train) & set(split.valid)
    assert len(split.train) + len(split.valid) + len(split.heldout) == len(trials)


def test_protocol_split_rejects_missing_or_empty_held_out(trials):
    with pytest.raises(ValueError, match="held-out"):
        protocol_split(trials[~trials.info("heldout")])
    info = {k: v for k, v in trials.trial_info.items() if k != "heldout"}
    with pytest.raises(ValueError, match="'heldout'"):
        protocol_split(trials.replace(trial_info=info))
    with pytest.raises(ValueError, match="valid_fraction"):
        protocol_split(trials, valid_fraction=1.5)


# ---------------------------------------------------------------------- evaluate
def test_evaluate_returns_strict_json_with_every_protocol_step(oracle_result):
    json.dumps(oracle_result, allow_nan=False)
    for key in (
        "code_snr",
        "heldout_targets",
        "reconstruction",
        "behavior_decoder",
        "navigation",
        "unintended_movement",
        "sampling",
        "floors",
        "codes",
        "flags",
        "figure_data",
        "config",
        "summary",
    ):
        assert key in oracle_result, key
    summary = oracle_result["summary"]
    assert all(value is None or isinstance(value, float) for value in summary.values())
    assert summary["unintended_target_x_sd"] is not None  # mean ± s.d. over sampling seeds
    assert "conditional_spikes_corr_rmse" in summary  # the toy data have spikes
    assert "code_r2_go_time" not in summary  # constant in the toy data: nothing to read out
    assert len(oracle_result["reconstruction"]["per_neuron_r2"]) == 20  # one per neuron


def test_evaluate_times_each_step_of_its_progress_bar(oracle_result):
    seconds = oracle_result["step_seconds"]
    n_seeds = oracle_result["config"]["n_sampling_seeds"]
    seeds = [f"sampling seed {s + 1}/{n_seeds}" for s in range(n_seeds)]
    steps = ["prepare", "codes", *seeds, "spike statistics", "co-smoothing", "joint behaviour"]
    assert list(seconds) == steps
    assert all(value >= 0 for value in seconds.values())
    total = oracle_result["summary"]["evaluate_seconds"]
    assert sum(seconds.values()) == pytest.approx(total, rel=1e-6)


def test_evaluate_is_deterministic(oracle, trials, oracle_result):
    again = evaluate(oracle, trials)
    expected = dict(oracle_result["summary"], evaluate_seconds=None)
    assert dict(again["summary"], evaluate_seconds=None) == expected


def test_oracle_codes_score_better_than_noise_codes(oracle, trials, oracle_result):
    noisy = evaluate(LinearCodeModel(noise=3.0).fit(trials[protocol_split(trials).train]), trials)
    good, bad = oracle_result["summary"], noisy["summary"]
    assert good["snr_db_target_x"] > bad["snr_db_target_x"] + 5
    # The oracle's codes are the variables plus 10 % noise: a near-perfect linear read-out.
    assert all(good[f"code_r2_{v}"] > 0.97 for v in ("target_x", "target_y", "start_x"))
    assert good["code_r2_start_y"] > bad["code_r2_start_y"] + 0.1
    assert good["heldout_error"] < bad["heldout_error"]
    assert good["heldout_r2"] > 0.9
    assert good["reconstruction_r2"] > bad["reconstruction_r2"]
    assert good["orthogonality_cos"] < 0.2  # independent variables, orthogonal directions
    assert good["decoder_r2_valid"] == bad["decoder_r2_valid"]  # real data only


def test_evaluate_sections_are_consistent(oracle_result):
    navigation = oracle_result["navigation"]
    assert navigation["orthogonality"] == oracle_result["codes"]["encoding_cosines"][0][1]
    assert len(navigation["conditions"]) == 4  # the toy data's held-out targets
    assert navigation["n_sources"] == [4, 4, 4, 4]  # four equidistant neighbours each
    traversal = oracle_result["unintended_movement"]["target_x"]
    assert np.shape(traversal["trajectories"]) == (5, 25, 2)
    # moving along +target_x moves the hand right
    assert oracle_result["summary"]["intended_gain_target_x"] > 0
    heldout = oracle_result["heldout_targets"]
    assert np.mean(heldout["errors"]) == pytest.approx(heldout["mean_error"])


def test_evaluate_accepts_an_explicit_split_and_options(oracle, trials):
    split = protocol_split(trials, valid_fraction=0.25, random_state=1)
    result = evaluate(
        oracle,
        trials,
        split=split,
        n_samples=2,
        n_traversal_steps=6,
        position_names=("hand_x", "hand_y"),
        grid_spacing=2.0,
    )
    assert result["config"]["n_valid"] == len(split.valid)
    assert result["config"]["grid_spacing"] == 2.0
    assert result["config"]["seed"] == 0 and result["config"]["n_steps"] == 6  # the JSON keys
    assert np.shape(result["unintended_movement"]["target_y"]["decoded"]) == (6, 4)


def test_an_explicit_split_needs_no_heldout_column(oracle, trials):
    split = protocol_split(trials)
    info = {k: v for k, v in trials.trial_info.items() if k != "heldout"}
    result = evaluate(oracle, trials.replace(trial_info=info), split=split, n_samples=1)
    assert result["config"]["n_heldout"] == len(split.heldout)


def test_evaluate_rejects_bad_input(oracle, trials):
    info = {k: v for k, v in trials.trial_info.items() if k != "start_x"}
    with pytest.raises(ValueError, match="start_x"):
        evaluate(oracle, trials.replace(trial_info=info))
    with pytest.raises(ValueError, match="behavior"):
        evaluate(oracle, trials.replace(behavior=None, behavior_names=None))
    with pytest.raises(ValueError, match="position_names"):
        evaluate(oracle, trials, position_names=("px", "py"))
    with pytest.raises(ValueError, match="n_traversal_steps"):
        evaluate(oracle, trials, n_traversal_steps=3)
    split = protocol_split(trials)
    with pytest.raises(ValueError, match="share"):
        evaluate(oracle, trials, split=(split.train, split.train, split.heldout))
    with pytest.raises(TypeError, match="Trials"):
        evaluate(oracle, trials.activity)
    with pytest.raises(TypeError, match="sample_prior"):
        evaluate(
            type("NoPrior", (), {"encode": oracle.encode, "generate": oracle.generate})(), trials
        )


def test_evaluate_rejects_non_finite_model_output(oracle, trials):
    class NanCodes(LinearCodeModel):
        def encode(self, trials):
            codes = super().encode(trials)
            codes[0, 0] = np.nan
            return codes

    broken = NanCodes().fit(trials[protocol_split(trials).train])
    with pytest.raises(ValueError, match="encode returned NaN"):
        evaluate(broken, trials)


# ---------------------------------------------------------------------- compare and the table
def test_compare_builds_one_table_from_the_summaries(oracle, trials):
    noisy = LinearCodeModel(noise=3.0).fit(trials[protocol_split(trials).train])
    comparison = compare({"oracle": oracle, "noisy": noisy}, trials, n_samples=2)
    columns = comparison["table"]["columns"]
    assert columns[:3] == ["metric", "oracle", "noisy"]
    assert [c.split(" (")[0] for c in columns[3:]] == [
        "floor: real trials",
        "floor: noise-free",
    ]
    for row in comparison["table"]["rows"]:
        for name, cell in zip(("oracle", "noisy"), row["cells"][:2], strict=True):
            summary = comparison["models"][name]["summary"]
            value, sd = summary.get(row["key"]), summary.get(f"{row['key']}_sd")
            expected = format_value(value, row["format"], sd) if row["key"] in summary else "—"
            assert cell == expected
    assert comparison["markdown"].count("\n") == len(comparison["table"]["rows"]) + 1
    with pytest.raises(ValueError, match="models"):
        compare({}, trials)


def test_format_value_and_markdown():
    assert format_value(None, ".3f") == "n/a"
    assert format_value(float("nan"), ".3f") == "n/a"
    assert format_value(0.12345, ".3f") == "0.123"
    table = summary_table({"m": {"summary": {"heldout_r2": 0.5}}})
    assert table["rows"] == [
        {"key": "heldout_r2", "label": "held-out target R²", "format": ".3f", "cells": ["0.500"]}
    ]
    assert table_markdown(table).splitlines()[2] == "| held-out target R² | 0.500 |"


# ---------------------------------------------------------------------- names renamed in 0.2
def test_protocol_split_takes_keywords_only(trials):
    with pytest.raises(TypeError):
        protocol_split(trials, 0.2)  # valid_fraction is keyword-only
    with pytest.raises(TypeError, match="'seed'"):  # renamed random_state in 0.2, gone in 0.3
        protocol_split(trials, seed=3)
    with pytest.raises(TypeError, match="'steps'"):
        protocol_split(trials, steps=3)


@pytest.mark.parametrize("old", ["seed", "n_steps"])
def test_evaluate_and_compare_refuse_the_names_of_0_1(oracle, trials, old):
    with pytest.raises(TypeError, match=f"'{old}'"):
        evaluate(oracle, trials, **{old: 2})
    with pytest.raises(TypeError, match=f"'{old}'"):
        compare({"oracle": oracle}, trials, **{old: 2})


def test_variables_are_defined_once():
    from neurognocchi.evaluation import comparison, figures

    assert comparison.VARIABLES is figures.VARIABLES is VARIABLES
    assert VARIABLES == ("target_x", "target_y", "start_x", "start_y")


def test_low_level_helpers_are_imported_from_their_modules():
    import neurognocchi.evaluation as evaluation

    helpers = (
        "format_value",
        "to_db",
        "infer_grid_spacing",
        "window_bins",
        "start_and_end",
        "position_channels",
        "nearest_conditions",
        "traversal_codes",
    )
    for name in helpers:
        assert name not in evaluation.__all__ and not hasattr(evaluation, name), name
    assert {"evaluate", "compare", "protocol_split", "write_report"} <= set(evaluation.__all__)
