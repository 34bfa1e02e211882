"""One poll cycle: the replica that holds the poller lock polls every configured Sentry project."""

from __future__ import annotations

import logging

from incidentbot.errors import SourceError
from incidentbot.service.event_queue import EventQueue
from incidentbot.service.sources.sentry_api import PollResult, SentryApi, poll_project
from incidentbot.settings import Settings

log = logging.getLogger(__name__)


def poll_once(settings: Settings, queue: EventQueue, owner: str, release: bool = False) -> list[PollResult]:
    """Poll all projects if this process holds (or takes) the poller lock; a project's failure is logged.

    The daemon keeps the lock between cycles (``release=False``): another replica takes it over only when
    this one stops renewing it. ``incidentbot poll --once`` releases it when done."""
    if not settings.sentry_projects:
        return []
    if not queue.hold_lock("sentry-poller", owner, ttl_seconds=max(3 * settings.poll_seconds, 3)):
        log.debug("another replica holds the poller lock")
        return []
    try:
        api = SentryApi.from_settings(settings)
        results = []
        for project in settings.sentry_projects:
            try:
                results.append(poll_project(api, queue, project))
            except SourceError as exc:
                log.warning("poll %s: %s", project, exc.one_line())
        return results
    finally:
        if release:
            queue.release_lock("sentry-poller", owner)
