"""An overall deadline on a call to a destination, however slowly its answer trickles in.

The HTTP clients' timeouts (slack-sdk, PyGithub through requests) bound each socket read, not the call: a
server that sends one byte every few seconds holds a worker for as long as it likes. No HTTP client we use
offers a total deadline, so it is kept here, once, around every destination call.

In the main thread (the workers, the CLI, the Action) a real-time alarm interrupts the blocked read: the
stack unwinds, the clients close the half-read connection, and the worker goes on. In any other thread no
signal can be delivered, so the call runs in a helper thread and the caller stops waiting at the deadline;
the abandoned call finishes (or fails) on its own, and its result is dropped. Either way the caller gets a
ReportError and the post is kept for a retry, which finds a post that did land (Slack's thread metadata,
GitHub's issue marker) instead of making a second one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

from incidentbot.errors import ReportError

T = TypeVar("T")


class _Expired(BaseException):
    """Raised by the alarm inside the blocked call. A BaseException, so that no ``except Exception`` in a client
    library (slack-sdk retries on any Exception) swallows it and tries again."""


def call_within(seconds: float, what: str, call: Callable[[], T]) -> T:
    """``call()``, or ReportError once ``seconds`` have passed (0 or less: no deadline)."""
    if seconds <= 0:
        return call()
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        with _alarm(seconds):
            try:
                return call()
            except _Expired:
                raise _late(what, seconds) from None
    return _in_helper_thread(seconds, what, call)


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise _Expired()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_helper_thread(seconds: float, what: str, call: Callable[[], T]) -> T:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    helper = threading.Thread(target=run, name=f"deadline:{what}", daemon=True)
    helper.start()
    helper.join(seconds)
    if helper.is_alive():
        raise _late(what, seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _late(what: str, seconds: float) -> ReportError:
    return ReportError(
        f"{what}: no complete answer within {seconds:g} s",
        "the post is kept and retried; raise INCIDENTBOT_DESTINATION_DEADLINE_SECONDS if the destination is slow",
    )


class WithDeadline:
    """A destination whose every call (post, issue_state, …) is bounded by ``seconds`` in all.

    Other attributes pass through, so code that asks for ``name`` or checks ``IssueTracker`` sees the wrapped
    destination."""

    def __init__(self, inner: Any, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds
        self.name: str = inner.name

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._inner, attribute)
        if attribute.startswith("_") or not callable(value) or isinstance(value, type):
            return value
        what = f"{self.name}.{attribute}"

        def bounded(*args: Any, **kwargs: Any) -> Any:
            return call_within(self._seconds, what, lambda: value(*args, **kwargs))

        return bounded
