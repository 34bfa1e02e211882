"""Group commit for the ingest endpoint: many requests, one transaction.

A request hands its event to the buffer and waits until the writer thread has committed it with the others
that arrived meanwhile (up to ``MAX_BATCH``); only then is it acknowledged. So an acknowledged event is stored
(a crash loses nothing that was acknowledged), and a burst costs one commit per batch instead of one per event.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from incidentbot.event_queue import EventQueue

log = logging.getLogger(__name__)

MAX_BATCH = 500


class IngestBuffer:
    def __init__(self, events: EventQueue) -> None:
        self.events = events
        self._items: queue.Queue[
            tuple[tuple[str, str, str], asyncio.Future[None], asyncio.AbstractEventLoop] | None
        ] = queue.Queue()
        self._thread = threading.Thread(target=self._write, name="ingest-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._items.put(None)
        self._thread.join(timeout=10)

    async def add(self, source: str, event_id: str, payload: str) -> None:
        """Return once the event is committed to the queue."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._items.put(((source, event_id, payload), done, loop))
        await done

    def _write(self) -> None:
        while True:
            first = self._items.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._items.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._items.put(None)
                    break
                batch.append(item)
            error: BaseException | None = None
            try:
                self.events.add_many([item for item, _, _ in batch])
            except Exception as exc:  # the requests fail with it; the SDKs send again
                log.exception("ingest: could not store %d events", len(batch))
                error = exc
            for _, done, loop in batch:
                loop.call_soon_threadsafe(_settle, done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
