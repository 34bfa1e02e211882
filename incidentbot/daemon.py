"""`incidentbot run`: the HTTP endpoints, a pool of workers and the scheduler, in one process.

Uvicorn serves the endpoints and handles SIGTERM/SIGINT; when it stops, the workers finish the event in hand
(a drain) and exit, and anything unfinished (even after ``kill -9``) is claimed again on the next start.
APScheduler runs the periodic jobs with one run at a time, coalescing missed runs: posting what failed
(`retry`) and, with GitHub configured, marking incidents whose issue was closed as resolved (`sync`).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from datetime import UTC, datetime
from types import FrameType

import sentry_sdk
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from incidentbot import __version__
from incidentbot.deliver import configured_publishers, retry_pending, sync_states
from incidentbot.event_queue import EventQueue
from incidentbot.interfaces import IssueTracker
from incidentbot.poller import poll_once
from incidentbot.server import create_app
from incidentbot.settings import Settings
from incidentbot.store import open_store
from incidentbot.worker import worker_name, worker_process

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


def run(settings: Settings, level: int = logging.INFO) -> None:
    configure_daemon_logging(settings.log_format, level)
    report_own_errors(settings)
    store = open_store(settings.effective_database_url, settings.stale_after_seconds)
    queue = EventQueue(store, settings.redaction)
    publishers = configured_publishers(settings)
    # Workers are processes: triage (parsing, git) never holds the endpoint's interpreter lock.
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    workers = [
        context.Process(target=worker_process, args=(settings, i, stop, level), name=f"incidentbot-worker-{i}")
        for i in range(max(1, settings.workers))
    ]
    for process in workers:
        process.start()
    scheduler = _scheduler(settings, store, publishers)
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
    log.info("incidentbot listening on %s:%d with %d workers", settings.host, settings.port, len(workers))
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
        stop.set()  # each worker finishes the batch in hand, then leaves (a drain)
        for process in workers:
            process.join(timeout=settings.claim_wait_seconds + 30)
            if process.is_alive():
                process.terminate()  # what it held goes back to the queue once stale
        scheduler.shutdown(wait=False)
        store.close()


def _scheduler(settings: Settings, store, publishers) -> BackgroundScheduler:  # type: ignore[no-untyped-def]
    scheduler = BackgroundScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")
    wait = settings.claim_wait_seconds
    scheduler.add_job(
        retry_pending, "interval", minutes=5, args=(store, publishers, wait), id="retry", replace_existing=True
    )
    github = next((p for p in publishers if isinstance(p, IssueTracker)), None)
    if github is not None:
        others = [p for p in publishers if p is not github]
        scheduler.add_job(
            sync_states, "interval", minutes=10, args=(store, github, others, wait), id="sync", replace_existing=True
        )
    return scheduler


def configure_daemon_logging(log_format: str, level: int) -> None:
    """Logs for a long-running process: text, or one JSON object per line (time, level, logger, message)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("incidentbot").setLevel(level)


def report_own_errors(settings: Settings) -> None:
    """incidentbot's own exceptions go to Sentry when INCIDENTBOT_SENTRY_DSN is set (no personal data)."""
    if settings.sentry_dsn:
        sentry_sdk.init(dsn=settings.sentry_dsn, send_default_pii=False, release=f"incidentbot@{__version__}")


def _draining(sig: int, frame: FrameType | None) -> None:
    log.info("stopping (signal %d): the workers finish what they hold", sig)
