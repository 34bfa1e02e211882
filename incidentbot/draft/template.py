"""The deterministic drafter: a report from the evidence alone, rendered from ``prompts/report.md.j2``."""

from __future__ import annotations

from datetime import UTC, datetime

from incidentbot.models import Analysis, Evidence, Report, Trace, Usage
from incidentbot.render_safe import md_code, md_text, safe_url, strip_invisible

TITLE_MESSAGE_CHARS = 80


def draft_report(
    evidence: Evidence,
    now: datetime | None = None,
    analysis: Analysis | None = None,
    analysis_note: str | None = None,
    usage: Usage | None = None,
) -> Report:
    """The report from the evidence, with the LLM's analysis beside the facts when there is one. Its Markdown
    body is rendered when a reporter asks for it (``report_body``): console and JSON output never load Jinja2."""
    return Report(
        title=title(evidence),
        summary_md=summary(evidence),
        evidence=evidence,
        drafted_by=analysis.model if analysis else "template",
        analysis=analysis,
        analysis_note=analysis_note,
        usage=usage,
        drafted_at=now or datetime.now(tz=UTC),
    )


def report_body(report: Report) -> str:
    """The Markdown body of the report (``prompts/report.md.j2``): the same text whenever it is asked for."""
    from incidentbot.prompting import environment  # Jinja2, only for the outputs that show the body

    evidence, analysis = report.evidence, report.analysis
    return (
        environment()
        .get_template("report.md.j2")
        .render(
            exception=evidence.trace.primary,
            message_line=_first_line(evidence.trace.message, 300),
            location=evidence.location,
            revision=evidence.revision,
            revision_reason=evidence.revision_reason or "",
            suspects=evidence.suspects,
            owners=evidence.owners,
            seen_before=seen_rows(evidence),
            frames=[f for exc in evidence.trace.exceptions for f in exc.frames][-40:],
            trace_text=trace_text(evidence.trace),
            warnings=evidence.warnings,
            redactions=evidence.redactions,
            analysis=analysis,
            analysis_note=report.analysis_note,
            now=report.drafted_at,
        )
    )


def title(evidence: Evidence) -> str:
    """``KeyError: 'sku' in total``: one line, no invisible characters."""
    exc = evidence.trace.primary
    message = _first_line(exc.value, TITLE_MESSAGE_CHARS)
    text = f"{exc.type}: {message}" if message else exc.type
    if evidence.location and evidence.location.function:
        text += f" in {evidence.location.function}"
    return strip_invisible(" ".join(text.split()))


def summary(evidence: Evidence) -> str:
    exc = evidence.trace.primary
    parts = [f"{md_text(exc.type)} raised"]
    if evidence.location:
        parts.append(f"at {md_code(f'{evidence.location.path}:{evidence.location.line}')}")
    return " ".join(parts) + "." + cause_and_owner(evidence)


def cause_and_owner(evidence: Evidence) -> str:
    """`` Most likely cause: `abc1234` by Alice (score 0.82). Owner: @acme/payments.``, or what of it is known.
    No e-mail address: the summary is posted to GitHub, and an issue may be public (docs/security.md)."""
    text = ""
    if evidence.suspects:
        top = evidence.suspects[0]
        who = top.author.name or top.author.github_login or "an author with no name in git"
        text += f" Most likely cause: {md_code(top.sha[:7])} by {md_text(who)} (score {top.score:.2f})."
    if evidence.owners:  # the declared owner (CODEOWNERS) when there is one: the suspect's author is named above
        owner = next((o for o in evidence.owners if o.source == "codeowners"), evidence.owners[0])
        name = owner.team or (owner.person and (owner.person.github_login or owner.person.name))
        text += f" Owner: {md_text(name or '?')}."
    return text


def trace_text(trace: Trace) -> str:
    """The trace in a compact, language-neutral text form (already redacted)."""
    lines: list[str] = []
    for exc in trace.exceptions:
        for frame in exc.frames:
            where = f"{frame.filename}:{frame.lineno or '?'}"
            lines.append(f"  at {frame.function or '?'} ({where})")
            if frame.context_line:
                lines.append(f"      {frame.context_line}")
        lines.append(f"{exc.type}: {exc.value}".rstrip(": "))
        if exc.relation == "cause":
            lines.append("-- which caused --")
        elif exc.relation == "context":
            lines.append("-- during whose handling --")
        elif exc.relation == "group":
            lines.append("-- member of the group --")
    return "\n".join(lines)


def _first_line(text: str, limit: int) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def seen_rows(evidence: Evidence) -> list[dict[str, object]]:
    """The "Seen before" entries as the Markdown templates show them: the earlier issue links only to an
    https URL (``safe_url``)."""
    return [
        {"incident": s.incident, "reason": s.reason, "url": safe_url(s.incident.issue_url)}
        for s in evidence.seen_before
    ]
