"""The store on SQLite and on a real PostgreSQL: counting, leases, the outbox, migrations."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy

from incidentbot.errors import ConfigError, ReportError
from incidentbot.models import Delivery, Evidence, ExceptionInfo, Report, Trace
from incidentbot.store import Store, deliveries, open_store
from tests.postgres import fresh_database

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite3'}"
        _close_all()
        return
    with fresh_database() as url:
        yield url
        _close_all()


_opened: list[Store] = []


def _open(url: str) -> Store:
    store = open_store(url)
    _opened.append(store)
    return store


def _close_all() -> None:
    while _opened:
        _opened.pop().close()


def _report(fingerprint: str = "a" * 32, message: str = "boom") -> Report:
    trace = Trace(exceptions=(ExceptionInfo("ValueError", message),), url="https://sentry.example/issues/1/")
    return Report(title=f"ValueError: {message}", summary_md="s", evidence=Evidence(trace, fingerprint), drafted_at=NOW)


def _delivery(external_id: str = "C1/1.2", count: int = 1) -> Delivery:
    return Delivery("slack", "a" * 32, external_id, None, NOW, NOW, count)


def test_occurrences_are_counted_and_the_newest_report_kept(store_url: str) -> None:
    store = _open(store_url)
    first = store.record_occurrence(_report(message="one"), NOW)
    second = store.record_occurrence(_report(message="two"), NOW + timedelta(minutes=5))
    assert (first.count, second.count) == (1, 2)
    assert second.first_seen == NOW and second.last_seen == NOW + timedelta(minutes=5)
    assert second.state == "open" and second.source_url == "https://sentry.example/issues/1/"
    assert store.report("a" * 32) == _report(message="two")


def test_a_lease_makes_the_second_poster_wait_and_then_see_the_first_post(store_url: str) -> None:
    store, other = _open(store_url), _open(store_url)
    seen: list[Delivery | None] = []

    def second() -> None:
        with other.lease("a" * 32, "slack", wait_seconds=10) as previous:
            seen.append(previous)

    with store.lease("a" * 32, "slack", wait_seconds=1) as previous:
        assert previous is None
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.5)
        assert seen == []  # still waiting
        store.save(_delivery())
    waiter.join(10)
    assert seen == [_delivery()]


def test_waiting_too_long_is_a_one_line_error(store_url: str) -> None:
    store = _open(store_url)
    with store.lease("a" * 32, "github", 1), pytest.raises(ReportError) as error, store.lease("a" * 32, "github", 0.3):
        pass
    assert "another incidentbot process is still posting" in error.value.one_line()


def test_a_dead_process_lease_is_taken_over(store_url: str) -> None:
    store = _open(store_url)
    with store.lease("a" * 32, "slack", 1):
        store.save(_delivery())
        with store.engine.begin() as conn:  # the holder dies: its lease is never released and grows old
            conn.execute(deliveries.update().values(leased_at=datetime.now(UTC) - timedelta(hours=1)))
        with store.lease("a" * 32, "slack", 1) as previous:
            assert previous == _delivery()


def test_a_failed_first_post_leaves_no_trace(store_url: str) -> None:
    store = _open(store_url)
    with pytest.raises(RuntimeError), store.lease("a" * 32, "slack", 1):
        raise RuntimeError("Slack is down")
    assert store.delivery("a" * 32, "slack") is None
    with store.lease("a" * 32, "slack", 0.1) as previous:  # and the lease is free again
        assert previous is None


def test_the_outbox_keeps_failures_until_done(store_url: str) -> None:
    store = _open(store_url)
    store.keep_for_retry("a" * 32, "slack", "Slack: not_in_channel")
    store.keep_for_retry("a" * 32, "slack", "Slack: ratelimited")
    [pending] = store.pending()
    assert (pending.reporter, pending.attempts, pending.last_error) == ("slack", 2, "Slack: ratelimited")
    store.done("a" * 32, "slack")
    assert store.pending() == []


def test_migrations_run_once(store_url: str) -> None:
    _open(store_url)
    store = _open(store_url)
    with store.engine.connect() as conn:
        names = conn.execute(sqlalchemy.text("select name from migrations")).scalars().all()
    assert names == [
        "m001_initial",
        "m002_analyses",
        "m003_events_and_cursors",
        "m004_outbox_retry_at",
        "m005_blame_index",
        "m006_learned_cases",
        "m007_git_facts",
    ]


def test_a_store_of_the_previous_version_gains_the_retry_time_and_keeps_its_posts(store_url: str) -> None:
    engine = sqlalchemy.create_engine(store_url)
    with engine.begin() as conn:  # the outbox as m001 made it, with one kept post
        conn.execute(
            sqlalchemy.text(
                "CREATE TABLE outbox (fingerprint VARCHAR(64) NOT NULL, reporter VARCHAR(32) NOT NULL,"
                " attempts INTEGER NOT NULL, last_error TEXT NOT NULL, created_at TIMESTAMP WITH TIME ZONE NOT NULL,"
                " updated_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (fingerprint, reporter))"
            )
        )
        conn.execute(
            sqlalchemy.text("INSERT INTO outbox VALUES ('f1', 'slack', 3, 'Slack: ratelimited', :t, :t)"), {"t": NOW}
        )
        conn.execute(sqlalchemy.text("CREATE TABLE migrations (name VARCHAR(100) PRIMARY KEY, applied_at TIMESTAMP)"))
        for name in ("m001_initial", "m002_analyses", "m003_events_and_cursors"):
            conn.execute(sqlalchemy.text("INSERT INTO migrations VALUES (:n, NULL)"), {"n": name})
    engine.dispose()
    store = _open(store_url)
    [kept] = store.due(NOW)
    assert (kept.fingerprint, kept.attempts) == ("f1", 3)
    assert store.take_due("f1", "slack", NOW, NOW + timedelta(minutes=1))


def test_a_due_post_is_taken_by_one_process_and_a_failing_destination_is_held_back(store_url: str) -> None:
    store, other = _open(store_url), _open(store_url)
    for fingerprint in ("f1", "f2"):
        store.keep_for_retry(fingerprint, "slack", "Slack: ratelimited")
    store.keep_for_retry("f3", "github", "GitHub: 500")
    assert [p.fingerprint for p in store.due(_utcnow())] == ["f1", "f2", "f3"]
    now = _utcnow()
    taken = [s.take_due("f1", "slack", now, now + timedelta(minutes=1)) for s in (store, other)]
    assert taken == [True, False]
    # f1's retry failed: every Slack post waits for the next try; GitHub's do not.
    store.keep_for_retry("f1", "slack", "Slack: ratelimited")
    store.defer("slack", now + timedelta(seconds=30), probe="f1")
    assert [p.fingerprint for p in other.due(now + timedelta(seconds=29))] == ["f3"]
    assert {p.fingerprint for p in other.due(now + timedelta(seconds=31))} == {"f1", "f2", "f3"}
    assert [p.attempts for p in store.pending() if p.fingerprint == "f1"] == [2]


def test_old_handled_events_are_pruned_and_queued_ones_kept(store_url: str) -> None:
    from incidentbot.service.event_queue import EventQueue
    from incidentbot.store import events

    store = _open(store_url)
    queue = EventQueue(store)
    for n in range(4):
        queue.add("sentry-ingest", f"e{n}", '{"message": "x"}')
    [first, second] = queue.claim("w", 2)
    queue.finish(first.id, "w")
    queue.finish(second.id, "w", error="bad", retry=False)
    with store.engine.begin() as conn:
        conn.execute(sqlalchemy.update(events).values(received_at=NOW - timedelta(days=30)))
    assert (store.size_bytes() or 0) > 0
    assert store.prune_events(NOW - timedelta(days=14)) == 2
    assert queue.depth() == {"queued": 2}
    assert store.prune_events(NOW - timedelta(days=14)) == 0


def test_a_full_disk_fails_the_store_and_the_same_store_works_again_after(tmp_path: Path) -> None:
    import resource

    store = _open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    store.check_writable()
    store.close()  # the WAL is checkpointed and removed: the next write must grow a file
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, limits[1]))  # no file may grow: a full disk for this process
    try:
        with pytest.raises(ReportError, match="cannot be written|unavailable") as error:
            store.check_writable()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    assert "\n" not in error.value.one_line()
    store.check_writable()  # the same store, no restart: the connection the failure broke was dropped


def test_a_read_only_database_is_named_at_the_start() -> None:
    with fresh_database() as url:
        _open(url).close()
        admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = url.rsplit("/", 1)[1]
            conn.execute(sqlalchemy.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        admin.dispose()
        store = _open(url)
        with pytest.raises(ReportError, match="cannot be written: .*read-only") as error:
            store.check_writable()
        assert "write access" in error.value.one_line()
        _close_all()


def test_a_process_lets_go_of_its_own_leases(store_url: str) -> None:
    store, other = _open(store_url), _open(store_url)
    with store.engine.begin() as conn:
        conn.execute(
            sqlalchemy.insert(deliveries).values(
                fingerprint="f1", reporter="slack", lease=store.holder + "x" * 24, leased_at=_utcnow(), reported_count=0
            )
        )
        conn.execute(
            sqlalchemy.insert(deliveries).values(
                fingerprint="f2", reporter="slack", lease=other.holder + "x" * 24, leased_at=_utcnow(), reported_count=0
            )
        )
    assert store.release_held() == 1  # f1 never got posted: its row goes, so the next post starts afresh
    with store.engine.connect() as conn:
        rows = conn.execute(sqlalchemy.select(deliveries.c.fingerprint, deliveries.c.lease)).all()
    assert [(f, lease is not None) for f, lease in rows] == [("f2", True)]


def _utcnow() -> datetime:
    return datetime.now(tz=UTC)


def test_a_bad_database_url_is_one_line() -> None:
    with pytest.raises(ConfigError) as error:
        open_store("nosuchdb://x")
    assert "set INCIDENTBOT_DATABASE_URL" in error.value.one_line()
    assert "\n" not in error.value.one_line()


def test_queued_events_are_stored_redacted_and_keep_their_count(store_url: str) -> None:
    """The store never holds what SDKs send in headers, cookies, bodies and breadcrumbs (docs/security.md)."""
    import json

    from incidentbot.parse import parse_trace
    from incidentbot.service.event_queue import EventQueue
    from incidentbot.settings import Redaction
    from incidentbot.store import events

    event = {
        "event_id": "e1",
        "exception": {"values": [{"type": "E", "value": "login failed password=hunter2", "stacktrace": {}}]},
        "request": {"headers": [["Authorization", "Bearer hdr-secret-1"]], "cookies": "session=ck-secret-2"},
        "breadcrumbs": {"values": [{"message": "token=crumb-secret-3"}]},
    }
    store = _open(store_url)
    queue = EventQueue(store, Redaction(deny=("Globex",)))
    queue.add("sentry-ingest", "e1", json.dumps(event))
    queue.add_many([("sentry-ingest", "e2", json.dumps({**event, "event_id": "e2", "extra": {"c": "Globex"}}))])
    with store.engine.connect() as conn:
        stored = [row.payload for row in conn.execute(sqlalchemy.select(events.c.payload))]
    assert len(stored) == 2
    for payload in stored:
        for secret in ("hunter2", "hdr-secret-1", "ck-secret-2", "crumb-secret-3", "Globex"):
            assert secret not in payload
    assert parse_trace(stored[0]).redactions == 4


def test_what_a_silent_worker_held_is_taken_over_at_once_and_a_beating_one_keeps_it(store_url: str) -> None:
    from incidentbot.service.event_queue import EventQueue
    from incidentbot.store import cursors

    dead, alive, other = _open(store_url), _open(store_url), _open(store_url)
    queue = EventQueue(other)
    for n in range(2):
        queue.add("sentry-ingest", f"e{n}", '{"message": "x"}')
    [first] = EventQueue(dead).claim("dead-worker", 1)
    [second] = EventQueue(alive).claim("live-worker", 1)
    for store, worker, fingerprint in ((dead, "dead-worker", "f1"), (alive, "live-worker", "f2")):
        store.beat(worker)
        with store.engine.begin() as conn:
            token = store.holder + "x" * 24
            conn.execute(
                sqlalchemy.insert(deliveries).values(
                    fingerprint=fingerprint, reporter="slack", lease=token, leased_at=_utcnow(), reported_count=0
                )
            )
    assert queue.claim("w", 2) == [] and not other._take("f1", "slack", "t" * 36)  # both beat: nothing to take
    with dead.engine.begin() as conn:  # the first worker was killed 20 s ago: its beat stopped
        conn.execute(
            sqlalchemy.update(cursors)
            .where(cursors.c.name == "alive:dead-worker")
            .values(updated_at=_utcnow() - timedelta(seconds=20))
        )
    assert [e.id for e in queue.claim("w", 2)] == [first.id]
    assert other._take("f1", "slack", "t" * 36) and not other._take("f2", "slack", "u" * 36)
    assert second.id not in [e.id for e in queue.claim("w", 2)]
    alive.forget_beat("live-worker")
    assert other.forget_silent(_utcnow()) == 1  # the dead worker's row; the live one left in good order


def test_a_lease_whose_release_failed_is_let_go_of_once_the_database_answers() -> None:
    """The connection drops while the post's lease is being released: the lease must not hold the incident's
    posts for every process until it goes stale (LEASE_SECONDS); the holder lets go at its next heartbeat."""
    from incidentbot.errors import StoreUnavailable
    from tests.postgres import database_reachable

    with fresh_database() as url:
        store, other = _open(url), _open(url)
        try:
            with pytest.raises(StoreUnavailable), store.lease("a" * 32, "slack", 1):
                store.save(_delivery())
                database_reachable(url, False)  # the database goes away while the post is in hand
            database_reachable(url, True)
            store.beat("worker-1")  # the holder's heartbeat, every 2 s in a daemon
            with other.lease("a" * 32, "slack", 1) as previous:  # another process posts at once
                assert previous == _delivery()
        finally:
            database_reachable(url, True)


def test_blame_entries_and_counters_written_by_two_processes(store_url: str) -> None:
    """Two processes write the same blame entry at once: the later write replaces the entry; the index's counters
    add up whatever order the writes come in."""
    store, other = _open(store_url), _open(store_url)
    key = ("shop/pricing.py", "w")
    written: list[str] = []

    def the_other_writes_first(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO BLAME_INDEX"):
            written.append(statement)
            if len(written) == 1:
                other.save_blame_entries("repo", "c" * 40, {key: '"the other process"'})
                other.count_blame_index({"hits": 2, "misses": 1})

    sqlalchemy.event.listen(store.engine, "before_cursor_execute", the_other_writes_first)
    store.save_blame_entries("repo", "c" * 40, {key: '"this process"', ("shop/cart.py", "w"): '"this process"'})
    store.count_blame_index({"hits": 3, "carried": 0})
    store.count_blame_index({"misses": 4})
    assert store.blame_entries("repo", "c" * 40, [key, ("shop/cart.py", "w")]) == {
        key: '"this process"',
        ("shop/cart.py", "w"): '"this process"',
    }
    stats = store.blame_index_stats()
    assert (stats["entries"], stats["hits"], stats["carried"], stats["misses"]) == (2, 5, 0, 5)


def test_a_sqlite_store_writes_without_importing_postgresql(tmp_path: Path) -> None:
    """A first triage creates the SQLite store and writes to it: PostgreSQL's dialect (45 ms) stays unloaded."""
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    code = (
        "import sys; from incidentbot.store import open_store; "
        f"s = open_store({url!r}); "
        "s.save_blame_entries('r', 'c' * 40, {('a.py', 'w'): '{}'}); s.count_blame_index({'hits': 1}); "
        "s.save_git_facts('commit', {'a' * 40: '[]'}); "
        "print(s.blame_index_stats()['hits'], 'sqlalchemy.dialects.postgresql' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "False"]


def test_git_facts_another_process_wrote_meanwhile_are_kept_and_the_rest_stored(store_url: str) -> None:
    """Just before this process's write, another process stores one of the same facts: the one statement still
    stores the rest, and the first value of the raced row stays."""
    store, other = _open(store_url), _open(store_url)
    raced, calm = "a" * 40, "b" * 40
    inserts: list[str] = []

    def the_other_writes_first(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO GIT_FACTS"):
            inserts.append(statement)
            if len(inserts) == 1:
                other.save_git_facts("commit", {raced: '"the other process"'})

    sqlalchemy.event.listen(store.engine, "before_cursor_execute", the_other_writes_first)
    store.save_git_facts("commit", {raced: '"this process"', calm: '"this process"'})
    assert len(inserts) == 1  # one statement, no retry
    assert store.git_facts("commit", [raced, calm]) == {raced: '"the other process"', calm: '"this process"'}


# ---- a new SQLite store, created without SQLAlchemy --------------------------------------------------------------


def _sqlite_master(path: Path) -> list[tuple[str, str, str, str | None]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    finally:
        conn.close()


def _migrations(path: Path) -> list[tuple[str, str]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT name, applied_at FROM migrations ORDER BY name").fetchall()
    finally:
        conn.close()


def test_a_new_sqlite_store_made_without_sqlalchemy_is_the_migrated_one(tmp_path: Path) -> None:
    """The first triage on a machine creates its store with ``sqlite3`` alone: the same tables, columns and
    migrations as a store that ``Store`` migrated from nothing, which ``Store`` then opens as its own."""
    from incidentbot.sqlite_schema import create_new_store

    made = tmp_path / "new" / "state.sqlite3"
    assert create_new_store(f"sqlite:///{made}")
    migrated = tmp_path / "migrated.sqlite3"
    _open(f"sqlite:///{migrated}")
    assert _sqlite_master(made) == _sqlite_master(migrated)
    assert [name for name, _ in _migrations(made)] == [name for name, _ in _migrations(migrated)]
    applied = _migrations(made)
    datetime.strptime(applied[0][1], "%Y-%m-%d %H:%M:%S.%f")  # written as SQLAlchemy writes a DateTime
    store = _open(f"sqlite:///{made}")
    store.count_blame_index({"hits": 2})
    assert store.blame_index_stats()["hits"] == 2
    assert _migrations(made) == applied  # nothing migrated again
    # An existing file is the Store's to migrate, and another database the Store's to create: left alone.
    assert not create_new_store(f"sqlite:///{made}")
    assert not create_new_store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    # A place it cannot create the file in leaves the store to Store, which names the problem.
    (tmp_path / "a-file").write_text("")
    assert not create_new_store(f"sqlite:///{tmp_path / 'a-file' / 'state.sqlite3'}")
    with pytest.raises(ConfigError, match="cannot open the database"):
        open_store(f"sqlite:///{tmp_path / 'a-file' / 'state.sqlite3'}")


def test_the_shipped_sqlite_schema_is_what_the_migrations_give(tmp_path: Path) -> None:
    from incidentbot.sqlite_schema import SCHEMA_FILE, schema_of

    path = tmp_path / "migrated.sqlite3"
    _open(f"sqlite:///{path}")
    assert schema_of(path) == SCHEMA_FILE.read_text(encoding="utf-8"), (
        "the migrations changed: run `make sqlite-schema` to write incidentbot/sqlite_schema.sql"
    )
