"""What a long-running process of the service tells its operator: logs as text or one JSON object per line, and
its own exceptions sent to Sentry when INCIDENTBOT_SENTRY_DSN is set. The daemon and each worker process set
them up the same way."""

from __future__ import annotations

import logging

import sentry_sdk

from incidentbot import __version__
from incidentbot.settings import Settings


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
