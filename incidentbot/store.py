"""State through SQLAlchemy: SQLite by default, PostgreSQL by URL when several processes share the work.

Tables: ``incidents`` (one row per fingerprint: counts, state, the latest report), ``deliveries`` (where an
incident was posted on each destination; the row is also the lease that keeps two processes from posting the
same incident twice), ``outbox`` (posts that failed and wait for ``incidentbot retry``) and ``migrations``;
``blame_index`` and ``blame_index_stats`` hold the blame index (linkers/blame_index.py).

Exactly one first post per (fingerprint, destination): a process posts only while it holds the row's lease,
taken with an INSERT (first post) or a conditional UPDATE (later updates), both atomic in SQLite and PostgreSQL.
A lease older than ``LEASE_SECONDS`` belongs to a process that died and may be taken over.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from incidentbot import store_outage
from incidentbot.errors import ConfigError, ReportError, StoreUnavailable
from incidentbot.models import Analysis, Delivery, Incident, IncidentState, Report
from incidentbot.sqlite_schema import PRAGMAS, SCHEMA_FILE, schema_of

LEASE_SECONDS = 300.0  # a post that takes longer than this is presumed dead
# A daemon worker beats every few seconds (a row "alive:<worker>" in cursors, holding its store's holder); one
# silent this long is dead (kill -9, a lost host), and its claims and leases are taken over without waiting
# for LEASE_SECONDS. Processes that do not beat (the CLI, the Action) fall back on LEASE_SECONDS.
DEAD_AFTER_SECONDS = 15.0
CONNECT_TIMEOUT_SECONDS = 10
ALIVE = "alive:"
HOLDER_LENGTH = 12
_POLL_SECONDS = 0.2
BLAME_TOUCH_SECONDS = 300.0  # a blame index entry's last use is written at most this often (the LRU's grain)

metadata = MetaData()
migrations_table = Table(
    "migrations", metadata, Column("name", String(100), primary_key=True), Column("applied_at", DateTime(True))
)
incidents = Table(
    "incidents",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("first_seen", DateTime(True), nullable=False),
    Column("last_seen", DateTime(True), nullable=False),
    Column("count", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("source_url", Text),
    Column("issue_url", Text),
    Column("issue_number", Integer),
    Column("report_json", Text, nullable=False),
)
deliveries = Table(
    "deliveries",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("reporter", String(32), primary_key=True),
    Column("external_id", Text),  # NULL while the first post is under way
    Column("url", Text),
    Column("posted_at", DateTime(True)),
    Column("updated_at", DateTime(True)),
    Column("reported_count", Integer, nullable=False, default=0),
    Column("state", String(16), nullable=False, default="open"),
    Column("lease", String(36)),  # who is posting now; NULL when nobody is
    Column("leased_at", DateTime(True)),
)
outbox = Table(
    "outbox",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("reporter", String(32), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("created_at", DateTime(True), nullable=False),
    Column("updated_at", DateTime(True), nullable=False),
    Column("retry_at", DateTime(True)),  # not before; NULL: now (m004)
)

analyses = Table(
    "analyses",
    metadata,
    Column("key", String(64), primary_key=True),  # fingerprint, revision, model and prompts, hashed
    Column("analysis_json", Text, nullable=False),
    Column("created_at", DateTime(True), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),  # sentry-ingest, sentry-webhook, sentry-api
    Column("source_event_id", String(128), nullable=False),  # the event id: a repeat delivery is dropped
    Column("payload", Text, nullable=False),
    Column("received_at", DateTime(True), nullable=False),
    Column("status", String(16), nullable=False),  # queued, claimed, done, failed
    Column("worker", String(64)),
    Column("claimed_at", DateTime(True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("counted", Boolean, nullable=False, default=False),  # its occurrence is in incidents.count
    Column("error", Text),
    UniqueConstraint("source", "source_event_id", name="events_source_id"),
)
aliases = Table(
    "aliases",
    metadata,
    # The fingerprint of a trace as received (before linking) → its incident: a repeat skips the triage.
    Column("raw_fingerprint", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
)
cursors = Table(
    "cursors",
    metadata,
    Column("name", String(200), primary_key=True),  # e.g. "sentry-api:acme/shop"
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(True), nullable=False),
)

# The blame index (linkers/blame_index.py): per repository, revision, file and blame options, what is known of
# that file's blame so far (JSON: line → commit, original path and line, cosmetic flag; the commits' metadata).
blame_index = Table(
    "blame_index",
    metadata,
    Column("repo", String(64), primary_key=True),
    Column("revision", String(40), primary_key=True),
    Column("options", String(32), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("entry_json", Text, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("used_at", Float, nullable=False),  # epoch seconds of the last use, for the LRU
)
blame_index_stats = Table(
    "blame_index_stats",
    metadata,
    Column("name", String(32), primary_key=True),  # hits, carried, misses (files)
    Column("value", Integer, nullable=False),
)

# Facts that depend on one git object alone (a commit's size and parents, the functions of a file's blob), kept so
# that a new triage process neither asks git nor parses again (linkers/blame_index.py). Immutable: written once,
# the oldest dropped past GIT_FACTS_MAX_ROWS.
git_facts = Table(
    "git_facts",
    metadata,
    Column("kind", String(16), primary_key=True),  # "commit", "functions-v1" (linkers/scope.py FUNCTIONS_KIND)
    Column("key", String(64), primary_key=True),  # the object's sha
    Column("value_json", Text, nullable=False),
    Column("written_at", Float, nullable=False),
)

# What was learnt from resolved incidents (incidentbot/learn/, docs/learning.md): one labelled case per closed
# issue (features the ranking saw, true culprits, the fix, the redacted trace), and per repository the weights
# calibrated on them. A case made from an incident carries its fingerprint: deleting the incident deletes it.
learned_cases = Table(
    "learned_cases",
    metadata,
    Column("repo", String(200), primary_key=True),  # OWNER/NAME, or the checkout's path
    Column("issue", Integer, primary_key=True),
    Column("fingerprint", String(64)),
    Column("fix", String(40), nullable=False),
    Column("found_by", String(32), nullable=False),  # closed_event, pull_request, commit_message
    Column("case_json", Text, nullable=False),
    Column("learned_at", DateTime(True), nullable=False),
)
calibrations = Table(
    "calibrations",
    metadata,
    Column("repo", String(200), primary_key=True),
    Column("weights_json", Text),  # NULL: too few cases to fit
    Column("cases", Integer, nullable=False),
    Column("in_use", Boolean, nullable=False),  # its held-out top-1 beat the shipped weights'
    Column("summary_json", Text, nullable=False),  # the figures that decided
    Column("fitted_at", DateTime(True), nullable=False),
)

# Named migrations, applied once each in order and recorded in ``migrations`` (the idea of simonw/llm's).
MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("m001_initial", lambda conn: metadata.create_all(conn, tables=[incidents, deliveries, outbox])),
    ("m002_analyses", lambda conn: metadata.create_all(conn, tables=[analyses])),
    ("m003_events_and_cursors", lambda conn: metadata.create_all(conn, tables=[events, cursors, aliases])),
    ("m004_outbox_retry_at", lambda conn: _add_column(conn, outbox, "retry_at")),
    ("m005_blame_index", lambda conn: metadata.create_all(conn, tables=[blame_index, blame_index_stats])),
    ("m006_learned_cases", lambda conn: metadata.create_all(conn, tables=[learned_cases, calibrations])),
    ("m007_git_facts", lambda conn: metadata.create_all(conn, tables=[git_facts])),
]

_REPORT = TypeAdapter(Report)
_ANALYSIS = TypeAdapter(Analysis)


@dataclass(frozen=True, slots=True)
class Pending:
    """A post that failed and is kept for a retry."""

    fingerprint: str
    reporter: str
    attempts: int
    last_error: str


class Store:
    def __init__(self, url: str, lease_seconds: float = LEASE_SECONDS) -> None:
        self.url = url
        self.lease_seconds = lease_seconds
        # Starts every lease token this store takes, so that a process can let go of its own after a failure.
        self.holder = uuid.uuid4().hex[:HOLDER_LENGTH]
        # Leases whose release failed (the store went away mid-release): let go of at the next chance, or they
        # would hold their incidents' posts until they went stale (lease_seconds), for every process.
        self._unreleased: list[tuple[str, str, str, bool]] = []
        self._unreleased_lock = threading.Lock()
        self.engine = _engine(url)
        self._migrate()

    def close(self) -> None:
        """Close the pooled connections (a daemon keeps one store for its life)."""
        self.engine.dispose()

    # incidents

    def record_occurrence(
        self, report: Report, seen_at: datetime, event_ids: Sequence[int] = (), fresh_report: bool = True
    ) -> Incident:
        """Count occurrences of the report's incident (creating it): one, or one per queued event not yet counted.

        Queued events are marked counted in the same transaction, so an event already counted (its worker died
        after counting, before posting) is not counted again. ``fresh_report``: store this report as the
        incident's newest (a repeat that reused the stored report leaves it as it is).
        """
        fingerprint = report.evidence.fingerprint
        report_values = {"report_json": _REPORT.dump_json(report).decode(), "title": report.title}
        values = report_values if fresh_report else {}
        for _ in range(3):  # an insert racing another process's insert becomes an update
            with self._begin() as conn:
                added = 1
                if event_ids:
                    marked = conn.execute(
                        update(events)
                        .where(events.c.id.in_(list(event_ids)), events.c.counted.is_(False))
                        .values(counted=True)
                    )
                    added = marked.rowcount
                    if not added:
                        existing = self._incident(conn, fingerprint)
                        if existing is not None:
                            return existing
                done = conn.execute(
                    update(incidents)
                    .where(incidents.c.fingerprint == fingerprint)
                    .values(count=incidents.c.count + added, last_seen=seen_at, **values)
                )
                if done.rowcount:
                    return self._existing(conn, fingerprint)
                try:
                    conn.execute(
                        insert(incidents).values(
                            fingerprint=fingerprint,
                            first_seen=seen_at,
                            last_seen=seen_at,
                            count=max(added, 1),
                            state="open",
                            source_url=report.evidence.trace.url,
                            **report_values,
                        )
                    )
                    return self._existing(conn, fingerprint)
                except IntegrityError:
                    conn.rollback()
        raise ReportError(f"could not record incident {fingerprint[:12]}", "check the database for locks")

    def incident(self, fingerprint: str) -> Incident | None:
        with self._begin() as conn:
            return self._incident(conn, fingerprint)

    def report(self, fingerprint: str) -> Report | None:
        with self._begin() as conn:
            text = conn.execute(select(incidents.c.report_json).where(incidents.c.fingerprint == fingerprint)).scalar()
        return None if text is None else _REPORT.validate_json(text)

    def set_state(self, fingerprint: str, state: IncidentState) -> Incident:
        return self._update_incident(fingerprint, state=state)

    def set_issue(self, fingerprint: str, number: int, url: str | None) -> Incident:
        return self._update_incident(fingerprint, issue_number=number, issue_url=url)

    def open_incidents_with_issues(self) -> list[Incident]:
        with self._begin() as conn:
            rows = conn.execute(
                select(incidents).where(incidents.c.issue_number.is_not(None), incidents.c.state != "resolved")
            )
            return [_to_incident(row._mapping) for row in rows]

    # deliveries

    def delivery(self, fingerprint: str, reporter: str) -> Delivery | None:
        with self._begin() as conn:
            row = self._delivery_row(conn, fingerprint, reporter)
        return _to_delivery(row) if row is not None and row["external_id"] is not None else None

    @contextmanager
    def lease(self, fingerprint: str, reporter: str, wait_seconds: float) -> Iterator[Delivery | None]:
        """Hold the right to post this incident on this destination; yields the delivery so far (None: first post).

        Waits while another process holds it. The caller saves the new delivery with ``save`` inside the block;
        on an exception the lease is released and a first post that never happened leaves no trace.
        """
        token = self.holder + uuid.uuid4().hex[:24]  # 36 characters, as the column holds
        self.release_unreleased()
        deadline = time.monotonic() + wait_seconds
        while not self._take(fingerprint, reporter, token):
            if time.monotonic() > deadline:
                raise ReportError(
                    f"{reporter}: another incidentbot process is still posting incident {fingerprint[:12]}",
                    "the post is kept; run `incidentbot retry` later",
                )
            time.sleep(_POLL_SECONDS)
        try:
            yield self.delivery(fingerprint, reporter)
        except BaseException:
            self._release(fingerprint, reporter, token, forget_unposted=True)
            raise
        self._release(fingerprint, reporter, token, forget_unposted=True)

    def save(self, delivery: Delivery) -> None:
        with self._begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.fingerprint == delivery.fingerprint, deliveries.c.reporter == delivery.reporter)
                .values(
                    external_id=delivery.external_id,
                    url=delivery.url,
                    posted_at=delivery.posted_at,
                    updated_at=delivery.updated_at,
                    reported_count=delivery.reported_count,
                    state=delivery.state,
                )
            )

    def _take(self, fingerprint: str, reporter: str, token: str) -> bool:
        now = _now()
        stale = datetime.fromtimestamp(now.timestamp() - self.lease_seconds, tz=UTC)
        try:
            with self._begin() as conn:
                conn.execute(
                    insert(deliveries).values(
                        fingerprint=fingerprint,
                        reporter=reporter,
                        lease=token,
                        leased_at=now,
                        reported_count=0,
                        state="open",
                    )
                )
            return True
        except IntegrityError:
            pass  # the row exists: take its lease if nobody holds it
        with self._begin() as conn:
            taken = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.fingerprint == fingerprint,
                    deliveries.c.reporter == reporter,
                    (deliveries.c.lease.is_(None))
                    | (deliveries.c.leased_at < stale)
                    | func.substr(deliveries.c.lease, 1, HOLDER_LENGTH).in_(
                        select(self.dead_beats(now).subquery().c.value)
                    ),
                )
                .values(lease=token, leased_at=now)
            )
            return bool(taken.rowcount)

    def _release(self, fingerprint: str, reporter: str, token: str, forget_unposted: bool) -> None:
        try:
            self._release_now(fingerprint, reporter, token, forget_unposted)
        except (StoreUnavailable, SQLAlchemyError):
            with self._unreleased_lock:
                self._unreleased.append((fingerprint, reporter, token, forget_unposted))
            raise

    def release_unreleased(self) -> None:
        """Let go of the leases whose release failed earlier; raises (keeping them) while the store is down."""
        with self._unreleased_lock:
            while self._unreleased:
                self._release_now(*self._unreleased[0])
                self._unreleased.pop(0)

    def _release_now(self, fingerprint: str, reporter: str, token: str, forget_unposted: bool) -> None:
        where = (
            deliveries.c.fingerprint == fingerprint,
            deliveries.c.reporter == reporter,
            deliveries.c.lease == token,
        )
        with self._begin() as conn:
            if forget_unposted:
                conn.execute(deliveries.delete().where(*where, deliveries.c.external_id.is_(None)))
            conn.execute(update(deliveries).where(*where).values(lease=None, leased_at=None))

    def release_held(self) -> int:
        """Let go of every lease this store holds (after a failure of the store, when no post is in hand):
        otherwise they would hold their incidents' posts until they went stale. How many."""
        mine = deliveries.c.lease.startswith(self.holder, autoescape=True)
        with self._begin() as conn:
            forgotten = conn.execute(deliveries.delete().where(mine, deliveries.c.external_id.is_(None))).rowcount
            released = conn.execute(update(deliveries).where(mine).values(lease=None, leased_at=None)).rowcount
        with self._unreleased_lock:
            self._unreleased.clear()  # all of them were this store's
        return int(forgotten or 0) + int(released or 0)

    # outbox

    def keep_for_retry(self, fingerprint: str, reporter: str, error: str, retry_at: datetime | None = None) -> None:
        """Keep a failed post, to be tried again from ``retry_at`` (None: whenever asked)."""
        now = _now()
        with self._begin() as conn:
            later = {} if retry_at is None else {"retry_at": retry_at}  # a retry in hand keeps its hold
            done = conn.execute(
                update(outbox)
                .where(outbox.c.fingerprint == fingerprint, outbox.c.reporter == reporter)
                .values(attempts=outbox.c.attempts + 1, last_error=error, updated_at=now, **later)
            )
            if not done.rowcount:
                conn.execute(
                    insert(outbox).values(
                        fingerprint=fingerprint,
                        reporter=reporter,
                        attempts=1,
                        last_error=error,
                        created_at=now,
                        updated_at=now,
                        retry_at=retry_at,
                    )
                )

    def due(self, now: datetime, limit: int = 50) -> list[Pending]:
        """Kept posts whose time to be tried again has come, oldest first."""
        with self._begin() as conn:
            rows = conn.execute(
                select(outbox)
                .where(outbox.c.retry_at.is_(None) | (outbox.c.retry_at <= now))
                .order_by(outbox.c.created_at)
                .limit(limit)
            )
            return [Pending(r.fingerprint, r.reporter, r.attempts, r.last_error) for r in rows]

    def take_due(self, fingerprint: str, reporter: str, now: datetime, hold_until: datetime) -> bool:
        """Take a due post for one retry: True for exactly one of the processes that ask at once."""
        with self._begin() as conn:
            taken = conn.execute(
                update(outbox)
                .where(
                    outbox.c.fingerprint == fingerprint,
                    outbox.c.reporter == reporter,
                    outbox.c.retry_at.is_(None) | (outbox.c.retry_at <= now),
                )
                .values(retry_at=hold_until)
            )
            return bool(taken.rowcount)

    def defer(self, reporter: str, until: datetime, probe: str) -> None:
        """Hold every kept post of a destination until ``until``, the failed ``probe`` (a fingerprint) with them:
        one failing retry stands for all, so a destination that is down gets one try per interval, not one each."""
        with self._begin() as conn:
            conn.execute(
                update(outbox)
                .where(
                    outbox.c.reporter == reporter,
                    outbox.c.retry_at.is_(None) | (outbox.c.retry_at < until) | (outbox.c.fingerprint == probe),
                )
                .values(retry_at=until)
            )

    def pending(self) -> list[Pending]:
        with self._begin() as conn:
            rows = conn.execute(select(outbox).order_by(outbox.c.created_at))
            return [Pending(r.fingerprint, r.reporter, r.attempts, r.last_error) for r in rows]

    def done(self, fingerprint: str, reporter: str) -> None:
        with self._begin() as conn:
            conn.execute(outbox.delete().where(outbox.c.fingerprint == fingerprint, outbox.c.reporter == reporter))

    # liveness: a running worker beats; a claim or lease of a worker whose beat stopped is taken over at once

    def beat(self, worker: str) -> None:
        """Say that ``worker`` (whose leases start with this store's ``holder``) is alive, now."""
        key, now = f"{ALIVE}{worker}", _now()
        self.release_unreleased()  # every 2 s: a lease whose release failed is let go of once the store answers
        with self._begin() as conn:
            done = conn.execute(update(cursors).where(cursors.c.name == key).values(value=self.holder, updated_at=now))
            if not done.rowcount:
                conn.execute(insert(cursors).values(name=key, value=self.holder, updated_at=now))

    def forget_beat(self, worker: str) -> None:
        """A worker that leaves in good order: nothing of it is left to take over."""
        with self._begin() as conn:
            conn.execute(cursors.delete().where(cursors.c.name == f"{ALIVE}{worker}"))

    def dead_beats(self, now: datetime) -> Any:
        """The heartbeat rows of workers that stopped beating (a SQL selectable, for the takeover conditions)."""
        return select(cursors.c.name, cursors.c.value).where(
            cursors.c.name.startswith(ALIVE, autoescape=True),
            cursors.c.updated_at < now - timedelta(seconds=DEAD_AFTER_SECONDS),
        )

    def forget_silent(self, before: datetime) -> int:
        """Drop the heartbeat rows of workers silent since ``before`` (long dead: what they held is taken over)."""
        with self._begin() as conn:
            done = conn.execute(
                cursors.delete().where(cursors.c.name.startswith(ALIVE, autoescape=True), cursors.c.updated_at < before)
            )
        return int(done.rowcount or 0)

    # health and upkeep

    def check_writable(self) -> None:
        """Write and remove a row: ReportError when the store can be read but not written (a read-only file or
        database user, a full disk), which reads alone would not show."""
        probe = f"probe:{uuid.uuid4()}"
        try:
            with self._begin() as conn:
                conn.execute(insert(cursors).values(name=probe, value="", updated_at=_now()))
                conn.execute(cursors.delete().where(cursors.c.name == probe))
        except SQLAlchemyError as exc:  # permission denied, a read-only transaction or file
            self.engine.dispose()
            first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreUnavailable(
                f"database {self._safe_url()} cannot be written: {first}",
                "give incidentbot's database user write access (or free disk space) and start it again",
            ) from exc

    def prune_events(self, before: datetime, limit: int = 5000) -> int:
        """Delete up to ``limit`` handled events (done or failed) received before ``before``; how many.
        Queued and claimed events are never pruned, whatever their age."""
        with self._begin() as conn:
            ids = list(
                conn.execute(
                    select(events.c.id)
                    .where(events.c.status.in_(("done", "failed")), events.c.received_at < before)
                    .order_by(events.c.id)
                    .limit(limit)
                ).scalars()
            )
            if ids:
                conn.execute(events.delete().where(events.c.id.in_(ids)))
        return len(ids)

    def size_bytes(self) -> int | None:
        """What the store takes on disk: the SQLite file with its WAL, or the PostgreSQL tables with their
        indexes; None when it cannot be told."""
        if self.engine.dialect.name == "sqlite":
            path = self.engine.url.database
            if not path:
                return None
            files = [Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")]
            return sum(f.stat().st_size for f in files if f.exists())
        if self.engine.dialect.name == "postgresql":
            names = [table.name for table in metadata.sorted_tables]
            query = sql_text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " WHERE c.relkind = 'r' AND pg_table_is_visible(c.oid) AND c.relname = ANY(:names)"
            )
            with self._begin() as conn:
                found = conn.execute(query, {"names": names}).scalar()
            return int(found) if found is not None else None
        return None

    # repeats

    def incident_for(self, raw_fingerprint: str) -> str | None:
        with self._begin() as conn:
            found = conn.execute(select(aliases.c.fingerprint).where(aliases.c.raw_fingerprint == raw_fingerprint))
            value = found.scalar()
        return str(value) if value else None

    def remember_alias(self, raw_fingerprint: str, fingerprint: str) -> None:
        try:
            with self._begin() as conn:
                conn.execute(insert(aliases).values(raw_fingerprint=raw_fingerprint, fingerprint=fingerprint))
        except IntegrityError:
            pass

    # the LLM analysis cache

    def cached_analysis(self, key: str) -> Analysis | None:
        with self._begin() as conn:
            text = conn.execute(select(analyses.c.analysis_json).where(analyses.c.key == key)).scalar()
        return None if text is None else _ANALYSIS.validate_json(text)

    def cache_analysis(self, key: str, analysis: Analysis) -> None:
        try:
            with self._begin() as conn:
                conn.execute(
                    insert(analyses).values(
                        key=key, analysis_json=_ANALYSIS.dump_json(analysis).decode(), created_at=_now()
                    )
                )
        except IntegrityError:
            pass  # another process cached the same analysis first

    # the blame index (linkers/blame_index.py)

    def blame_entries(self, repo: str, revision: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The stored blame entries of (path, options) pairs at a revision, as JSON; marks them used."""
        if not keys:
            return {}
        paths = sorted({path for path, _ in keys})
        wanted = set(keys)
        found: dict[tuple[str, str], str] = {}
        with self._begin() as conn:
            rows = conn.execute(
                select(
                    blame_index.c.path, blame_index.c.options, blame_index.c.entry_json, blame_index.c.used_at
                ).where(blame_index.c.repo == repo, blame_index.c.revision == revision, blame_index.c.path.in_(paths))
            )
            stale: list[tuple[str, str]] = []
            now = time.time()
            for path, options, text, used_at in rows:
                if (path, options) in wanted:
                    found[(path, options)] = text
                    if used_at < now - BLAME_TOUCH_SECONDS:
                        stale.append((path, options))
            _touch_blame(conn, [(repo, revision, path, options) for path, options in stale], now)
        return found

    def blame_revisions(self, repo: str, keys: Sequence[tuple[str, str]]) -> dict[str, int]:
        """Revisions that hold an entry for any of the (path, options) pairs: revision → how many of them."""
        if not keys:
            return {}
        wanted = set(keys)
        counts: dict[str, int] = {}
        with self._begin() as conn:
            rows = conn.execute(
                select(blame_index.c.revision, blame_index.c.path, blame_index.c.options).where(
                    blame_index.c.repo == repo, blame_index.c.path.in_(sorted({p for p, _ in keys}))
                )
            )
            for revision, path, options in rows:
                if (path, options) in wanted:
                    counts[revision] = counts.get(revision, 0) + 1
        return counts

    def save_blame_entries(self, repo: str, revision: str, entries: dict[tuple[str, str], str]) -> None:
        """Write (insert or replace) blame entries, as JSON, keyed by (path, options): one statement."""
        if not entries:
            return
        now = time.time()
        rows = [
            {
                "repo": repo,
                "revision": revision,
                "options": options,
                "path": path,
                "entry_json": text,
                "bytes": len(text),
                "used_at": now,
            }
            for (path, options), text in sorted(entries.items())
        ]
        with self._begin() as conn:
            _upsert(conn, blame_index, rows, lambda new: {c: new[c] for c in ("entry_json", "bytes", "used_at")})

    def touch_blame_entries(self, keys: Sequence[tuple[str, str, str, str]]) -> None:
        """Mark blame entries, keyed (repository, revision, path, options), as used now (for the LRU)."""
        with self._begin() as conn:
            _touch_blame(conn, keys, time.time())

    def count_blame_index(self, counts: dict[str, int]) -> None:
        """Add to the blame index's counters (hits, carried, misses)."""
        rows = [{"name": name, "value": value} for name, value in sorted(counts.items()) if value]
        if not rows:
            return
        with self._begin() as conn:
            _upsert(conn, blame_index_stats, rows, lambda new: {"value": blame_index_stats.c.value + new.value})

    def blame_index_stats(self) -> dict[str, int]:
        """Entries, revisions, bytes, and the counters (hits, carried, misses)."""
        with self._begin() as conn:
            entries, total, revisions = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(blame_index.c.bytes), 0),
                    func.count(func.distinct(blame_index.c.revision)),
                )
            ).one()
            counters = {
                str(n): int(v) for n, v in conn.execute(select(blame_index_stats.c.name, blame_index_stats.c.value))
            }
        counts = {"hits": 0, "carried": 0, "misses": 0, **counters}
        return {"entries": int(entries), "bytes": int(total), "revisions": int(revisions), **counts}

    def evict_blame_index(self, repo: str, max_bytes: int, keep_revisions: int) -> int:
        """Drop the entries of revisions not among the ``keep_revisions`` most recently used of ``repo``, then the
        least recently used entries until the index holds at most ``max_bytes``; how many were dropped."""
        dropped = 0
        with self._begin() as conn:
            recent = conn.execute(
                select(blame_index.c.revision, func.max(blame_index.c.used_at).label("last"))
                .where(blame_index.c.repo == repo)
                .group_by(blame_index.c.revision)
                .order_by(func.max(blame_index.c.used_at).desc())
            ).all()
            old = [row.revision for row in recent[max(keep_revisions, 1) :]]
            if old:
                done = conn.execute(
                    blame_index.delete().where(blame_index.c.repo == repo, blame_index.c.revision.in_(old))
                )
                dropped += int(done.rowcount or 0)
            total = int(conn.execute(select(func.coalesce(func.sum(blame_index.c.bytes), 0))).scalar() or 0)
            if total > max_bytes:
                rows = conn.execute(
                    select(
                        blame_index.c.repo,
                        blame_index.c.revision,
                        blame_index.c.options,
                        blame_index.c.path,
                        blame_index.c.bytes,
                    ).order_by(blame_index.c.used_at)
                ).all()
                for row in rows:
                    if total <= max_bytes:
                        break
                    conn.execute(
                        blame_index.delete().where(
                            blame_index.c.repo == row.repo,
                            blame_index.c.revision == row.revision,
                            blame_index.c.options == row.options,
                            blame_index.c.path == row.path,
                        )
                    )
                    total -= int(row.bytes)
                    dropped += 1
        return dropped

    def git_facts(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        """The stored facts of these objects (by sha), as JSON."""
        if not keys:
            return {}
        with self._begin() as conn:
            rows = conn.execute(
                select(git_facts.c.key, git_facts.c.value_json).where(
                    git_facts.c.kind == kind, git_facts.c.key.in_(sorted(set(keys)))
                )
            )
            return {str(key): str(text) for key, text in rows}

    def save_git_facts(self, kind: str, values: dict[str, str]) -> None:
        """Keep facts of git objects; an object already stored keeps its row (its facts cannot have changed)."""
        if not values:
            return
        now = time.time()
        rows = [
            {"kind": kind, "key": key, "value_json": text, "written_at": now} for key, text in sorted(values.items())
        ]
        with self._begin() as conn:
            _upsert(conn, git_facts, rows, None)

    def git_facts_counts(self) -> dict[str, int]:
        """How many objects' facts are kept, by kind ("commit", "functions-v1")."""
        with self._begin() as conn:
            rows = conn.execute(select(git_facts.c.kind, func.count()).group_by(git_facts.c.kind))
            return {str(kind): int(n) for kind, n in rows}

    def evict_git_facts(self, max_rows: int) -> int:
        """Drop the oldest facts past ``max_rows``; how many were dropped."""
        with self._begin() as conn:
            total = int(conn.execute(select(func.count()).select_from(git_facts)).scalar() or 0)
            if total <= max_rows:
                return 0
            cutoff = conn.execute(
                select(git_facts.c.written_at).order_by(git_facts.c.written_at.desc()).offset(max_rows).limit(1)
            ).scalar()
            done = conn.execute(git_facts.delete().where(git_facts.c.written_at <= cutoff))
            return int(done.rowcount or 0)

    # learning from resolved incidents (incidentbot/learn/)

    def save_case(self, repo: str, issue: int, fingerprint: str | None, fix: str, found_by: str, case: str) -> None:
        """Store (or replace) the labelled case of a closed issue, as JSON."""
        values = {"fingerprint": fingerprint, "fix": fix, "found_by": found_by, "case_json": case, "learned_at": _now()}
        for _ in range(2):  # an insert racing another process's insert becomes an update
            try:
                with self._begin() as conn:
                    where = (learned_cases.c.repo == repo, learned_cases.c.issue == issue)
                    if conn.execute(update(learned_cases).where(*where).values(**values)).rowcount:
                        return
                    conn.execute(insert(learned_cases).values(repo=repo, issue=issue, **values))
                    return
            except IntegrityError:
                continue

    def withdraw_case(self, repo: str | None, issue: int) -> bool:
        """Forget the case learnt from an issue (it was reopened: its fix did not fix it); any repository when
        ``repo`` is None. Whether there was one."""
        where = [learned_cases.c.issue == issue]
        if repo is not None:
            where.append(learned_cases.c.repo == repo)
        with self._begin() as conn:
            return bool(conn.execute(learned_cases.delete().where(*where)).rowcount)

    def cases(self, repo: str) -> list[str]:
        """The repository's labelled cases as JSON, by issue number."""
        with self._begin() as conn:
            rows = conn.execute(
                select(learned_cases.c.case_json).where(learned_cases.c.repo == repo).order_by(learned_cases.c.issue)
            )
            return [str(text) for text in rows.scalars()]

    def withdraw_learned(self, fingerprint: str) -> list[int]:
        """Forget the cases learnt from this incident (its issue was reopened); their issue numbers."""
        with self._begin() as conn:
            rows = conn.execute(select(learned_cases.c.issue).where(learned_cases.c.fingerprint == fingerprint))
            issues = [int(n) for n in rows.scalars()]
            conn.execute(learned_cases.delete().where(learned_cases.c.fingerprint == fingerprint))
            return issues

    def save_calibration(
        self, repo: str, weights: str | None, cases: int, in_use: bool, summary: str, when: datetime | None = None
    ) -> None:
        values = {
            "weights_json": weights,
            "cases": cases,
            "in_use": in_use,
            "summary_json": summary,
            "fitted_at": when or _now(),
        }
        for _ in range(2):
            try:
                with self._begin() as conn:
                    if conn.execute(update(calibrations).where(calibrations.c.repo == repo).values(**values)).rowcount:
                        return
                    conn.execute(insert(calibrations).values(repo=repo, **values))
                    return
            except IntegrityError:
                continue

    def calibration_in_use(self, repo: str) -> str | None:
        """The calibrated weights (JSON) that rank this repository's suspects, or None: the shipped ones."""
        with self._begin() as conn:
            text = conn.execute(
                select(calibrations.c.weights_json).where(calibrations.c.repo == repo, calibrations.c.in_use.is_(True))
            ).scalar()
        return None if text is None else str(text)

    def calibrations(self) -> list[tuple[str, int, bool]]:
        """(repository, cases, in use) for every repository something was learnt for."""
        with self._begin() as conn:
            rows = conn.execute(
                select(calibrations.c.repo, calibrations.c.cases, calibrations.c.in_use).order_by(calibrations.c.repo)
            )
            return [(str(r), int(n), bool(u)) for r, n, u in rows]

    def remembered(self, repo: str, limit: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """What "Seen before" reads (incidentbot/recall.py): the repository's labelled cases (issue, fingerprint,
        fix, case JSON, learnt at), newest issue first, and the resolved incidents with an issue (fingerprint,
        issue number, issue URL, last seen, report JSON), most recent first."""
        c, i = learned_cases.c, incidents.c
        with self._begin() as conn:
            cases = conn.execute(
                select(c.issue, c.fingerprint, c.fix, c.case_json, c.learned_at)
                .where(c.repo == repo)
                .order_by(c.issue.desc())
                .limit(limit)
            )
            resolved = conn.execute(
                select(i.fingerprint, i.issue_number, i.issue_url, i.last_seen, i.report_json)
                .where(i.state == "resolved", i.issue_number.is_not(None))
                .order_by(i.last_seen.desc())
                .limit(limit)
            )
            return [tuple(r) for r in cases], [tuple(r) for r in resolved]

    def delete_incident(self, fingerprint: str) -> None:
        """Forget an incident: its row, deliveries, kept posts, aliases and every case learnt from it."""
        with self._begin() as conn:
            conn.execute(learned_cases.delete().where(learned_cases.c.fingerprint == fingerprint))
            conn.execute(outbox.delete().where(outbox.c.fingerprint == fingerprint))
            conn.execute(deliveries.delete().where(deliveries.c.fingerprint == fingerprint))
            conn.execute(aliases.delete().where(aliases.c.fingerprint == fingerprint))
            conn.execute(incidents.delete().where(incidents.c.fingerprint == fingerprint))

    def resolved_incidents_with_cases(self) -> list[Incident]:
        """Resolved incidents something was learnt from: a reopened issue withdraws its case."""
        with self._begin() as conn:
            rows = conn.execute(
                select(incidents).where(
                    incidents.c.state == "resolved",
                    incidents.c.fingerprint.in_(select(learned_cases.c.fingerprint)),
                )
            )
            return [_to_incident(row._mapping) for row in rows]

    # plumbing

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            self.engine.dispose()  # a connection broken by the failure (SQLite's disk I/O error) is not reused
            raise StoreUnavailable(
                f"database {self._safe_url()} is unavailable: {exc.orig}",
                "check INCIDENTBOT_DATABASE_URL and that the database is running",
            ) from exc

    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _incident(self, conn: Connection, fingerprint: str) -> Incident | None:
        row = conn.execute(select(incidents).where(incidents.c.fingerprint == fingerprint)).first()
        return None if row is None else _to_incident(row._mapping)

    def _existing(self, conn: Connection, fingerprint: str) -> Incident:
        found = self._incident(conn, fingerprint)
        if found is None:
            raise ReportError(f"incident {fingerprint[:12]} is not in the store", "triage it again")
        return found

    def _update_incident(self, fingerprint: str, **values: Any) -> Incident:
        with self._begin() as conn:
            conn.execute(update(incidents).where(incidents.c.fingerprint == fingerprint).values(**values))
            return self._existing(conn, fingerprint)

    @staticmethod
    def _delivery_row(conn: Connection, fingerprint: str, reporter: str) -> Any:
        row = conn.execute(
            select(deliveries).where(deliveries.c.fingerprint == fingerprint, deliveries.c.reporter == reporter)
        ).first()
        return None if row is None else row._mapping

    def _migrate(self) -> None:
        # Two processes starting on a new database both try; the loser's CREATE or INSERT fails and it looks
        # again (tables are created only when missing), finding the winner's work.
        for attempt in range(10):
            try:
                with self.engine.begin() as conn:
                    metadata.create_all(conn, tables=[migrations_table])
                    applied = set(conn.execute(select(migrations_table.c.name)).scalars())
                    for name, step in MIGRATIONS:
                        if name not in applied:
                            step(conn)
                            conn.execute(insert(migrations_table).values(name=name, applied_at=_now()))
                return
            except (IntegrityError, OperationalError, ProgrammingError):
                if attempt == 9:
                    raise
                time.sleep(_POLL_SECONDS)


def _blame_key(repo: str, revision: str, path: str, options: str) -> tuple[Any, ...]:
    """The WHERE conditions of one blame index entry."""
    return (
        blame_index.c.repo == repo,
        blame_index.c.revision == revision,
        blame_index.c.options == options,
        blame_index.c.path == path,
    )


def _touch_blame(conn: Connection, keys: Sequence[tuple[str, str, str, str]], now: float) -> None:
    """Mark (repository, revision, path, options) entries as used at ``now``, for the LRU."""
    for repo, revision, path, options in keys:
        conn.execute(update(blame_index).where(*_blame_key(repo, revision, path, options)).values(used_at=now))


def _add_column(conn: Connection, table: Table, name: str) -> None:
    """ALTER TABLE … ADD COLUMN, unless the table was created with it (a new database builds the tables whole)."""
    if name in {column["name"] for column in inspect(conn).get_columns(table.name)}:
        return
    column = table.c[name]
    kind = column.type.compile(dialect=conn.dialect)
    conn.execute(sql_text(f'ALTER TABLE {table.name} ADD COLUMN "{name}" {kind}'))


def _upsert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], changes: Callable[[Any], dict[str, Any]] | None
) -> None:
    """Insert ``rows`` in one statement; a row whose primary key exists is updated with ``changes(excluded)``,
    or kept as it is when ``changes`` is None. ``ON CONFLICT`` (SQLite and PostgreSQL, the two stores) makes it
    safe against another process writing the same keys at the same time."""
    key = (conn.dialect.name, table.name, changes.__code__ if changes else None)  # the same lambda: the same SQL
    statement = _UPSERTS.get(key)
    if statement is None:  # built once: building it costs more than running it
        insert_into = _dialect_insert(conn.dialect.name, table)
        if changes is None:
            statement = insert_into.on_conflict_do_nothing()
        else:
            primary = [column.name for column in table.primary_key.columns]
            statement = insert_into.on_conflict_do_update(index_elements=primary, set_=changes(insert_into.excluded))
        _UPSERTS[key] = statement
    conn.execute(statement, rows)


_UPSERTS: dict[tuple[str, str, object], Any] = {}


def _dialect_insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT; only that dialect is imported (PostgreSQL's takes 45 ms)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def write_sqlite_schema() -> Path:
    """Write ``incidentbot/sqlite_schema.sql`` (a new SQLite store's tables, made without SQLAlchemy) from a store
    migrated from nothing: ``make sqlite-schema`` after adding a migration."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "schema.sqlite3"
        open_store(f"sqlite:///{path}").close()
        SCHEMA_FILE.write_text(schema_of(path), encoding="utf-8")
    return SCHEMA_FILE


def open_store(url: str, lease_seconds: float = LEASE_SECONDS) -> Store:
    """The store at a SQLAlchemy URL; a bad URL, or a database that cannot be reached, is a one-line error."""
    try:
        return Store(url, lease_seconds)
    except (SQLAlchemyError, ModuleNotFoundError, ValueError, OSError) as exc:  # OSError: its folder cannot be made
        raise ConfigError(
            f"cannot open the database {url.split('@')[-1]}: {store_outage.first_line(exc)}",
            "set INCIDENTBOT_DATABASE_URL to sqlite:///path or postgresql+psycopg://user@host/db",
        ) from exc


def optional_store(url: str) -> Store | None:
    """The store for what a triage can do without (``incidentbot.store_outage``); None when it cannot be opened
    now or failed to open within the last minute."""
    return store_outage.unless_down(url, lambda: open_store(url))


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            for pragma in PRAGMAS:
                dbapi_conn.execute(f"PRAGMA {pragma}")

        return engine
    # A database host that does not answer (rather than refusing) must not hold a request or a worker for the
    # operating system's TCP timeout: ingest spools and workers back off once a connection fails.
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _to_incident(row: Any) -> Incident:
    return Incident(
        fingerprint=row["fingerprint"],
        title=row["title"],
        first_seen=_aware(row["first_seen"]),
        last_seen=_aware(row["last_seen"]),
        count=row["count"],
        state=row["state"],
        source_url=row["source_url"],
        issue_url=row["issue_url"],
        issue_number=row["issue_number"],
    )


def _to_delivery(row: Any) -> Delivery:
    return Delivery(
        reporter=row["reporter"],
        fingerprint=row["fingerprint"],
        external_id=row["external_id"],
        url=row["url"],
        posted_at=_aware(row["posted_at"]),
        updated_at=_aware(row["updated_at"]),
        reported_count=row["reported_count"],
        state=row["state"],
    )


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(tz=UTC)
