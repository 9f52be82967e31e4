"""Old home of the HTML report; moved to `neurognocchi.evaluation.report` (removed in 0.3)."""

from neurognocchi.evaluation.report import (
    PACKAGES,
    STYLE,
    metrics_table_html,
    report_html,
    versions,
    write_report,
)

__all__ = ["PACKAGES", "STYLE", "metrics_table_html", "report_html", "versions", "write_report"]
