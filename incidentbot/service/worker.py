"""Workers: claim queued events, triage each new error once, and deliver its report.

A repeat of an error already triaged (same fingerprint as received) skips the triage and reuses the stored
report: a burst of 10,000 events of 20 errors costs 20 triages and at most 20 LLM drafts. A worker that dies
mid-event leaves a claim that goes stale and is taken again; counting is once per event and posting goes
through the deliveries' leases, so a restart posts each report exactly once.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from incidentbot import pipeline
from incidentbot.errors import IncidentbotError, SourceError, StoreUnavailable
from incidentbot.fingerprint import fingerprint
from incidentbot.interfaces import IssueTracker, Publisher
from incidentbot.models import Report
from incidentbot.parse import parse_trace
from incidentbot.service.deliver import Throttle, catch_up, configured_publishers, deliver, retry_due, sync_states
from incidentbot.service.event_queue import EventQueue, QueuedEvent
from incidentbot.service.observability import configure_daemon_logging, report_own_errors
from incidentbot.service.sources.sentry_api import SentryApi
from incidentbot.service.sources.sentry_webhook import FETCH_KEY
from incidentbot.settings import Settings
from incidentbot.store import Store, open_store

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.2
HEARTBEAT_SECONDS = 2.0  # a worker silent for the store's DEAD_AFTER_SECONDS (15) is taken for dead
STORE_BACKOFF_MAX = 10.0  # seconds between tries while the store fails
RETRY_CHECK_SECONDS = 1.0  # how often a worker looks for failed posts whose retry is due
TURN_CHECK_SECONDS = 30.0  # how often a worker asks whether it is its turn to sync or prune
SYNC_SECONDS = 600.0  # GitHub issue states are synced this often, by one worker of all replicas
PRUNE_SECONDS = 3600.0  # old events are pruned this often
PR_SET_PDEATHSIG = 1  # prctl(2) option
BATCH = 200  # events claimed at once: repeats of one error in a batch are counted and delivered together


def worker_name(index: int = 0) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


def process(
    batch: Sequence[QueuedEvent],
    settings: Settings,
    store: Store,
    queue: EventQueue,
    publishers: Sequence[Publisher],
    name: str,
    throttle: Throttle | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> list[str]:
    """Group claimed events by error, triage each new error once, and deliver each group once; the incidents'
    fingerprints. When ``keep_going`` turns false the rest stays claimed, for another worker once the claim
    expires (an orphaned worker must not spend minutes on retries nobody waits for)."""
    delivered: list[str] = []
    groups: dict[str, list[tuple[QueuedEvent, str]]] = {}
    for event in batch:
        try:
            payload = _fetched(event.payload, settings)
            raw = fingerprint(parse_trace(payload, settings.limits))
        except StoreUnavailable:
            raise
        except SourceError as exc:  # Sentry could not be asked now: ask again later
            queue.finish(event.id, name, error=exc.one_line(), retry=True)
            continue
        except IncidentbotError as exc:  # the event itself is bad: trying again will not help
            log.warning("event %s failed: %s", event.id, exc.one_line())
            queue.finish(event.id, name, error=exc.one_line())
            continue
        groups.setdefault(raw, []).append((event, payload))
    for raw, group in groups.items():
        if not keep_going():
            break
        ids = [event.id for event, _ in group]
        try:
            report, fresh = _report_for(raw, group[-1][1], settings, store)
            deliver(report, publishers, store, _now(), settings.claim_wait_seconds, ids, fresh, throttle)
        except (StoreUnavailable, SQLAlchemyError):
            raise  # not these events' fault: the worker waits for the store and they are taken up again
        except IncidentbotError as exc:
            log.warning("events %s failed: %s", ids, exc.one_line())
            queue.finish_many(ids, name, error=exc.one_line())
            continue
        except Exception as exc:  # a stage boundary: the worker lives on, the events are retried later
            log.exception("events %s", ids)
            queue.finish_many(ids, name, error=f"{type(exc).__name__}: {exc}", retry=True)
            continue
        queue.finish_many(ids, name)  # failed posts wait in the outbox for their retry, not in the queue
        delivered.append(report.evidence.fingerprint)
    return delivered


def drain(settings: Settings, store: Store, publishers: Sequence[Publisher]) -> tuple[int, set[str]]:
    """Process queued events until none is left (``incidentbot poll --once``): how many, and which incidents."""
    queue = EventQueue(store, settings.redaction)
    name = worker_name()
    done = 0
    incidents: set[str] = set()
    while claimed := queue.claim(name, BATCH):
        incidents.update(process(claimed, settings, store, queue, publishers, name))
        done += len(claimed)
    return done, incidents


def worker_process(settings: Settings, index: int, stop: Any, log_level: int) -> None:
    """A worker in its own process (``incidentbot run`` starts them), so triage never holds up the endpoint.

    It leaves when ``stop`` is set (after the batch in hand) or when its parent is gone (even after a
    ``kill -9`` of the parent). A failure of the store (a full disk, a dropped connection) does not end it: it
    waits, backing off up to ``STORE_BACKOFF_MAX`` seconds, and goes on once the store answers, putting back
    what it held. Between batches it does the chores (:class:`Chores`).
    """
    parent_process = multiprocessing.parent_process()
    parent = parent_process.pid if parent_process and parent_process.pid else os.getppid()
    _exit_with_parent(parent)
    configure_daemon_logging(settings.log_format, log_level)
    report_own_errors(settings)
    store = open_store(settings.effective_database_url, settings.stale_after_seconds)
    publishers = configured_publishers(settings)
    throttle = Throttle(settings.update_seconds)
    queue = EventQueue(store, settings.redaction)
    name = worker_name(index)
    chores = Chores(settings, store, queue, publishers, throttle)
    failures = 0

    def alive() -> bool:
        return os.getppid() == parent

    # The heartbeat sleeps on an event of this process, never on the shared ``stop``: a thread cut off at exit
    # while inside the shared event's lock would leave it held, and every other worker would hang on it.
    leaving = threading.Event()
    heartbeat = threading.Thread(target=_beat, args=(store, name, leaving, alive), name="heartbeat", daemon=True)
    heartbeat.start()
    try:
        while not stop.is_set() and alive():
            try:
                if failures:
                    _recover(store, queue, name)
                    log.info("worker %s: the store answers again", name)
                    failures = 0
                claimed = queue.claim(name, BATCH)
                if claimed:
                    process(claimed, settings, store, queue, publishers, name, throttle, alive)
                chores.run()
            except Exception as exc:  # the store failed: nothing in hand is lost (claims and leases are put back)
                failures += 1
                pause = min(STORE_BACKOFF_MAX, 0.5 * 2 ** min(failures, 10))
                log.warning("worker %s: the store failed (%s); trying again in %.1f s", name, _brief(exc), pause)
                store.engine.dispose()
                stop.wait(pause)
                continue
            if not claimed:
                stop.wait(IDLE_SECONDS)
    finally:
        leaving.set()
        heartbeat.join(HEARTBEAT_SECONDS)  # no beat after the beat is forgotten
        with contextlib.suppress(Exception):  # leaving in good order: nothing of this worker to take over
            store.forget_beat(name)
        store.close()


def _beat(store: Store, name: str, leaving: threading.Event, alive: Callable[[], bool]) -> None:
    """Beat every ``HEARTBEAT_SECONDS`` from a thread of its own, so that a long triage does not look like a dead
    worker, while a worker killed with ``kill -9`` stops beating and its claims and leases are taken over."""
    while alive():
        try:
            store.beat(name)
        except Exception as exc:  # the store is down: the main loop says so and waits for it
            log.debug("heartbeat of %s failed: %s", name, exc)
        if leaving.wait(HEARTBEAT_SECONDS):
            return


class Chores:
    """What a worker does between batches, each at its own pace: bring held-back updates up to date, try
    again the posts that failed (with backoff, see ``deliver.retry_due``), and, at most once per interval
    across every worker and replica, sync GitHub issue states and prune old events."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        queue: EventQueue,
        publishers: Sequence[Publisher],
        throttle: Throttle,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.publishers = publishers
        self.throttle = throttle
        self.clock = clock
        self.github = next((p for p in publishers if isinstance(p, IssueTracker)), None)
        self._next: dict[str, float] = {}

    def run(self) -> None:
        settings = self.settings
        if self._due("catch-up", settings.update_seconds / 2):
            catch_up(self.store, self.publishers, self.throttle, settings.claim_wait_seconds)
        if self._due("retry", RETRY_CHECK_SECONDS):
            retry_due(self.store, self.publishers, settings)
        github = self.github
        if github is not None and self._due("sync", TURN_CHECK_SECONDS) and self.queue.take_turn("sync", SYNC_SECONDS):
            others = [p for p in self.publishers if p is not github]
            try:
                sync_states(self.store, github, others, settings.claim_wait_seconds, settings)
            except StoreUnavailable:
                raise
            except IncidentbotError as exc:  # GitHub is down: the next turn syncs
                log.warning("sync: %s", exc.one_line())
        days = settings.event_retention_days
        if days > 0 and self._due("prune", TURN_CHECK_SECONDS) and self.queue.take_turn("prune", PRUNE_SECONDS):
            before = _now() - timedelta(days=days)
            pruned = self.store.prune_events(before)
            self.store.forget_silent(_now() - timedelta(days=1))
            if pruned:
                log.info("pruned %d handled events received before %s", pruned, f"{before:%Y-%m-%d %H:%M}")

    def _due(self, chore: str, every: float) -> bool:
        now = self.clock()
        if now < self._next.get(chore, 0.0):
            return False
        self._next[chore] = now + every
        return True


def _recover(store: Store, queue: EventQueue, name: str) -> None:
    """Once the store answers after a failure: put back this worker's claims and leases, so what it held is
    taken up again within seconds instead of when it goes stale."""
    store.check_writable()
    requeued = queue.release_claims(name)
    released = store.release_held()
    if requeued or released:
        log.info("worker %s: put back %d claimed events and %d leases", name, requeued, released)


def _brief(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, IncidentbotError) else f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _exit_with_parent(parent: int) -> None:
    """Ask the kernel for SIGTERM when the parent dies (Linux), so a worker never outlives a killed daemon even
    when it is blocked where the ``getppid`` check in its loop cannot run (a lock its dead parent held)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def _report_for(raw: str, payload: str, settings: Settings, store: Store) -> tuple[Report, bool]:
    """The stored report of a known error, or a new triage; True when the report is new."""
    known = store.incident_for(raw)
    report = store.report(known) if known else None
    if report is not None:
        return report, False
    report = pipeline.triage(payload, settings)
    store.remember_alias(raw, report.evidence.fingerprint)
    return report, True


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _fetched(payload: str, settings: Settings) -> str:
    """A webhook names an issue: its latest event, from the Sentry API. Anything else is the event itself."""
    if FETCH_KEY not in payload[:200]:
        return payload
    reference = json.loads(payload)
    event = SentryApi.from_settings(settings).latest_event(reference[FETCH_KEY])
    event.setdefault("permalink", reference.get("permalink"))
    return json.dumps(event)
