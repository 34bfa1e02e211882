"""Deliver a report: one post per incident per destination, updates after that, failures kept for a retry.

Every occurrence is counted in the store first. Then each destination is posted under the store's lease for
(fingerprint, destination), so two processes that triage the same error at once make one Slack thread and one
GitHub issue; the second finds the first's delivery and updates it. GitHub goes first: the Slack message links
to the issue and shows its state. A destination that fails is kept in the outbox; the others go on.
The daemon's workers try kept posts again with a jittered backoff (1 s doubling up to ``retry_max_seconds``),
one probe per destination at a time; ``incidentbot retry`` tries them all at once. Every destination call is
bounded in all by ``destination_deadline_seconds`` (incidentbot/service/deadline.py).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from incidentbot.errors import ConfigError, ReportError, Unavailable
from incidentbot.interfaces import IssueTracker, Publisher
from incidentbot.models import Delivery, Incident, Report
from incidentbot.registry import reporter_class
from incidentbot.service.deadline import WithDeadline
from incidentbot.settings import Settings
from incidentbot.store import Store

log = logging.getLogger(__name__)

ORDER = {"github": 0, "slack": 1}


@dataclass(frozen=True, slots=True)
class Outcome:
    reporter: str
    action: str  # posted, updated, held (a burst: the update comes later), failed
    url: str | None = None
    error: str | None = None


class Throttle:
    """At most one update of an existing post per destination and incident in ``seconds``, during a burst.

    Skipped updates are remembered; ``due()`` hands them back once the interval has passed, so the daemon's
    catch-up job brings the counts up to date after the burst. First posts are never held back.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._held: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def allow(self, fingerprint: str, reporter: str) -> bool:
        key = (fingerprint, reporter)
        with self._lock:
            now = self.clock()
            if now - self._last.get(key, -1e18) >= self.seconds:
                self._last[key] = now
                self._held.discard(key)
                return True
            self._held.add(key)
            return False

    def due(self) -> list[tuple[str, str]]:
        with self._lock:
            now = self.clock()
            return [key for key in self._held if now - self._last.get(key, -1e18) >= self.seconds]


def deliver(
    report: Report,
    publishers: Sequence[Publisher],
    store: Store,
    seen_at: datetime,
    wait_seconds: float,
    event_ids: Sequence[int] = (),
    fresh_report: bool = True,
    throttle: Throttle | None = None,
) -> list[Outcome]:
    """Count this occurrence (or these queued events, once each), then post or update the incident everywhere."""
    incident = store.record_occurrence(report, seen_at, event_ids, fresh_report)
    outcomes = []
    for publisher in ordered(publishers):
        known = throttle is not None and store.delivery(incident.fingerprint, publisher.name) is not None
        if known and throttle is not None and not throttle.allow(incident.fingerprint, publisher.name):
            outcomes.append(Outcome(publisher.name, "held"))
            continue
        outcomes.append(deliver_one(report, incident, publisher, store, wait_seconds))
    return outcomes


def catch_up(store: Store, publishers: Sequence[Publisher], throttle: Throttle, wait_seconds: float) -> list[Outcome]:
    """Make the updates the throttle held back, now that their interval has passed."""
    by_name = {p.name: p for p in publishers}
    outcomes = []
    for fingerprint, name in sorted(throttle.due(), key=lambda key: ORDER.get(key[1], 9)):
        report, incident, publisher = store.report(fingerprint), store.incident(fingerprint), by_name.get(name)
        if report is None or incident is None or publisher is None or not throttle.allow(fingerprint, name):
            continue
        outcomes.append(deliver_one(report, incident, publisher, store, wait_seconds))
    return outcomes


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


def retry_due(store: Store, publishers: Sequence[Publisher], settings: Settings) -> list[Outcome]:
    """Try again the kept posts whose time has come (the daemon's workers, every second or so).

    A retry that fails holds back every kept post of its destination for the next backoff interval, so a
    destination that is down sees one probe per interval, and all of its posts go out within one interval of it
    coming back. Each post is taken before it is tried: of several workers and replicas, one tries it.
    """
    by_name = {p.name: p for p in publishers}
    failing: set[str] = set()
    outcomes = []
    hold = timedelta(seconds=settings.destination_deadline_seconds + settings.claim_wait_seconds + 30)
    for pending in sorted(store.due(_now()), key=lambda p: ORDER.get(p.reporter, 9)):
        publisher = by_name.get(pending.reporter)
        if publisher is None or pending.reporter in failing:
            continue
        now = _now()
        if not store.take_due(pending.fingerprint, pending.reporter, now, now + hold):
            continue
        report, incident = store.report(pending.fingerprint), store.incident(pending.fingerprint)
        if report is None or incident is None:
            store.done(pending.fingerprint, pending.reporter)  # its incident is gone: nothing left to post
            continue
        outcome = deliver_one(report, incident, publisher, store, settings.claim_wait_seconds)
        outcomes.append(outcome)
        if outcome.action == "failed":
            failing.add(pending.reporter)
            delay = retry_delay(pending.attempts + 1, settings.retry_max_seconds)
            store.defer(pending.reporter, _now() + timedelta(seconds=delay), pending.fingerprint)
    return outcomes


def retry_delay(attempts: int, max_seconds: float) -> float:
    """Seconds before the next try after ``attempts`` failures: 1, 2, 4 … up to ``max_seconds``, each drawn
    between half and all of that (jitter: replicas that failed together do not come back in step)."""
    ceiling = min(max_seconds, 2.0 ** min(attempts - 1, 30))
    return random.uniform(ceiling / 2, ceiling)


def sync_states(
    store: Store,
    github: IssueTracker,
    others: Sequence[Publisher],
    wait_seconds: float,
    settings: Settings | None = None,
) -> list[Outcome]:
    """Mark incidents resolved whose GitHub issue was closed, and tell the other destinations. With
    ``settings``, each closed incident becomes a labelled case (its fix, SZZ, docs/learning.md), and a resolved
    incident whose issue was reopened withdraws its case."""
    outcomes = []
    for incident in store.open_incidents_with_issues():
        delivery = store.delivery(incident.fingerprint, github.name)
        if delivery is None:
            continue
        state = github.issue_state(delivery)
        if state != "closed":
            continue
        incident = store.set_state(incident.fingerprint, "resolved")
        if settings is not None:
            _learn(store, settings, incident)
        report = store.report(incident.fingerprint)
        if report is None:
            continue
        outcomes += [deliver_one(report, incident, p, store, wait_seconds) for p in ordered(others)]
    if settings is not None:
        for incident in store.resolved_incidents_with_cases():
            delivery = store.delivery(incident.fingerprint, github.name)
            if delivery is not None and github.issue_state(delivery) == "open":
                store.set_state(incident.fingerprint, "open")
                _unlearn(store, incident)
    return outcomes


def _learn(store: Store, settings: Settings, incident: Incident) -> None:
    """Best effort: a closed incident's labelled case; whatever goes wrong is one line in the log."""
    from incidentbot.learn.session import github_fixes, learn_incident

    try:
        done = learn_incident(store, settings, incident, github_fixes(settings))
    except Exception as exc:  # a stage boundary: learning must never cost the sync
        log.warning("learn: issue #%s: %s: %s", incident.issue_number, type(exc).__name__, exc)
        return
    log.info("learn: issue #%s: %s", incident.issue_number, done)


def _unlearn(store: Store, incident: Incident) -> None:
    """A reopened issue: its fix did not fix it, so the case learnt from it goes."""
    for number in store.withdraw_learned(incident.fingerprint):
        log.info("learn: issue #%s was reopened: its case is withdrawn", number)


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
        _unlearn(store, incident)


def _kept(store: Store, fingerprint: str, reporter: str, error: str) -> Outcome:
    store.keep_for_retry(fingerprint, reporter, error)
    log.warning("%s: %s (kept; tried again by the daemon or `incidentbot retry`)", reporter, error)
    return Outcome(reporter, "failed", error=error)


def publishers_for(settings: Settings, names: Sequence[str]) -> list[Publisher]:
    """The named destinations, built from the settings; ConfigError naming what is missing."""
    built: list[Publisher] = []
    for name in names:
        cls = reporter_class(name)
        if not hasattr(cls, "post"):
            raise ConfigError(f"{name} is an output format, not a destination", "use --format for it")
        try:
            built.append(_bounded(cls.from_settings(settings), settings))
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
            found.append(_bounded(reporter_class(name).from_settings(settings), settings))
        except Unavailable:
            continue
    return found


def _bounded(publisher: Publisher, settings: Settings) -> Publisher:
    """The destination with every call bounded in all, whatever the HTTP client's own timeouts allow."""
    return cast(Publisher, WithDeadline(publisher, settings.destination_deadline_seconds))


def _now() -> datetime:
    return datetime.now(tz=UTC)
