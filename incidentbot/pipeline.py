"""The only module that knows the order of the stages: parse → scrub → link → recall → draft (then deliver.py
posts).

Each stage is a plain function of its input. A linker that fails on one trace is logged and the triage goes on
with what the others found, so one broken stage never costs the whole report.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from incidentbot.draft.drafting import draft
from incidentbot.errors import IncidentbotError
from incidentbot.fingerprint import fingerprint
from incidentbot.models import Evidence, Report, Trace
from incidentbot.parse import parse_trace
from incidentbot.recall import recall
from incidentbot.registry import linker_class
from incidentbot.repo import RepoView
from incidentbot.revision import choose_revision
from incidentbot.scrub import scrub_trace
from incidentbot.settings import Settings

log = logging.getLogger(__name__)


def triage(
    raw: str, settings: Settings, *, now: datetime | None = None, input_warnings: tuple[str, ...] = ()
) -> Report:
    """One raw trace (text or Sentry JSON) and the repository in ``settings.repo`` → a drafted report."""
    trace = parse_trace(raw, settings.limits)
    if input_warnings:
        trace = replace(trace, warnings=input_warnings + trace.warnings)
    repo = open_repo(settings.repo.resolve())
    evidence = recall(link(trace, settings, now=now), settings, repo)
    return draft(evidence, settings, repo)


def link(trace: Trace, settings: Settings, *, now: datetime | None = None) -> Evidence:
    """Scrub the trace, then run the configured linkers over it in order."""
    now = now or datetime.now(tz=UTC)
    if settings.first_seen is not None:
        trace = replace(trace, first_seen=_aware(settings.first_seen))
    trace, redactions = scrub_trace(trace, settings.redaction)
    repo = open_repo(settings.repo.resolve())
    revision = choose_revision(repo, trace, settings.rev, now, settings.release_range)
    evidence = Evidence(
        trace=trace,
        fingerprint=fingerprint(trace),
        revision=revision.sha,
        revision_reason=revision.reason,
        revision_pinned=revision.pinned,
        release_range=revision.release_range,
        redactions=redactions + trace.redactions,
        warnings=trace.warnings + revision.warnings,
        remote_url=repo.github_url(),
    )
    for name in settings.linkers:
        linker = linker_class(name).from_settings(settings)
        try:
            evidence = linker.link(evidence, repo)
        except IncidentbotError:
            raise
        except Exception as exc:  # a stage boundary: one failing linker must not cost the report
            log.exception("linker %s failed", name)
            evidence = evidence.with_warning(f"linker {name} failed: {type(exc).__name__}: {exc}")
    # The fingerprint uses the in-app decisions, which exist only after path mapping.
    return replace(evidence, fingerprint=fingerprint(evidence.trace))


@lru_cache(maxsize=4)
def open_repo(path: Path) -> RepoView:
    """One RepoView per repository per process, so a daemon or a batch reuses its caches and git processes."""
    return RepoView(path)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
