"""Stores that could not be opened, remembered for a while.

A triage can do without the store: the blame index, "Seen before", a repository's calibration and the analysis
cache each fall back to git, nothing or the shipped weights. Without this memo each of them would try the
database again in every triage (a host that does not answer costs the connection timeout each time) and log the
same failure once per feature. With it, a failure is logged once, and the store is not asked again for
``RETRY_SECONDS``: a daemon heals by itself once the database is back. Standard library only, so that a triage on
SQLite does not import SQLAlchemy to ask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("incidentbot.store")

RETRY_SECONDS = 60.0
T = TypeVar("T")

_failed: dict[str, float] = {}  # database URL -> when it last failed to open (monotonic seconds)
_lock = threading.Lock()


def is_down(url: str) -> bool:
    """True while a failure to open ``url`` is under ``RETRY_SECONDS`` old."""
    with _lock:
        failed = _failed.get(url)
    return failed is not None and time.monotonic() - failed < RETRY_SECONDS


def note_down(url: str, why: str) -> None:
    """Remember that ``url`` could not be opened; the first failure of a window is logged (``why``: one line)."""
    with _lock:
        failed = _failed.get(url)
        fresh = failed is None or time.monotonic() - failed >= RETRY_SECONDS
        _failed[url] = time.monotonic()
    if fresh:
        log.warning(
            "store unavailable, triaging without it for %d s (no blame index, no 'Seen before', shipped weights,"
            " no analysis cache): %s",
            RETRY_SECONDS,
            why,
        )


def unless_down(url: str, open_store: Callable[[], T]) -> T | None:
    """``open_store()``, or None while ``url`` is down or when opening it fails (remembered, logged once)."""
    if is_down(url):
        return None
    try:
        return open_store()
    except Exception as exc:  # noqa: BLE001 - whatever stops the store, the triage goes on without it
        one_line = getattr(exc, "one_line", None)  # our own errors say what to do
        note_down(url, one_line() if callable(one_line) else f"{type(exc).__name__}: {first_line(exc)}")
        return None


def first_line(exc: BaseException) -> str:
    """An error's own message, first line only (SQLAlchemy adds its class and a link, psycopg a hint line)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def forget() -> None:
    """Forget every failure (a test, or a process told that the database is back)."""
    with _lock:
        _failed.clear()
