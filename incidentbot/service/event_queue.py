"""The queue of received events, in the store: endpoints and pollers add, workers claim, triage and finish.

Adding is idempotent by (source, event id), so a repeated delivery of one event is dropped. A worker claims
rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (replicas never claim the same row) and with a conditional
UPDATE on SQLite; a claim older than the store's ``lease_seconds`` belongs to a worker that died (``kill -9`` included)
and goes back to the queue, so every event is finished exactly once while its posts stay exactly-once
through the deliveries' leases. (A claim goes stale after the store's ``lease_seconds``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from incidentbot.scrub import scrub_payload
from incidentbot.settings import Redaction
from incidentbot.store import ALIVE, Store, cursors, events

MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    id: int
    source: str
    source_event_id: str
    payload: str
    attempts: int


class EventQueue:
    """Queued events are redacted before they are written (docs/security.md): the store never holds the
    secrets that SDKs and webhooks send."""

    def __init__(self, store: Store, redaction: Redaction | None = None) -> None:
        self.store = store
        self.redaction = redaction or Redaction()
        self.claim_seconds = store.lease_seconds  # the same notion of a dead process as the deliveries' leases
        self.engine = store.engine
        self.postgres = self.engine.dialect.name == "postgresql"

    def add(self, source: str, source_event_id: str, payload: str) -> bool:
        """Queue an event; False when this event was queued before (a retried delivery)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(events).values(
                        source=source,
                        source_event_id=source_event_id,
                        payload=scrub_payload(payload, self.redaction),
                        received_at=_now(),
                        status="queued",
                        attempts=0,
                        counted=False,
                    )
                )
        except IntegrityError:
            return False
        return True

    def add_many(self, items: list[tuple[str, str, str]], redacted: bool = False) -> None:
        """Queue (source, event id, payload) items in one transaction; ones queued before are dropped.
        ``redacted``: the payloads went through ``scrub_payload`` already (the ingest spool keeps them so)."""
        if not items:
            return
        now = _now()
        rows = [
            {
                "source": source,
                "source_event_id": event_id,
                "payload": payload if redacted else scrub_payload(payload, self.redaction),
                "received_at": now,
                "status": "queued",
                "attempts": 0,
                "counted": False,
            }
            for source, event_id, payload in items
        ]
        insert_ = postgresql_insert if self.postgres else sqlite_insert
        with self.engine.begin() as conn:
            conn.execute(insert_(events).on_conflict_do_nothing(), rows)

    def claim(self, worker: str, limit: int = 1) -> list[QueuedEvent]:
        """Take up to ``limit`` queued events (or events whose worker died) for this worker."""
        now = _now()
        stale = now - timedelta(seconds=self.claim_seconds)
        dead = select(self.store.dead_beats(now).subquery().c.name)
        claimable = (events.c.status == "queued") | (
            (events.c.status == "claimed") & ((events.c.claimed_at < stale) | (ALIVE + events.c.worker).in_(dead))
        )
        with self.engine.begin() as conn:
            query = select(events.c.id).where(claimable).order_by(events.c.id).limit(limit)
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            # The WHERE repeats the condition: on SQLite another process may have claimed a row in between.
            conn.execute(
                update(events)
                .where(events.c.id.in_(ids), claimable)
                .values(status="claimed", worker=worker, claimed_at=_now(), attempts=events.c.attempts + 1)
            )
            rows = conn.execute(select(events).where(events.c.id.in_(ids), events.c.worker == worker))
            return [QueuedEvent(r.id, r.source, r.source_event_id, r.payload, r.attempts) for r in rows]

    def finish(self, event_id: int, worker: str, error: str | None = None, retry: bool = False) -> None:
        """Done (or failed for good); a retryable failure goes back to the queue until MAX_ATTEMPTS."""
        with self.engine.begin() as conn:
            attempts = conn.execute(select(events.c.attempts).where(events.c.id == event_id)).scalar() or 0
            status = "queued" if retry and attempts < MAX_ATTEMPTS else ("failed" if error else "done")
            conn.execute(
                update(events)
                .where(events.c.id == event_id, events.c.worker == worker)
                .values(status=status, error=error, claimed_at=None if status == "queued" else _now())
            )

    def finish_many(self, event_ids: list[int], worker: str, error: str | None = None, retry: bool = False) -> None:
        if not retry:
            with self.engine.begin() as conn:
                conn.execute(
                    update(events)
                    .where(events.c.id.in_(event_ids), events.c.worker == worker)
                    .values(status="failed" if error else "done", error=error, claimed_at=_now())
                )
            return
        for event_id in event_ids:
            self.finish(event_id, worker, error, retry)

    def release_claims(self, worker: str) -> int:
        """Put back what this worker claimed: after a failure of the store it cannot know how far it got, and
        waiting for the claims to go stale would hold those events for minutes."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(events)
                .where(events.c.worker == worker, events.c.status == "claimed")
                .values(status="queued", claimed_at=None)
            )
            return int(done.rowcount or 0)

    def take_turn(self, name: str, every_seconds: float) -> bool:
        """True at most once per ``every_seconds`` across every process sharing the store (a periodic chore
        that one replica's worker should do: syncing issue states, pruning)."""
        key = f"turn:{name}"
        now = _now()
        with self.engine.begin() as conn:
            current = conn.execute(select(cursors.c.value).where(cursors.c.name == key)).scalar()
        if current is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(cursors).values(name=key, value=now.isoformat(), updated_at=now))
                return True
            except IntegrityError:
                return False
        if (now - datetime.fromisoformat(str(current))).total_seconds() < every_seconds:
            return False
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(cursors)
                .where(cursors.c.name == key, cursors.c.value == current)
                .values(value=now.isoformat(), updated_at=now)
            )
            return bool(taken.rowcount)

    def depth(self) -> dict[str, int]:
        """Events by status, for `incidentbot status`."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(events.c.status, func.count()).group_by(events.c.status))
            return {status: count for status, count in rows}

    def recent_failures(self, limit: int = 5) -> list[tuple[int, str, str]]:
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(events.c.id, events.c.source, events.c.error)
                .where(events.c.status == "failed")
                .order_by(events.c.id.desc())
                .limit(limit)
            )
            return [(r.id, r.source, r.error or "") for r in rows]

    # the poller's lock: one replica polls at a time

    def hold_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take or renew a lock that expires unless renewed; True while ``owner`` holds it."""
        key = f"lock:{name}"
        now = _now()
        value = f"{owner}|{(now + timedelta(seconds=ttl_seconds)).isoformat()}"
        with self.engine.begin() as conn:
            current = conn.execute(select(cursors.c.value).where(cursors.c.name == key)).scalar()
        if current is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(cursors).values(name=key, value=value, updated_at=now))
                return True
            except IntegrityError:
                return False  # another replica took it first
        with self.engine.begin() as conn:
            holder, _, expires = str(current).rpartition("|")
            if holder != owner and datetime.fromisoformat(expires) > now:
                return False
            taken = conn.execute(
                update(cursors)
                .where(cursors.c.name == key, cursors.c.value == current)
                .values(value=value, updated_at=now)
            )
            return bool(taken.rowcount)

    def release_lock(self, name: str, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                cursors.delete().where(cursors.c.name == f"lock:{name}", cursors.c.value.startswith(f"{owner}|"))
            )

    # cursors of the pollers

    def cursor(self, name: str) -> str | None:
        with self.engine.begin() as conn:
            value = conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar()
            return str(value) if value is not None else None

    def cursors(self, prefix: str) -> list[tuple[str, str, datetime]]:
        """(name, value, updated) of the cursors whose name starts with ``prefix`` (for `incidentbot status`)."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(cursors).where(cursors.c.name.startswith(prefix)).order_by(cursors.c.name))
            return [(r.name, r.value, r.updated_at) for r in rows]

    def set_cursor(self, name: str, value: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(cursors).where(cursors.c.name == name).values(value=value, updated_at=_now()))
            if not done.rowcount:
                conn.execute(insert(cursors).values(name=name, value=value, updated_at=_now()))


def _now() -> datetime:
    return datetime.now(tz=UTC)
