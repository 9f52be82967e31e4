"""The whole protocol on real models (marked slow; about 2-3 min on 2 CPU cores).

Small GNOCCHI and LFADS are fitted on the held-in training trials of the toy data that
`protocol_split` defines; `compare` scores both and a report is written. Every number in the
report's table must equal, at the displayed precision, the dict `evaluate` returned.
"""

from __future__ import annotations

import json

import pytest

from neurognocchi import GNOCCHI, LFADS
from neurognocchi.data import make_toy_dataset
from neurognocchi.evaluation import compare, evaluate, protocol_split, write_report
from neurognocchi.evaluation.comparison import format_value
from test_evaluation_report import parse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted(one_torch_thread):
    trials = make_toy_dataset(300, random_state=0)
    train = trials[protocol_split(trials, valid_fraction=0.2, random_state=0).train]
    common = dict(code_dim=8, max_epochs=80, random_state=0, device="cpu", verbose=False)
    models = {
        "GNOCCHI": GNOCCHI(channels=32, rec_weight=4.0, **common).fit(train),
        "LFADS": LFADS(**common).fit(train),
    }
    return models, trials


@pytest.fixture(scope="module")
def comparison(fitted):
    models, trials = fitted
    return compare(models, trials, random_state=0, n_samples=8, n_sampling_seeds=2)


def test_report_numbers_equal_the_evaluate_dicts(comparison, fitted, tmp_path_factory):
    models, trials = fitted
    path = tmp_path_factory.mktemp("r") / "report.html"
    write_report(comparison, path, trials=trials, embed_images=False)
    parser = parse(path)
    assert len(parser.images) == 8  # PNGs beside the HTML (the fast tests check embedding)
    for src in parser.images:
        assert (path.parent / src).read_bytes().startswith(b"\x89PNG"), src
    for row in comparison["table"]["rows"]:
        for name, result in comparison["models"].items():
            value, sd = result["summary"].get(row["key"]), result["summary"].get(f"{row['key']}_sd")
            expected = format_value(value, row["format"], sd)
            if row["key"] not in result["summary"]:
                expected = "—"
            assert parser.cells[(name, row["key"])] == expected
    assert json.loads(parser.summary_json) == {
        name: result["summary"] for name, result in comparison["models"].items()
    }
    # evaluate() on its own gives the numbers compare() put in the report (same seeds).
    again = evaluate(models["LFADS"], trials, random_state=0, n_samples=8, n_sampling_seeds=2)
    again = again["summary"]
    reported = comparison["models"]["LFADS"]["summary"]
    for key, value in again.items():
        if key != "evaluate_seconds":
            assert value == reported[key], key


def test_both_models_pass_sanity_checks(comparison):
    # Measured (2-core CPU, seed 0): see the report's table; thresholds are loose floors.
    for name, result in comparison["models"].items():
        summary = result["summary"]
        print(name, json.dumps(summary, indent=1))
        assert summary["decoder_r2_valid"] > 0.5, name
        assert summary["snr_db_target_x"] > 3 and summary["snr_db_target_y"] > 3, name
        assert summary["heldout_r2"] > 0.3, name
        assert summary["orthogonality_cos"] < 0.5, name
        assert summary["conditional_spikes_corr_rmse"] < 0.1, name
    assert comparison["models"]["LFADS"]["summary"]["reconstruction_r2"] > 0.5
