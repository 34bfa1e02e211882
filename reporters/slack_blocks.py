"""The Slack Block Kit messages of an incident: the root message and its thread replies (no I/O).

Built with slack-sdk's block models, which check Slack's field limits; every value from a trace goes through
``reporters.slack_text`` first. Owners arrive already formatted: a real mention only for people the reporter
resolved through ``users.lookupByEmail`` or the explicit map, never from trace text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from incidentbot.durations import ago
from incidentbot.models import Incident, Owner, Person, Report, SuspectCommit
from incidentbot.people import Directory
from reporters.slack_text import code, code_block, date, escape, link, plain, prose

HEADER_CHARS = 150  # Slack's limit for a header block
MAX_FRAMES = 8
MAX_REASONS = 4
MAX_OWNERS = 4
STATE_LABEL = {
    "open": ":red_circle: Open",
    "resolved": ":white_check_mark: Resolved",
    "regressed": ":rotating_light: Regressed",
}


def root_message(report: Report, incident: Incident, owners: Sequence[str], now: datetime) -> dict[str, Any]:
    """``text`` (the notification line) and ``blocks`` of the incident's root message."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=plain(report.title, HEADER_CHARS), emoji=False)),
        _mrkdwn_section(_status_line(incident)),
    ]
    where = _where(report)
    if where:
        blocks.append(_mrkdwn_section(where))
    if report.evidence.suspects:
        blocks += _suspect_blocks(report, report.evidence.suspects[0], now)
    if owners:
        blocks.append(_mrkdwn_section("*Owners:* " + ", ".join(owners)))
    if report.evidence.seen_before:
        blocks.append(_mrkdwn_section(_seen_before(report)))
    blocks += _analysis_blocks(report)
    frames = _frames(report)
    if frames:
        blocks.append(_mrkdwn_section("*In-app frames* (innermost last)\n" + code_block(frames)))
    blocks += [DividerBlock(), ContextBlock(elements=[_mrkdwn(_footer(report, incident))])]
    # The fallback text (notifications, clients without blocks) is parsed as mrkdwn too: the title in code.
    return {"text": code(report.title), "blocks": [block.to_dict() for block in blocks]}


def owner_labels(
    owners: Sequence[Owner], directory: Directory, lookup: Callable[[Person], str | None] | None = None
) -> list[str]:
    """Owners as mrkdwn: a real mention for a person resolved by ``lookup`` or the explicit map, or a team the
    map names; the escaped name otherwise. Nothing from a trace ever becomes a mention."""
    labels: list[str] = []
    for owner in owners[:MAX_OWNERS]:
        if owner.team:
            group = directory.slack_group(owner.team)
            label = f"<!subteam^{group}>" if group else f"{escape(owner.team)} (team)"
        else:
            person = owner.person or Person()
            user = lookup(person) if lookup else directory.slack_user(person.email)
            label = f"<@{user}>" if user else prose(person.name or person.github_login or "someone")
        if label not in labels:
            labels.append(label)
    return labels


def first_occurrence(report: Report) -> Incident:
    """The incident a report would open, before any store has seen it (for previews)."""
    seen = report.evidence.trace.first_seen or datetime.now(tz=UTC)
    return Incident(report.evidence.fingerprint, report.title, seen, report.evidence.trace.last_seen or seen)


def recurrence_reply(incident: Incident, reported_count: int, since: datetime) -> dict[str, Any]:
    new = incident.count - reported_count
    text = (
        f"Seen {new} more time{'s' if new != 1 else ''} since {date(since)} ({incident.count} in all); "
        f"last at {date(incident.last_seen)}."
    )
    return {"text": text}


def regression_reply(incident: Incident) -> dict[str, Any]:
    issue = link(incident.issue_url, f"GitHub issue #{incident.issue_number}") if incident.issue_number else "its issue"
    return {"text": f":rotating_light: *Regression:* this error is back after {issue} was closed."}


def resolved_reply(incident: Incident) -> dict[str, Any]:
    issue = link(incident.issue_url, f"GitHub issue #{incident.issue_number}")
    return {"text": f":white_check_mark: *Resolved:* {issue} was closed."}


def _status_line(incident: Incident) -> str:
    events = f"{incident.count} event{'s' if incident.count != 1 else ''}"
    return (
        f"*{STATE_LABEL[incident.state]}* · {events} · first seen {date(incident.first_seen)}"
        f" · last seen {date(incident.last_seen)}"
    )


def _where(report: Report) -> str | None:
    location = report.evidence.location
    if location is None:
        return None
    place = link(location.url, code(f"{location.path}:{location.line}"))
    text = f"*Where:* {place}"
    if location.function:
        text += f" in {code(location.function)}"
    offset = location.line - location.excerpt_start
    if location.excerpt and 0 <= offset < len(location.excerpt):
        text += "\n" + code_block(location.excerpt[offset].strip(), 300)
    return text


def _suspect_blocks(report: Report, top: SuspectCommit, now: datetime) -> list[Block]:
    remote = report.evidence.remote_url
    sha = link(f"{remote}/commit/{top.sha}" if remote else None, code(top.sha[:7]))
    who = prose(top.author.name or "unknown author")
    text = (
        f"*Likely cause:* {sha} by {who}, {ago(top.committed_at, now)} ({top.score:.0%})\n"
        f">{prose(' '.join(top.summary.split()))}"
    )
    # Reasons quote trace text (functions, paths): their code spans stay code, their links and mentions too.
    reasons = "\n".join(f"• {prose(reason, repository_paths=True)}" for reason in top.reasons[:MAX_REASONS])
    blocks: list[Block] = [_mrkdwn_section(text)]
    if reasons:
        blocks.append(ContextBlock(elements=[_mrkdwn(reasons)]))
    return blocks


def _seen_before(report: Report) -> str:
    """Earlier incidents like this one: the issue, what fixed it and who (values from git in code)."""
    lines = ["*Seen before:*"]
    remote = report.evidence.remote_url
    for seen in report.evidence.seen_before:
        past = seen.incident
        line = f"• {link(past.issue_url, f'#{past.issue_number}')} {escape(seen.reason)}; "
        if past.fix_sha:
            fix = link(f"{remote}/commit/{past.fix_sha}" if remote else None, code(past.fix_sha[:7]))
            line += f"fixed by {fix}"
            line += f" {code(past.fix_summary, 80)}" if past.fix_summary else ""
            line += f" ({code(past.fixed_by, 60)})" if past.fixed_by else ""
        else:
            line += "its fix was not found"
        lines.append(line)
    return "\n".join(lines)


def _analysis_blocks(report: Report) -> list[Block]:
    """The LLM's reading, rendered like trace text (a trace can steer a model); never a mention or a link."""
    analysis = report.analysis
    if analysis is None:
        note = report.analysis_note
        return [ContextBlock(elements=[_mrkdwn(f"Analysis unavailable: {prose(note)}")])] if note else []
    text = (
        f"*Analysis* ({escape(analysis.model)}, {analysis.confidence:.0%} confident)\n{prose(analysis.summary)}\n"
        f"*Root cause:* {prose(analysis.root_cause)}\n*Suggested fix:* {prose(analysis.suggested_fix)}"
    )
    return [_mrkdwn_section(text)]


def _frames(report: Report) -> str:
    frames = [f for f in report.evidence.trace.frames if f.in_app][-MAX_FRAMES:]
    return "\n".join(
        f"{f.repo_path or f.filename}:{f.repo_line or f.lineno or '?'} {f.function or '?'}" for f in frames
    )


def _footer(report: Report, incident: Incident) -> str:
    parts = []
    if incident.issue_number:
        parts.append(link(incident.issue_url, f"GitHub issue #{incident.issue_number}"))
    if incident.source_url:  # from the event, which anyone with the DSN can write: shown, never linked
        parts.append(f"Sentry issue {code(incident.source_url)}")
    if report.evidence.revision:
        parts.append(f"revision {code(report.evidence.revision[:7])}")
    if report.evidence.suspects:
        parts.append(f"suspects ranked by {escape(report.evidence.ranked_by or 'shipped weights')}")
    parts.append(f"fingerprint {code(incident.fingerprint[:12])}")
    parts.append(f"{report.evidence.redactions} value(s) redacted")
    parts.append(f"drafted by {escape(report.drafted_by)}")
    return " · ".join(parts)


def _mrkdwn(text: str) -> MarkdownTextObject:
    # verbatim besides: trace text is in code already, and Slack must not auto-link what our own prose holds.
    return MarkdownTextObject(text=text, verbatim=True)


def _mrkdwn_section(text: str) -> SectionBlock:
    return SectionBlock(text=_mrkdwn(text[:3000]))
