"""The console report: what an on-call engineer reads first, at a glance. Colour only on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console
from rich.text import Text

from incidentbot.durations import ago
from incidentbot.models import Evidence, Report, SuspectCommit
from incidentbot.render_safe import strip_invisible

WIDTH = 100


def _safe(value: str) -> str:
    """Control characters from a trace (ESC sequences above all) must not reach the on-call engineer's
    terminal, nor bidirectional or zero-width characters that make it read differently."""
    return strip_invisible(value)


class ConsoleReporter:
    name = "console"

    def render(self, report: Report, color: bool = False, now: datetime | None = None) -> str:
        """``color`` alone decides: an explicit choice wins over NO_COLOR, TERM=dumb and FORCE_COLOR (the NO_COLOR
        convention); the CLI passes the terminal's answer when no flag is given."""
        now = now or datetime.now(tz=UTC)
        buffer = io.StringIO()
        console = Console(
            file=buffer,
            force_terminal=color,
            no_color=not color,
            color_system="standard" if color else None,
            legacy_windows=False,
            width=WIDTH,
            highlight=False,
            emoji=False,
            markup=False,
        )
        for renderable in _sections(report, now):
            console.print(renderable, soft_wrap=True)
        return buffer.getvalue()


def _sections(report: Report, now: datetime) -> list[Text]:
    # Text objects, never markup strings: trace text cannot inject rich markup.
    evidence = report.evidence
    out = [Text(_safe(report.title), style="bold red"), Text("")]
    out.append(_where(evidence))
    out += _suspects(evidence, now)
    out += _owners(evidence)
    out += _seen_before(evidence)
    out += _frames(evidence)
    out += _analysis(report)
    if evidence.warnings:
        out.append(Text("Warnings", style="bold yellow"))
        out += [Text(_safe(f"  ! {w}"), style="yellow") for w in evidence.warnings]
    footer = f"revision {(evidence.revision or 'unknown')[:12]} ({evidence.revision_reason or ''})"
    if evidence.suspects:
        footer += f" · suspects ranked by {evidence.ranked_by or 'shipped weights'}"
    out.append(
        Text(
            _safe(f"{footer} · {evidence.redactions} value(s) redacted · fingerprint {evidence.fingerprint[:12]}"),
            style="dim",
        )
    )
    return out


def _where(evidence: Evidence) -> Text:
    loc = evidence.location
    text = Text("Where      ", style="bold")
    if loc is None:
        return text.append("no in-app frame could be mapped to the repository\n")
    text.append(_safe(f"{loc.path}:{loc.line}"), style="cyan")
    if loc.function:
        text.append(_safe(f" in {loc.function}"))
    source = evidence.trace.exceptions[loc.exception_index].frames[loc.frame_index].context_line
    if source:
        text.append(_safe(f"\n           {source.strip()}"), style="bold")
    return text.append("\n")


def _suspects(evidence: Evidence, now: datetime) -> list[Text]:
    if not evidence.suspects:
        return [Text("Culprit    ", style="bold").append("no suspect commit found\n")]
    top = evidence.suspects[0]
    lines = [Text("Culprit    ", style="bold").append_text(_commit_line(top, now))]
    lines += [Text(_safe(f"             - {reason}")) for reason in top.reasons]
    if len(evidence.suspects) > 1:
        lines.append(Text("Also       ", style="bold").append_text(_commit_line(evidence.suspects[1], now)))
        lines += [Text("           ").append_text(_commit_line(s, now)) for s in evidence.suspects[2:]]
    lines.append(Text(""))
    return lines


def _commit_line(suspect: SuspectCommit, now: datetime) -> Text:
    who = suspect.author.name or suspect.author.email or "unknown"
    text = Text(suspect.sha[:7], style="yellow").append(_safe(f" {suspect.summary[:60]}"))
    text.append(_safe(f" — {who}, {ago(suspect.committed_at, now)}"), style="dim")
    return text.append(f"  {suspect.score:.0%} ({_confidence(suspect.score)})", style="bold")


def _confidence(score: float) -> str:
    return "high" if score >= 0.7 else "medium" if score >= 0.4 else "low"


def _owners(evidence: Evidence) -> list[Text]:
    if not evidence.owners:
        return [Text("Owners     ", style="bold").append("none found\n")]
    lines = []
    for index, owner in enumerate(evidence.owners):
        label = "Owners     " if index == 0 else "           "
        person = owner.person
        login = f"@{person.github_login}" if person and person.github_login else None
        name = owner.team or (person and (person.name or person.email or login)) or "?"
        if person and person.github_login and person.name:
            name += f" (@{person.github_login})"
        lines.append(
            Text(label, style="bold").append(_safe(name), style="green").append(_safe(f"  {owner.reason}"), style="dim")
        )
    lines.append(Text(""))
    return lines


def _seen_before(evidence: Evidence) -> list[Text]:
    lines = []
    for index, seen in enumerate(evidence.seen_before):
        past = seen.incident
        text = Text("Seen before" if index == 0 else "           ", style="bold").append(
            f" #{past.issue_number}", style="cyan"
        )
        text.append(_safe(f" {seen.reason}; "))
        if past.fix_sha:
            text.append("fixed by ").append(past.fix_sha[:7], style="yellow")
            text.append(_safe(f" {past.fix_summary or ''}"[:61].rstrip()))
            text.append(_safe(f" — {past.fixed_by}" if past.fixed_by else ""), style="dim")
        else:
            text.append("its fix was not found", style="dim")
        lines.append(text)
    return [*lines, Text("")] if lines else []


def _analysis(report: Report) -> list[Text]:
    analysis = report.analysis
    if analysis is None:
        note = report.analysis_note
        return (
            [Text("Analysis   ", style="bold").append(_safe(f"unavailable: {note}"), style="dim"), Text("")]
            if note
            else []
        )
    head = f"{analysis.model}, {analysis.confidence:.0%} confident, severity {analysis.severity}"
    lines = [Text("Analysis   ", style="bold").append(_safe(head), style="dim")]
    for label, value in (("What", analysis.summary), ("Cause", analysis.root_cause), ("Fix", analysis.suggested_fix)):
        lines.append(Text(f"  {label:<7}  ", style="bold").append(_safe(" ".join(value.split()))))
    if analysis.evidence:
        lines.append(Text("  Evidence ", style="bold").append(_safe(", ".join(analysis.evidence)), style="cyan"))
    usage = report.usage
    if usage is not None:
        cost = f", ${usage.cost_usd:.4f}" if usage.cost_usd is not None else ""
        spent = (
            "cached"
            if usage.cached
            else f"{usage.calls} calls, {usage.input_tokens}+{usage.output_tokens} tokens{cost}"
        )
        lines.append(Text(f"  ({spent})", style="dim"))
    lines.append(Text(""))
    return lines


def _frames(evidence: Evidence) -> list[Text]:
    frames = [f for exc in evidence.trace.exceptions for f in exc.frames if f.in_app][-12:]
    if not frames:
        return []
    lines = [Text("In-app frames (innermost last)", style="bold")]
    for frame in frames:
        where = f"{frame.repo_path or frame.filename}:{frame.repo_line or frame.lineno or '?'}"
        lines.append(Text("  ").append(_safe(where), style="cyan").append(_safe(f" {frame.function or '?'}")))
    lines.append(Text(""))
    return lines
