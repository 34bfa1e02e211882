"""Markdown output: the report's title as a heading over its body (also the GitHub issue body's base)."""

from __future__ import annotations

from incidentbot.draft.template import report_body
from incidentbot.models import Report
from incidentbot.render_safe import md_text


class MarkdownReporter:
    name = "markdown"

    def render(self, report: Report) -> str:
        text = f"# {md_text(report.title)}\n\n{report.summary_md}\n\n{report_body(report)}"
        evidence = report.evidence
        if evidence.suspects:  # which weights ranked them: shipped, or calibrated on this repository
            text = f"{text.rstrip()}\n\nSuspects ranked by {md_text(evidence.ranked_by or 'shipped weights')}\n"
        return text
