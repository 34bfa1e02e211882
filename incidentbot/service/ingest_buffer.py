"""Group commit for the ingest endpoints, with a spool on disk for the times the store cannot take events.

A request hands its event to the buffer and waits until the writer thread has committed it with the others
that arrived meanwhile (up to ``MAX_BATCH``); only then is it acknowledged. So an acknowledged event is stored
(a crash loses nothing that was acknowledged), and a burst costs one commit per batch instead of one per event.

When the store cannot take a batch (it is down, read-only, full, its connections were dropped), the batch is
written to the spool instead, a directory of files flushed to disk before the requests are acknowledged, and the
writer drains the spool into the store every ``RETRY_SECONDS`` until it answers again (and at the next start, if
the process stopped first). Events are only ever lost when the spool cannot take them either (over
``SPOOL_MAX_BYTES``, or its disk is full or read-only): those requests fail with :class:`StoreUnavailable` and the
endpoint answers 503. The Sentry SDKs do not send an event again after an error answer (sentry-python drops it;
docs/daemon.md), so the spool, not the client, is what keeps an outage of the store from losing events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from incidentbot.scrub import scrub_payload
from incidentbot.service.event_queue import EventQueue
from incidentbot.store import cursors, events

log = logging.getLogger(__name__)

MAX_BATCH = 500
SPOOL_MAX_BYTES = 256 * 1024 * 1024  # on disk, redacted payloads; past it the endpoints answer 503
RETRY_SECONDS = 5.0  # how often the writer tries the store again while it fails or events wait in the spool
_PROBE_ROW = "incidentbot:health-probe"  # a cursor name no one uses: the probe's DELETE matches no row

Item = tuple[str, str, str]  # (source, event id, payload)


class StoreUnavailable(Exception):
    """The store cannot take the event and the spool cannot keep it either: the event was not acknowledged."""


class IngestBuffer:
    def __init__(self, events: EventQueue, spool_dir: Path, spool_max_bytes: int | None = None) -> None:
        self.events = events
        self.spool = Spool(spool_dir, SPOOL_MAX_BYTES if spool_max_bytes is None else spool_max_bytes)
        # The store's problem as the writer last met it (None: its last write went through).
        self.problem: str | None = None
        self._retry_at = 0.0
        self._items: queue.Queue[tuple[Item, asyncio.Future[None], asyncio.AbstractEventLoop] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._write, name="ingest-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._items.put(None)
        self._thread.join(timeout=10)

    async def add(self, source: str, event_id: str, payload: str) -> None:
        """Return once the event is committed to the queue or flushed to the spool; StoreUnavailable when neither
        could keep it, or the store's own error when it refused this event for itself (not an outage)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._items.put(((source, event_id, payload), done, loop))
        await done

    def health(self) -> str | None:
        """None when the store can be read and written and the writer's last write went through; else the problem."""
        found = store_problem(self.events.engine)
        return found or (f"the last write failed: {self.problem}" if self.problem else None)

    # the writer thread

    def _write(self) -> None:
        self._retry()  # what an earlier run spooled
        while True:
            waiting = self.spool.pending() or self.problem is not None
            try:
                first = self._items.get(timeout=RETRY_SECONDS if waiting else None)
            except queue.Empty:
                self._retry()
                continue
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
            try:
                self._take(batch)
            except Exception as exc:  # a bug: fail these requests, keep the writer (and the endpoints) alive
                log.exception("ingest: could not take %d events", len(batch))
                for _, done, loop in batch:
                    loop.call_soon_threadsafe(_settle, done, exc)
            if (self.spool.pending() or self.problem is not None) and time.monotonic() >= self._retry_at:
                self._retry()

    def _take(self, batch: list[tuple[Item, asyncio.Future[None], asyncio.AbstractEventLoop]]) -> None:
        items = [
            (source, event_id, scrub_payload(payload, self.events.redaction))
            for (source, event_id, payload), _, _ in batch
        ]  # redacted once, here: the spool holds nothing the store would not
        outcome: list[BaseException | None] = [None] * len(batch)
        # While events wait in the spool (the store failed a moment ago), new ones join them there until the next
        # try, instead of each batch waiting for a store that is known to fail.
        stored = False
        if not self.spool.pending() and time.monotonic() >= self._retry_at:
            try:
                self.events.add_many(items, redacted=True)
                self._back()
                stored = True
            except Exception as exc:
                if not store_down(exc):  # the store refused something in this batch: find which, keep the rest
                    outcome, stored = self._one_by_one(items), True
                else:
                    self._failed(exc)
        if not stored:
            try:
                self.spool.put(items)
            except (SpoolFull, OSError) as exc:
                log.error(
                    "ingest: %d events lost: the store cannot take them (%s) and %s", len(items), self.problem, exc
                )
                lost = StoreUnavailable(f"{self.problem}; and {exc}")
                outcome = [lost] * len(batch)
        for (_, done, loop), error in zip(batch, outcome, strict=True):
            loop.call_soon_threadsafe(_settle, done, error)

    def _retry(self) -> None:
        """Drain the spool into the store, oldest first; with nothing spooled, see whether the store is back."""
        while (path := self.spool.oldest()) is not None:
            try:
                items = self.spool.read(path)
            except (OSError, ValueError) as exc:
                log.error("ingest: spool file %s is unreadable (%s): set aside as %s.bad", path.name, exc, path.name)
                self.spool.set_aside(path)
                continue
            try:
                self.events.add_many(items, redacted=True)
            except Exception as exc:
                if store_down(exc):
                    self._failed(exc)
                    return
                self._one_by_one(items)  # an event the store refuses for itself is logged and dropped
            self.spool.remove(path, len(items))
            self._back()
            log.info("ingest: %d spooled events stored, %d left", len(items), self.spool.stats()["events"])
        if self.problem is not None and not self.spool.pending():
            problem = store_problem(self.events.engine)
            if problem is None:
                self._back()
            else:
                self.problem = problem
                self._retry_at = time.monotonic() + RETRY_SECONDS

    def _one_by_one(self, items: list[Item]) -> list[BaseException | None]:
        errors: list[BaseException | None] = []
        for item in items:
            try:
                self.events.add_many([item], redacted=True)
                errors.append(None)
            except Exception as exc:
                log.error("ingest: the store refused event %s: %s", item[1], _describe(exc))
                errors.append(exc)
        return errors

    def _back(self) -> None:
        if self.problem is not None:
            log.info("ingest: the store takes events again")
        self.problem = None

    def _failed(self, exc: BaseException) -> None:
        if self.problem is None:
            log.warning(
                "ingest: the store cannot take events (%s): keeping them in %s until it can",
                _describe(exc),
                self.spool.directory,
            )
        self.problem = _describe(exc)
        self._retry_at = time.monotonic() + RETRY_SECONDS
        # Drop the pooled connections: one broken (or opened read-only) is not used again when the store is back.
        self.events.engine.dispose()


class SpoolFull(Exception):
    pass


class Spool:
    """Batches the store could not take, one file each: JSON lines of [source, event id, redacted payload], written
    under a temporary name, flushed to disk and renamed, so a file is either whole or absent. Files are drained
    oldest first; the store drops an event it already holds, so a file drained twice does no harm."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        for leftover in directory.glob(".*.tmp") if directory.is_dir() else ():
            leftover.unlink(missing_ok=True)  # a write cut short by a crash: never acknowledged
        self._stats = (0, 0)  # (events, bytes), replaced whole: read from the event loop, written by the writer
        self._recount()

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl")) if self.directory.is_dir() else []

    def pending(self) -> bool:
        return self._stats[0] > 0

    def stats(self) -> dict[str, int]:
        events, size = self._stats
        return {"events": events, "bytes": size, "max_bytes": self.max_bytes}

    def oldest(self) -> Path | None:
        found = self.files()
        return found[0] if found else None

    def put(self, items: list[Item]) -> None:
        data = b"".join(json.dumps(list(item), ensure_ascii=False).encode() + b"\n" for item in items)
        events, size = self._stats
        if size + len(data) > self.max_bytes:
            raise SpoolFull(f"the spool is full ({size} of {self.max_bytes} bytes)")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.jsonl"
        temporary = self.directory / f".{name}.tmp"
        try:
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(self.directory / name)
            _fsync_directory(self.directory)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
        self._stats = (events + len(items), size + len(data))

    def read(self, path: Path) -> list[Item]:
        items: list[Item] = []
        for line in path.read_bytes().splitlines():
            source, event_id, payload = json.loads(line)
            items.append((str(source), str(event_id), str(payload)))
        return items

    def remove(self, path: Path, count: int) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:  # another process on this state_dir drained it first
            size = count = 0
        events, total = self._stats
        self._stats = (max(0, events - count), max(0, total - size))

    def set_aside(self, path: Path) -> None:
        path.replace(path.with_name(path.name + ".bad"))
        self._recount()

    def _recount(self) -> None:
        events = size = 0
        for path in self.files():
            with path.open("rb") as file:
                events += sum(1 for _ in file)
            size += path.stat().st_size
        self._stats = (events, size)


def store_problem(engine: Engine) -> str | None:
    """None when the store can be read and written, else what is wrong. It reads one row, and writes with a
    DELETE that matches no row and is rolled back: the write takes the write lock (so a read-only file, a
    read-only PostgreSQL, a user without write rights all fail it) but changes nothing and commits nothing."""
    step = "read"
    try:
        with engine.connect() as conn:
            conn.execute(select(events.c.id).limit(1)).all()
            step = "written"
            conn.execute(cursors.delete().where(cursors.c.name == _PROBE_ROW))
            conn.rollback()
        return None
    except Exception as exc:
        engine.dispose()  # the next look (and the next write) starts from fresh connections
        return f"the store cannot be {step}: {_describe(exc)}"


def store_down(exc: BaseException) -> bool:
    """The store failed as a whole (down, read-only, full, connection lost), not over one event's data."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OperationalError | InterfaceError | InternalError | PoolTimeout):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False


def _describe(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    return (text[0] if text else type(cause).__name__)[:300]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
