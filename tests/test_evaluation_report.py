"""The HTML report: valid HTML, every image present, every number as `compare` returned it."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from neurognocchi.data import make_toy_dataset
from neurognocchi.evaluation import compare, protocol_split
from neurognocchi.evaluation.comparison import format_value
from neurognocchi.evaluation.report import write_report
from test_evaluation_protocol import LinearCodeModel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID_ELEMENTS = {"meta", "img", "br", "hr", "link", "input"}


class ReportParser(HTMLParser):
    """Images, metric cells (data-key, data-model -> text), the summary JSON, and whether
    every element that was opened was closed in order."""

    def __init__(self):
        super().__init__()
        self.images, self.cells, self.stack, self.errors = [], {}, [], []
        self.summary_json, self._cell, self._in_summary = None, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "td" and "data-key" in attrs:
            self._cell = (attrs["data-model"], attrs["data-key"])
            self.cells[self._cell] = ""
        self._in_summary = tag == "script" and attrs.get("id") == "summary"
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")
        self._cell, self._in_summary = None, False

    def handle_data(self, data):
        if self._cell is not None:
            self.cells[self._cell] += data
        if self._in_summary:
            self.summary_json = (self.summary_json or "") + data


def parse(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    assert parser.errors == [] and parser.stack == []
    return parser


@pytest.fixture(scope="module")
def comparison_and_trials():
    trials = make_toy_dataset(96, n_neurons=12, n_time=20, grid_size=4, random_state=1)
    train = trials[protocol_split(trials).train]
    models = {"GNOCCHI": LinearCodeModel(0.1).fit(train), "LFADS": LinearCodeModel(2.0).fit(train)}
    return compare(models, trials, n_samples=2), trials


@pytest.fixture(scope="module")
def embedded_report(comparison_and_trials, tmp_path_factory):
    comparison, trials = comparison_and_trials
    path = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(comparison, path, trials=trials, run_seconds=1.5, dpi=30)


def test_report_embeds_every_image_as_a_png(embedded_report):
    parser = parse(embedded_report)
    assert len(parser.images) == 8
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert [p.name for p in embedded_report.parent.iterdir()] == ["report.html"]  # no temp files


def test_report_numbers_equal_the_comparison(embedded_report, comparison_and_trials):
    comparison, _ = comparison_and_trials
    parser = parse(embedded_report)
    rows = comparison["table"]["rows"]
    assert len(parser.cells) == (len(comparison["table"]["columns"]) - 1) * len(rows)
    for row in rows:
        for model, result in comparison["models"].items():
            value = result["summary"].get(row["key"])
            sd = result["summary"].get(f"{row['key']}_sd")
            cell = parser.cells[(model, row["key"])]
            expected = "—" if row["key"] not in result["summary"] else None
            expected = expected or format_value(value, row["format"], sd)
            assert cell == expected, (model, row["key"])
            if value is not None:
                decimals = int(row["format"].strip(".f"))
                shown = float(cell.split(" ± ")[0])
                assert abs(shown - value) <= 0.5 * 10**-decimals + 1e-12
    summaries = {name: result["summary"] for name, result in comparison["models"].items()}
    assert json.loads(parser.summary_json) == summaries


def test_report_describes_data_models_and_versions(embedded_report):
    text = embedded_report.read_text(encoding="utf-8")
    for expected in (
        "Trials(n_trials=96",
        "LinearCodeModel",
        "numpy",
        "matplotlib",
        "run time (s)",
        "1.5",
        "seed",
    ):
        assert expected in text, expected


def test_report_with_images_beside_it(comparison_and_trials, tmp_path):
    comparison, _ = comparison_and_trials
    figures = {"code_snr": Figure(figsize=(2, 2)), "custom": Figure(figsize=(2, 1))}
    path = tmp_path / "out" / "run.html"
    write_report(comparison, path, embed_images=False, dpi=30, figures=figures)
    parser = parse(path)
    assert parser.images == ["run_figures/code_snr.png", "run_figures/custom.png"]
    for src in parser.images:
        assert (path.parent / src).read_bytes().startswith(PNG_MAGIC)


def test_report_rejects_bad_arguments_without_writing(comparison_and_trials, tmp_path):
    comparison, _ = comparison_and_trials
    with pytest.raises(ValueError, match=r"\.html"):
        write_report(comparison, tmp_path / "report.txt")
    with pytest.raises(ValueError, match="compare"):
        write_report({"table": {}}, tmp_path / "report.html")
    assert list(tmp_path.iterdir()) == []


# Appended to a copy of the report (never to the product): after load, record in the DOM how
# many images the browser decoded to a real bitmap.
PROBE = """<script>window.addEventListener("load", () => {
  const decoded = [...document.images].filter((im) => im.complete && im.naturalWidth > 0);
  document.body.setAttribute("data-decoded", decoded.length);
});</script>"""


def _chromium(*args: str, profile) -> subprocess.CompletedProcess:
    command = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium binary on PATH")
def test_report_opens_in_headless_chromium(embedded_report, tmp_path):
    """The page a user opens, rendered by a real browser: every figure decodes and the table
    is there; on failure a screenshot is left in the test's folder."""
    probe = tmp_path / "report_probe.html"
    probe.write_text(embedded_report.read_text().replace("</body>", PROBE + "</body>"))
    result = _chromium(
        "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(), profile=tmp_path / "profile"
    )
    dom = result.stdout
    ok = result.returncode == 0 and 'id="metrics"' in dom and 'data-decoded="8"' in dom
    if not ok:
        shot = tmp_path / "report.png"
        _chromium(
            f"--screenshot={shot}",
            "--window-size=1200,3000",
            embedded_report.as_uri(),
            profile=tmp_path / "profile",
        )
        pytest.fail(
            f"report did not render as expected (screenshot: {shot}); "
            f"stderr: {result.stderr[-1500:]}"
        )
    assert dom.count("<img") == 8


def test_the_evaluation_package_exports_the_report():
    import neurognocchi.evaluation as evaluation
    import neurognocchi.evaluation.report as report

    assert report.write_report is evaluation.write_report


# ---------------------------------------------------------------------- the first screen
def _comparison(summaries: dict, n_sampling_seeds: int = 3) -> dict:
    """A compare()-shaped result with only summaries (and the table made from them)."""
    from neurognocchi.evaluation.comparison import summary_table

    models = {
        name: {"summary": summary, "config": {"n_sampling_seeds": n_sampling_seeds}}
        for name, summary in summaries.items()
    }
    return {"models": models, "table": summary_table(models)}


def test_headline_marks_a_best_only_where_it_stands_apart():
    from neurognocchi.evaluation.headline import headline

    head = headline(
        _comparison(
            {
                "A": {"heldout_error": 1.0, "heldout_error_sd": 0.1, "reconstruction_r2": 0.80,
                      "reconstruction_r2_sd": 0.05},
                "B": {"heldout_error": 2.0, "heldout_error_sd": 0.1, "reconstruction_r2": 0.82,
                      "reconstruction_r2_sd": 0.01},
                "C": {"heldout_error": 3.0},  # no s.d.: a number without spread
            }
        )
    )  # fmt: skip
    rows = {row["key"]: row for row in head["rows"]}
    assert rows["heldout_error"]["best"] == ["A"] and rows["heldout_error"]["level"] == []
    # 0.82 leads 0.80 by less than the larger s.d. (0.05): level, nobody best
    assert rows["reconstruction_r2"]["best"] == [] and rows["reconstruction_r2"]["level"] == [
        "A",
        "B",
    ]
    assert "navigation_bias" not in rows  # no model measured it
    assert "A has the lowest held-out target error" in head["sentence"]
    assert "A and B are level on reconstruction R² vs reference" in head["sentence"]
    assert "3 sampling seeds" in head["sentence"]


def test_headline_ignores_models_without_the_number():
    from neurognocchi.evaluation.headline import headline

    head = headline(_comparison({"A": {"heldout_error": 1.0}, "CEBRA": {"heldout_error": None}}))
    assert head["rows"][0]["best"] == [] and head["rows"][0]["level"] == []
    assert head["sentence"] == "No headline number was measured for more than one model."


def test_report_opens_with_the_summary_and_groups_the_full_table(embedded_report):
    text = embedded_report.read_text(encoding="utf-8")
    summary, headline_table = text.index("<h2>Summary</h2>"), text.index('id="headline"')
    full = text.index('<div id="metrics">')
    assert summary < headline_table < text.index('id="fig-navigation"') < full
    assert text.index('id="fig-code_pcs"') > full  # the other figures follow the full table
    assert 'id="headline-sentence"' in text and "sampling seeds" in text
    assert text.count("<details>") >= 4 and "<summary>Codes (" in text
    # Every headline cell is the full table's cell for the same model and metric.
    parser = parse(embedded_report)
    assert ("GNOCCHI", "heldout_error") in parser.cells
    assert parser.cells[("GNOCCHI", "heldout_error")] in text[headline_table:full]
