"""Markdown output: the report's title as a heading over its body (also the GitHub issue body's base)."""

from __future__ import annotations

from incidentbot.models import Report
from incidentbot.render_safe import md_text


class MarkdownReporter:
    name = "markdown"

    def render(self, report: Report) -> str:
        return f"# {md_text(report.title)}\n\n{report.summary_md}\n\n{report.body_md}"
