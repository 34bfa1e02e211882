"""Reads from the store kept for a while: a daemon's worker triaging a burst must not open the store once per
event, and still sees what another process wrote within ``seconds``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TimedCache(Generic[V]):
    """``load()``'s answer per key, asked again once it is ``seconds`` old; a failed load is not kept."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._kept: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1]
        value = load()
        with self._lock:
            self._kept[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
