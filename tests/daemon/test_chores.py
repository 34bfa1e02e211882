"""The workers' chores: pruning old events at most once an interval across every worker sharing the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy

from incidentbot import settings
from incidentbot.service.deliver import Throttle
from incidentbot.service.event_queue import EventQueue
from incidentbot.service.worker import Chores
from incidentbot.store import events, open_store


def test_old_events_are_pruned_by_one_worker_once_an_interval(tmp_path: Path) -> None:
    conf = settings.load(database_url=f"sqlite:///{tmp_path / 's.sqlite3'}", event_retention_days=7)
    store = open_store(conf.effective_database_url)
    try:
        queue = EventQueue(store)
        for n in range(3):
            queue.add("sentry-ingest", f"e{n}", '{"message": "x"}')
        for event in queue.claim("w", 3):
            queue.finish(event.id, "w")
        with store.engine.begin() as conn:
            old = datetime.now(tz=UTC) - timedelta(days=8)
            conn.execute(sqlalchemy.update(events).where(events.c.source_event_id != "e2").values(received_at=old))
        first, second = (Chores(conf, store, queue, [], Throttle(10)) for _ in range(2))
        first.run()
        assert queue.depth() == {"done": 1}  # the recent one stays
        with store.engine.begin() as conn:
            conn.execute(sqlalchemy.update(events).values(received_at=old))
        second.run()  # another worker, within the hour: not its turn
        assert queue.depth() == {"done": 1}
    finally:
        store.close()
