"""`incidentbot run`: the HTTP endpoints, a pool of workers and the scheduler, in one process.

Uvicorn serves the endpoints and handles SIGTERM/SIGINT; when it stops, the workers finish the event in hand
(a drain) and exit, and anything unfinished (even after ``kill -9``) is claimed again on the next start.
A supervisor thread starts a worker again when one dies, backing off if it keeps dying. The workers also
do the periodic chores (retrying failed posts, syncing GitHub issue states, pruning old events), where the
overall deadline on destination calls can interrupt a stuck call; APScheduler runs the Sentry poll.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from incidentbot.service.event_queue import EventQueue
from incidentbot.service.observability import configure_daemon_logging, report_own_errors
from incidentbot.service.poller import poll_once
from incidentbot.service.server import create_app
from incidentbot.service.worker import worker_name, worker_process
from incidentbot.settings import Settings
from incidentbot.store import open_store

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
RESTART_MAX = 30.0  # seconds: the longest pause before starting again a worker that keeps dying


def run(settings: Settings, level: int = logging.INFO) -> None:
    configure_daemon_logging(settings.log_format, level)
    report_own_errors(settings)
    store = open_store(settings.effective_database_url, settings.stale_after_seconds)
    store.check_writable()  # a read-only store would accept nothing: say so now, not at the first event
    queue = EventQueue(store, settings.redaction)
    # Workers are processes: triage (parsing, git) never holds the endpoint's interpreter lock.
    stop = multiprocessing.get_context("spawn").Event()
    pool = WorkerPool(settings, stop, level)
    pool.start()
    scheduler = BackgroundScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")
    if settings.sentry_projects:
        # One poll job; the lock inside makes one replica poll at a time, and another take over when it dies.
        scheduler.add_job(
            poll_once,
            "interval",
            seconds=settings.poll_seconds,
            args=(settings, queue, worker_name()),
            id="sentry-poll",
            replace_existing=True,
            next_run_time=datetime.now(tz=UTC),
        )
    scheduler.start()
    log.info("incidentbot listening on %s:%d with %d workers", settings.host, settings.port, pool.size)
    # Uvicorn stops on SIGTERM/SIGINT and then raises the signal again through the handler it found: with this
    # one in place, the process stays alive to drain its workers instead of dying mid-batch.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _draining)
    try:
        app = create_app(settings, queue)
        uvicorn.Server(
            uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", log_config=None)
        ).run()
    finally:
        pool.stop(settings.claim_wait_seconds + settings.destination_deadline_seconds + 30)
        scheduler.shutdown(wait=False)
        store.close()


class WorkerPool:
    """The worker processes, kept at their number: one that dies (a crash, an OOM kill, a bug) is started
    again, after a pause that doubles while it keeps dying soon after starting (up to ``RESTART_MAX``)."""

    def __init__(self, settings: Settings, stop: Any, level: int, check_seconds: float = 1.0) -> None:
        self.settings, self.stop_event, self.level = settings, stop, level
        self.size = max(1, settings.workers)
        self.check_seconds = check_seconds
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[Any] = []
        self._started: list[float] = [0.0] * self.size
        self._pause: list[float] = [0.0] * self.size
        self._restart_at: list[float | None] = [None] * self.size
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._processes = [self._spawn(index) for index in range(self.size)]
        self._supervisor.start()

    def stop(self, timeout: float) -> None:
        self.stop_event.set()  # each worker finishes the batch in hand, then leaves (a drain)
        self._supervisor.join(timeout=self.check_seconds * 2 + 1)
        deadline = time.monotonic() + timeout
        with self._lock:
            for process in self._processes:
                process.join(timeout=max(0.1, deadline - time.monotonic()))
                if process.is_alive():
                    process.terminate()  # what it held goes back to the queue once stale

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._processes if p.is_alive()]

    def _spawn(self, index: int) -> Any:
        process = self._context.Process(
            target=worker_process,
            args=(self.settings, index, self.stop_event, self.level),
            name=f"incidentbot-worker-{index}",
        )
        process.start()
        self._started[index] = time.monotonic()
        return process

    def _supervise(self) -> None:
        while not self.stop_event.wait(self.check_seconds):
            with self._lock:
                for index, process in enumerate(self._processes):
                    if self.stop_event.is_set() or process.is_alive():
                        continue
                    if self._restart_at[index] is None:
                        self._restart_at[index] = self._schedule_restart(index, process.exitcode)
                    if time.monotonic() >= (self._restart_at[index] or 0.0):
                        self._restart_at[index] = None
                        self._processes[index] = self._spawn(index)

    def _schedule_restart(self, index: int, exitcode: int | None) -> float:
        """When to start a dead worker again: at once if it ran a while, else after a pause that doubles."""
        lived = time.monotonic() - self._started[index]
        pause = min(RESTART_MAX, max(1.0, self._pause[index] * 2)) if lived < RESTART_MAX else 0.0
        self._pause[index] = pause
        log.warning("worker %d exited (code %s); starting it again in %.0f s", index, exitcode, pause)
        return time.monotonic() + pause


def _draining(sig: int, frame: FrameType | None) -> None:
    log.info("stopping (signal %d): the workers finish what they hold", sig)
