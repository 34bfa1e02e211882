"""Workers: claim queued events, triage each new error once, and deliver its report.

A repeat of an error already triaged (same fingerprint as received) skips the triage and reuses the stored
report: a burst of 10,000 events of 20 errors costs 20 triages and at most 20 LLM drafts. A worker that dies
mid-event leaves a claim that goes stale and is taken again; counting is once per event and posting goes
through the deliveries' leases, so a restart posts each report exactly once.
"""

from __future__ import annotations

import ctypes
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from incidentbot import pipeline
from incidentbot.deliver import Throttle, catch_up, configured_publishers, deliver
from incidentbot.errors import IncidentbotError, SourceError
from incidentbot.event_queue import EventQueue, QueuedEvent
from incidentbot.fingerprint import fingerprint
from incidentbot.interfaces import Publisher
from incidentbot.models import Report
from incidentbot.parse import parse_trace
from incidentbot.settings import Settings
from incidentbot.sources.sentry_api import SentryApi
from incidentbot.sources.sentry_webhook import FETCH_KEY
from incidentbot.store import Store, open_store

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.2
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
        except IncidentbotError as exc:
            log.warning("events %s failed: %s", ids, exc.one_line())
            queue.finish_many(ids, name, error=exc.one_line())
            continue
        except Exception as exc:  # a stage boundary: the worker lives on, the events are retried later
            log.exception("events %s", ids)
            queue.finish_many(ids, name, error=f"{type(exc).__name__}: {exc}", retry=True)
            continue
        queue.finish_many(ids, name)  # failed posts wait in the outbox for the retry job, not in the queue
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
    ``kill -9`` of the parent). It also makes the updates its throttle held back, once their interval passed.
    """
    from incidentbot.daemon import configure_daemon_logging, report_own_errors

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
    next_catch_up = time.monotonic() + settings.update_seconds / 2
    try:
        while not stop.is_set() and os.getppid() == parent:
            claimed = queue.claim(name, BATCH)
            if claimed:
                process(claimed, settings, store, queue, publishers, name, throttle, lambda: os.getppid() == parent)
            else:
                stop.wait(IDLE_SECONDS)
            if time.monotonic() >= next_catch_up:
                catch_up(store, publishers, throttle, settings.claim_wait_seconds)
                next_catch_up = time.monotonic() + settings.update_seconds / 2
    finally:
        store.close()


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
