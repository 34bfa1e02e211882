"""The GitHub issue of an incident: title, body and the marker that finds it again (no I/O).

The body comes from ``prompts/github_issue.md.j2``. Every string from the trace or the Sentry event (type,
message, paths, functions, the event's URL, warnings) is in a code span or fence that it cannot close, where
GitHub neither links, formats nor mentions; the rest of the text is escaped for GitHub Markdown. Mentions
(``@login``, ``@org/team``) appear only for logins resolved from the repository's CODEOWNERS, the explicit map,
a noreply address or GitHub's own commit author, never from trace text. E-mail addresses are never written
into an issue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from incidentbot.draft.template import cause_and_owner, seen_rows, trace_text
from incidentbot.models import Evidence, Owner, Report, SuspectCommit
from incidentbot.people import GITHUB_LOGIN
from incidentbot.prompting import environment
from incidentbot.render_safe import Markdown, md_code, md_text, safe_url, strip_invisible

TITLE_CHARS = 256  # GitHub's limit
BODY_CHARS = 65_000  # GitHub rejects bodies over 65,536 characters
MARKER = "<!-- incidentbot:fingerprint={fingerprint} -->"
_MARKER_LINE = re.compile(r"^<!-- incidentbot:fingerprint=([0-9a-f]{16,64}) -->$")
_TEAM = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class _SuspectRow:
    sha: str
    author_label: str
    committed_at: datetime
    score: float
    summary: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _OwnerRow:
    label: str
    reason: str


def issue_title(report: Report) -> str:
    title = " ".join(strip_invisible(report.title).split())
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


def issue_body(report: Report, logins: Mapping[str, str], now: datetime) -> str:
    """The issue body; ``logins`` maps lower-cased e-mails to GitHub logins resolved by the reporter."""
    evidence = report.evidence
    location = evidence.location
    body = (
        environment()
        .get_template("github_issue.md.j2")
        .render(
            summary=_summary(evidence),
            exception_type=Markdown(md_code(evidence.trace.exception_type)),
            message_line=" ".join(evidence.trace.message.split())[:500],
            location=location,
            excerpt=_excerpt(report),
            revision=evidence.revision or "",
            remote_url=safe_url(evidence.remote_url),
            suspects=[_suspect_row(s, logins) for s in evidence.suspects],
            owners=[_owner_row(o, logins) for o in evidence.owners],
            seen_before=seen_rows(evidence),
            trace_text=trace_text(evidence.trace),
            warnings=[Markdown(md_code(warning)) for warning in evidence.warnings],
            fingerprint=evidence.fingerprint,
            redactions=evidence.redactions,
            drafted_by=report.drafted_by,
            ranked_by=(evidence.ranked_by or "shipped weights") if evidence.suspects else "",
            analysis=report.analysis,
            analysis_note=report.analysis_note,
            source_url=None,  # the event's own URL: shown in code in the summary, never as a link
            marker=marker(evidence.fingerprint),
            now=now,
        )
    )
    if len(body) > BODY_CHARS:  # keep the marker: it is how the issue is found again
        body = body[: BODY_CHARS - 200] + "\n\n…(cut to GitHub's size limit)\n\n" + marker(evidence.fingerprint)
    return body


def _summary(evidence: Evidence) -> str:
    """The summary paragraph (like the Markdown report's), with the exception type and the event's URL in code."""
    exception = evidence.trace.primary
    text = f"Exception {md_code(exception.type)} raised"  # a line never starts with a code span: no fence
    if evidence.location:
        text += f" at {md_code(f'{evidence.location.path}:{evidence.location.line}')}"
    text += "." + cause_and_owner(evidence)
    if evidence.trace.url:
        text += f" Source: {md_code(evidence.trace.url)}."
    return text


def marker(fingerprint: str) -> str:
    return MARKER.format(fingerprint=fingerprint)


def marked_fingerprint(body: str | None) -> str | None:
    """The fingerprint in a body's marker, which must be its last line (trace text sits above it, fenced)."""
    lines = (body or "").rstrip().splitlines()
    match = _MARKER_LINE.match(lines[-1]) if lines else None
    return match[1] if match else None


def _excerpt(report: Report) -> str:
    location = report.evidence.location
    if location is None or not location.excerpt:
        return ""
    width = len(str(location.excerpt_start + len(location.excerpt)))
    rows = []
    for offset, text in enumerate(location.excerpt):
        number = location.excerpt_start + offset
        mark = "→" if number == location.line else " "
        rows.append(f"{mark}{number:>{width}} | {text}")
    return "\n".join(rows)


def _suspect_row(suspect: SuspectCommit, logins: Mapping[str, str]) -> _SuspectRow:
    login = _login(suspect.author.github_login) or logins.get((suspect.author.email or "").lower())
    name = md_text(suspect.author.name or "unknown")
    return _SuspectRow(
        suspect.sha,
        f"{name} (@{login})" if login else name,
        suspect.committed_at,
        suspect.score,
        suspect.summary,
        suspect.reasons,
    )


def _owner_row(owner: Owner, logins: Mapping[str, str]) -> _OwnerRow:
    if owner.team:
        label = owner.team if _TEAM.match(owner.team) else md_text(owner.team)
        return _OwnerRow(label, f"{owner.reason} ({owner.source})")
    person = owner.person
    login = person and (_login(person.github_login) or logins.get((person.email or "").lower()))
    if login:
        label = f"@{login}" + (f" ({md_text(person.name)})" if person and person.name else "")
    else:
        label = md_text((person and person.name) or "an owner without a GitHub login")
    return _OwnerRow(label, f"{owner.reason} ({owner.source})")


def _login(value: str | None) -> str | None:
    return value if value and GITHUB_LOGIN.match(value) else None


def preview(report: Report, logins: Mapping[str, str], now: datetime) -> str:
    """The issue as `--format github` prints it: the title, a blank line, the body."""
    return f"{issue_title(report)}\n\n{issue_body(report, logins, now)}"
