"""Recall: the resolved incidents a store remembers for this repository, matched against a new incident.

Two sources, both kept in the store and never elsewhere:
- the labelled cases of ``incidentbot learn`` and of the daemon's sync (``learned_cases``): a closed issue, its
  fix commit and the signature of its trace;
- resolved incidents that incidentbot itself reported (``incidents`` in state ``resolved``) whose fix was not
  found: the earlier issue is still worth a link.

A SQLite store is read with the standard library, read-only: a triage neither creates nor migrates it and does
not import SQLAlchemy. Any failure to read it costs the "Seen before" section only, never the report.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from incidentbot.memory import make_signature, seen_before, signature
from incidentbot.models import Evidence, ResolvedIncident, SeenBefore, Signature, SuspectCommit
from incidentbot.repo import RepoView
from incidentbot.settings import Settings
from incidentbot.sqlite_readonly import read_only
from incidentbot.timed_cache import TimedCache

log = logging.getLogger(__name__)

MAX_REMEMBERED = 5000  # resolved incidents read per triage, newest first
CACHE_SECONDS = 60.0  # a running daemon sees a newly resolved incident within this

_cache: TimedCache[list[ResolvedIncident]] = TimedCache(CACHE_SECONDS)


def recall(evidence: Evidence, settings: Settings, repo: RepoView) -> Evidence:
    """``evidence`` with ``seen_before`` filled, and a reason on any suspect that was an earlier fix."""
    from linkers.calibration import repo_key

    key = repo_key(evidence.remote_url, settings.github_repository, repo.root)
    try:
        remembered = _remembered(settings.effective_database_url, key, evidence.remote_url)
    except Exception as exc:  # the store is optional here: a report without "Seen before" is still a report
        log.warning("no memory of resolved incidents: %s: %s", type(exc).__name__, exc)
        return evidence
    found = seen_before(evidence.fingerprint, signature(evidence), remembered)
    if not found:
        return evidence
    found = tuple(replace(s, incident=_with_fixer(s.incident, repo)) for s in found)
    return replace(evidence, seen_before=found, suspects=tuple(_mark_fixes(s, found) for s in evidence.suspects))


def _mark_fixes(suspect: SuspectCommit, found: tuple[SeenBefore, ...]) -> SuspectCommit:
    """A suspect that fixed an incident like this one before: the fix may have regressed."""
    for seen in found:
        if seen.incident.fix_sha == suspect.sha and seen.incident.issue_number is not None:
            note = f"it fixed #{seen.incident.issue_number} before ({seen.reason}): that fix may have regressed"
            return replace(suspect, reasons=(note, *suspect.reasons))
    return suspect


def _with_fixer(incident: ResolvedIncident, repo: RepoView) -> ResolvedIncident:
    """Who fixed it and the fix's summary, from the checkout (the store keeps hashes only)."""
    if not incident.fix_sha:
        return incident
    try:
        out = str(repo.git.log("-1", "--format=%an%x00%s", incident.fix_sha))
    except Exception:  # a fix the checkout lacks (another branch, a shallow clone): the hash alone
        return incident
    name, _, summary = out.partition("\x00")
    return replace(incident, fixed_by=name.strip() or None, fix_summary=summary.strip() or None)


def _remembered(database_url: str, key: str, remote_url: str | None) -> list[ResolvedIncident]:
    """What the store remembers, read at most once per ``CACHE_SECONDS`` per repository."""
    return _cache.get((database_url, key, remote_url), lambda: list(_read(database_url, key, remote_url)))


def forget_cached() -> None:
    """Drop the cached reads (a test, or a process that has just learnt something)."""
    _cache.clear()


def _read(database_url: str, key: str, remote_url: str | None) -> Iterator[ResolvedIncident]:
    rows = _read_sqlite(database_url, key) if database_url.startswith("sqlite:///") else _read_store(database_url, key)
    cases, incidents = rows
    seen_issues: set[int] = set()
    for issue, fingerprint, fix, case_json, learned_at in cases:
        incident = _from_case(issue, fingerprint, fix, case_json, learned_at, remote_url)
        if incident is not None:
            seen_issues.add(issue)
            yield incident
    for fingerprint, issue_number, issue_url, last_seen, report_json in incidents:
        if issue_number in seen_issues:
            continue
        incident = _from_report(fingerprint, issue_number, issue_url, last_seen, report_json, remote_url)
        if incident is not None:
            yield incident


Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]

_CASES = "SELECT issue, fingerprint, fix, case_json, learned_at FROM learned_cases WHERE repo = ? ORDER BY issue DESC"
_INCIDENTS = (
    "SELECT fingerprint, issue_number, issue_url, last_seen, report_json FROM incidents "
    "WHERE state = 'resolved' AND issue_number IS NOT NULL ORDER BY last_seen DESC"
)


def _read_sqlite(database_url: str, key: str) -> Rows:
    with read_only(database_url) as conn:
        return _both(conn.execute, key) if conn is not None else ([], [])


def _read_store(database_url: str, key: str) -> Rows:
    from incidentbot.store import optional_store

    store = optional_store(database_url)
    if store is None:  # the database is down: no "Seen before" this time
        return [], []
    try:
        return store.remembered(key, MAX_REMEMBERED)
    finally:
        store.close()


def _both(execute: Any, key: str) -> Rows:
    try:
        cases = [tuple(r) for r in execute(f"{_CASES} LIMIT {MAX_REMEMBERED}", (key,)).fetchall()]
    except sqlite3.OperationalError:  # a store from before learning: no learned_cases table
        cases = []
    incidents = [tuple(r) for r in execute(f"{_INCIDENTS} LIMIT {MAX_REMEMBERED}").fetchall()]
    return cases, incidents


def _from_case(
    issue: int, fingerprint: str | None, fix: str, case_json: str, learned_at: Any, remote_url: str | None
) -> ResolvedIncident | None:
    case = json.loads(case_json)
    raw = case.get("signature")
    if not raw:
        return None
    return ResolvedIncident(
        fingerprint=fingerprint or case.get("fingerprint") or "",
        signature=Signature(**raw),
        issue_number=int(issue),
        issue_url=f"{remote_url}/issues/{issue}" if remote_url else None,
        fix_sha=fix,
        fix_summary=None,
        fixed_by=None,
        resolved_at=_moment(learned_at),
    )


def _from_report(
    fingerprint: str, issue_number: int, issue_url: str | None, last_seen: Any, report_json: str, remote_url: str | None
) -> ResolvedIncident | None:
    """An incident incidentbot reported for this repository (its report names the same GitHub remote)."""
    evidence = json.loads(report_json).get("evidence") or {}
    if not remote_url or evidence.get("remote_url") != remote_url:
        return None
    exceptions = (evidence.get("trace") or {}).get("exceptions") or []
    if not exceptions:
        return None
    exc = exceptions[-1]
    frames = [f for f in exc.get("frames") or [] if f.get("repo_path")]
    location = evidence.get("location") or {}
    function = location.get("function") or (frames[-1].get("function") if frames else None)
    path = location.get("path") or (frames[-1].get("repo_path") if frames else None)
    sig = make_signature(str(exc.get("type", "")), str(exc.get("value") or ""), function, path)
    return ResolvedIncident(fingerprint, sig, int(issue_number), issue_url, None, None, None, _moment(last_seen))


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None
