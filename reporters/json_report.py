"""The JSON output: a stable schema for scripts, benchmarks and other tools (docs/output.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from incidentbot.models import Analysis, Evidence, Owner, Report, SeenBefore, SuspectCommit, Usage

SCHEMA_VERSION = 1


class JsonReporter:
    name = "json"

    def render(self, report: Report) -> str:
        return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)


def report_to_dict(report: Report) -> dict[str, Any]:
    evidence = report.evidence
    trace = evidence.trace
    return {
        "schema": SCHEMA_VERSION,
        "fingerprint": evidence.fingerprint,
        "title": report.title,
        "summary": report.summary_md,
        "exception": {"type": trace.exception_type, "value": trace.message},
        "exceptions": [{"type": e.type, "value": e.value, "relation": e.relation} for e in trace.exceptions],
        "revision": evidence.revision,
        "revision_reason": evidence.revision_reason,
        "release": trace.release,
        "environment": trace.environment,
        "first_seen": _iso(trace.first_seen),
        "source": trace.source,
        "source_id": trace.source_id,
        "url": trace.url,
        "frames": _frames(evidence),
        "location": _location(evidence),
        "suspects": [_suspect(s) for s in evidence.suspects],
        "owners": [_owner(o) for o in evidence.owners],
        "ranked_by": (evidence.ranked_by or "shipped weights") if evidence.suspects else None,
        "seen_before": [_seen(s) for s in evidence.seen_before],
        "redactions": evidence.redactions,
        "warnings": list(evidence.warnings),
        "drafted_by": report.drafted_by,
        "analysis": _analysis(report.analysis),
        "analysis_note": report.analysis_note,
        "usage": _usage(report.usage),
    }


def _seen(seen: SeenBefore) -> dict[str, Any]:
    past = seen.incident
    return {
        "issue": past.issue_number,
        "url": past.issue_url,
        "matched_on": seen.matched_on,
        "fix": past.fix_sha,
        "fix_summary": past.fix_summary,
        "fixed_by": past.fixed_by,
    }


def _analysis(a: Analysis | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "model": a.model,
        "summary": a.summary,
        "root_cause": a.root_cause,
        "evidence": list(a.evidence),
        "suggested_fix": a.suggested_fix,
        "fix_diff": a.fix_diff,
        "confidence": a.confidence,
        "severity": a.severity,
        "culprit_commit": a.culprit_commit,
        "dropped_references": a.dropped_references,
    }


def _usage(u: Usage | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return {
        "calls": u.calls,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cost_usd": u.cost_usd,
        "cached": u.cached,
    }


def _frames(evidence: Evidence) -> list[dict[str, Any]]:
    return [
        {
            "path": frame.filename,
            "repo_path": frame.repo_path,
            "line": frame.lineno,
            "repo_line": frame.repo_line,
            "function": frame.function,
            "in_app": bool(frame.in_app),
            "alignment": frame.alignment,
            "exception": index,
        }
        for index, exc in enumerate(evidence.trace.exceptions)
        for frame in exc.frames
    ]


def _location(evidence: Evidence) -> dict[str, Any] | None:
    loc = evidence.location
    if loc is None:
        return None
    return {"path": loc.path, "line": loc.line, "function": loc.function, "url": loc.url}


def _suspect(s: SuspectCommit) -> dict[str, Any]:
    return {
        "commit": s.sha,
        "author_name": s.author.name,
        "author_email": s.author.email,
        "authored_at": _iso(s.authored_at),
        "committed_at": _iso(s.committed_at),
        "summary": s.summary,
        "score": round(s.score, 3),
        "reasons": list(s.reasons),
        "features": dict(s.features),  # what the fitted ranking weighed (docs/ranking.md)
    }


def _owner(o: Owner) -> dict[str, Any]:
    person = o.person
    return {
        "name": person.name if person else None,
        "email": person.email if person else None,
        "github": person.github_login if person else None,
        "team": o.team,
        "source": o.source,
        "reason": o.reason,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
