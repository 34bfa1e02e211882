"""Deliver a report: one post per incident per destination, updates after that, failures kept for a retry.

Every occurrence is counted in the store first. Then each destination is posted under the store's lease for
(fingerprint, destination), so two processes that triage the same error at once make one Slack thread and one
GitHub issue; the second finds the first's delivery and updates it. GitHub goes first: the Slack message links
to the issue and shows its state. A destination that fails is kept in the outbox for ``incidentbot retry``;
the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from incidentbot.errors import ConfigError, ReportError, Unavailable
from incidentbot.interfaces import IssueTracker, Publisher
from incidentbot.models import Delivery, Incident, Report
from incidentbot.registry import reporter_class
from incidentbot.settings import Settings
from incidentbot.store import Store

log = logging.getLogger(__name__)

ORDER = {"github": 0, "slack": 1}


@dataclass(frozen=True, slots=True)
class Outcome:
    reporter: str
    action: str  # posted, updated, failed
    url: str | None = None
    error: str | None = None


def deliver(
    report: Report,
    publishers: Sequence[Publisher],
    store: Store,
    seen_at: datetime,
    wait_seconds: float,
    event_id: int | None = None,
) -> list[Outcome]:
    """Count this occurrence (once per queued event), then post or update the incident on each destination."""
    incident = store.record_occurrence(report, seen_at, event_id)
    return [deliver_one(report, incident, p, store, wait_seconds) for p in ordered(publishers)]


def retry_pending(store: Store, publishers: Sequence[Publisher], wait_seconds: float) -> list[Outcome]:
    """Post what failed before, from the reports the store kept."""
    by_name = {p.name: p for p in publishers}
    outcomes = []
    for pending in sorted(store.pending(), key=lambda p: ORDER.get(p.reporter, 9)):
        publisher = by_name.get(pending.reporter)
        report = store.report(pending.fingerprint)
        incident = store.incident(pending.fingerprint)
        if publisher is None or report is None or incident is None:
            outcomes.append(Outcome(pending.reporter, "failed", error="not configured here; the post stays kept"))
            continue
        outcomes.append(deliver_one(report, incident, publisher, store, wait_seconds))
    return outcomes


def sync_states(store: Store, github: IssueTracker, others: Sequence[Publisher], wait_seconds: float) -> list[Outcome]:
    """Mark incidents resolved whose GitHub issue was closed, and tell the other destinations."""
    outcomes = []
    for incident in store.open_incidents_with_issues():
        delivery = store.delivery(incident.fingerprint, github.name)
        if delivery is None:
            continue
        state = github.issue_state(delivery)
        if state != "closed":
            continue
        incident = store.set_state(incident.fingerprint, "resolved")
        report = store.report(incident.fingerprint)
        if report is None:
            continue
        outcomes += [deliver_one(report, incident, p, store, wait_seconds) for p in ordered(others)]
    return outcomes


def deliver_one(report: Report, incident: Incident, publisher: Publisher, store: Store, wait_seconds: float) -> Outcome:
    fingerprint = incident.fingerprint
    started = datetime.now(tz=UTC)
    try:
        with store.lease(fingerprint, publisher.name, wait_seconds) as previous:
            # Re-read: another process may have counted an occurrence or changed the state while we waited.
            incident = store.incident(fingerprint) or incident
            delivery = publisher.post(report, incident, previous)
            store.save(delivery)
    except ReportError as exc:
        return _kept(store, fingerprint, publisher.name, exc.one_line())
    except Exception as exc:  # a stage boundary: one destination's bug must not cost the others
        log.exception("%s failed", publisher.name)
        return _kept(store, fingerprint, publisher.name, f"internal error: {type(exc).__name__}: {exc}")
    store.done(fingerprint, publisher.name)
    _record_issue(store, incident, delivery)
    # "posted" only when this call created the post: a reporter may find one a lost store forgot (GitHub's marker).
    created = previous is None and delivery.posted_at >= started
    return Outcome(publisher.name, "posted" if created else "updated", delivery.url)


def ordered(publishers: Sequence[Publisher]) -> list[Publisher]:
    return sorted(publishers, key=lambda p: ORDER.get(p.name, 9))


def _record_issue(store: Store, incident: Incident, delivery: Delivery) -> None:
    if delivery.reporter != "github":
        return
    if incident.issue_number is None or str(incident.issue_number) != delivery.external_id:
        store.set_issue(incident.fingerprint, int(delivery.external_id), delivery.url)
    if delivery.reopened:
        store.set_state(incident.fingerprint, "regressed")
    elif delivery.state == "open" and incident.state == "resolved":  # somebody reopened the issue by hand
        store.set_state(incident.fingerprint, "open")


def _kept(store: Store, fingerprint: str, reporter: str, error: str) -> Outcome:
    store.keep_for_retry(fingerprint, reporter, error)
    log.warning("%s: %s (kept for `incidentbot retry`)", reporter, error)
    return Outcome(reporter, "failed", error=error)


def publishers_for(settings: Settings, names: Sequence[str]) -> list[Publisher]:
    """The named destinations, built from the settings; ConfigError naming what is missing."""
    built: list[Publisher] = []
    for name in names:
        cls = reporter_class(name)
        if not hasattr(cls, "post"):
            raise ConfigError(f"{name} is an output format, not a destination", "use --format for it")
        try:
            built.append(cls.from_settings(settings))
        except Unavailable as exc:
            raise ConfigError(
                f"cannot post to {name}: {exc}", "set them in the environment or incidentbot.toml"
            ) from exc
    return built


def configured_publishers(settings: Settings) -> list[Publisher]:
    """Every built-in destination whose credentials are set (for retry and sync)."""
    found: list[Publisher] = []
    for name in ORDER:
        try:
            found.append(reporter_class(name).from_settings(settings))
        except Unavailable:
            continue
    return found
