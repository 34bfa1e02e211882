"""The blame index's tables in a SQLite store, through Python's own ``sqlite3``: what ``incidentbot triage``
uses once the store exists, so a CLI process does not import SQLAlchemy (about 130 ms) to read its index.

The same tables, columns and semantics as the ``blame_*`` methods of ``incidentbot.store.Store`` (which
creates them, migration ``m005_blame_index``); the tests run the index over both.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from incidentbot.sqlite_schema import PRAGMAS

MIGRATION = "m007_git_facts"  # the newest of the tables used here (m005: the blame index)
TOUCH_SECONDS = 300.0  # as incidentbot.store.BLAME_TOUCH_SECONDS
_KEY = "repo = ? AND revision = ? AND options = ? AND path = ?"


class SqliteIndexStore:
    """The blame index's side of a SQLite store, for one process (its calls serialised by a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        for pragma in PRAGMAS:
            self._conn.execute(f"PRAGMA {pragma}")

    @classmethod
    def open_existing(cls, url: str) -> SqliteIndexStore | None:
        """The store at a ``sqlite:///`` URL when it exists and holds the index's tables, else None."""
        if not url.startswith("sqlite:///"):
            return None
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            return None
        try:
            store = cls(path)
            found = store._conn.execute("SELECT 1 FROM migrations WHERE name = ?", (MIGRATION,)).fetchone()
        except sqlite3.Error:
            return None
        if found is None:
            store.close()
            return None
        return store

    def close(self) -> None:
        self._conn.close()

    def blame_entries(self, repo: str, revision: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        if not keys:
            return {}
        wanted = set(keys)
        paths = sorted({path for path, _ in keys})
        marks = ",".join("?" * len(paths))
        found: dict[tuple[str, str], str] = {}
        now = time.time()
        with self._lock:
            rows = self._conn.execute(
                "SELECT path, options, entry_json, used_at FROM blame_index"
                f" WHERE repo = ? AND revision = ? AND path IN ({marks})",
                (repo, revision, *paths),
            ).fetchall()
            stale = []
            for path, options, text, used_at in rows:
                if (path, options) in wanted:
                    found[(path, options)] = text
                    if used_at < now - TOUCH_SECONDS:
                        stale.append((now, repo, revision, options, path))
            if stale:
                with self._transaction():
                    self._conn.executemany(f"UPDATE blame_index SET used_at = ? WHERE {_KEY}", stale)
        return found

    def blame_revisions(self, repo: str, keys: Sequence[tuple[str, str]]) -> dict[str, int]:
        if not keys:
            return {}
        wanted = set(keys)
        paths = sorted({path for path, _ in keys})
        marks = ",".join("?" * len(paths))
        counts: dict[str, int] = {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT revision, path, options FROM blame_index WHERE repo = ? AND path IN ({marks})",
                (repo, *paths),
            ).fetchall()
        for revision, path, options in rows:
            if (path, options) in wanted:
                counts[revision] = counts.get(revision, 0) + 1
        return counts

    def save_blame_entries(self, repo: str, revision: str, entries: dict[tuple[str, str], str]) -> None:
        now = time.time()
        rows = [
            (repo, revision, options, path, text, len(text), now) for (path, options), text in sorted(entries.items())
        ]
        with self._lock, self._transaction():
            self._conn.executemany(
                "INSERT INTO blame_index (repo, revision, options, path, entry_json, bytes, used_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, revision, options, path) DO UPDATE SET"
                " entry_json = excluded.entry_json, bytes = excluded.bytes, used_at = excluded.used_at",
                rows,
            )

    def touch_blame_entries(self, keys: Sequence[tuple[str, str, str, str]]) -> None:
        now = time.time()
        rows = [(now, repo, revision, options, path) for repo, revision, path, options in keys]
        with self._lock, self._transaction():
            self._conn.executemany(f"UPDATE blame_index SET used_at = ? WHERE {_KEY}", rows)

    def count_blame_index(self, counts: dict[str, int]) -> None:
        rows = [(name, value) for name, value in sorted(counts.items()) if value]
        if not rows:
            return
        with self._lock, self._transaction():
            self._conn.executemany(
                "INSERT INTO blame_index_stats (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                rows,
            )

    def blame_index_stats(self) -> dict[str, int]:
        with self._lock:
            entries, total, revisions = self._conn.execute(
                "SELECT count(*), coalesce(sum(bytes), 0), count(DISTINCT revision) FROM blame_index"
            ).fetchone()
            counters = dict(self._conn.execute("SELECT name, value FROM blame_index_stats").fetchall())
        counts = {"hits": 0, "carried": 0, "misses": 0, **{str(k): int(v) for k, v in counters.items()}}
        return {"entries": int(entries), "bytes": int(total), "revisions": int(revisions), **counts}

    def evict_blame_index(self, repo: str, max_bytes: int, keep_revisions: int) -> int:
        dropped = 0
        with self._lock, self._transaction():
            recent = self._conn.execute(
                "SELECT revision FROM blame_index WHERE repo = ? GROUP BY revision ORDER BY max(used_at) DESC",
                (repo,),
            ).fetchall()
            old = [row[0] for row in recent[max(keep_revisions, 1) :]]
            for revision in old:
                done = self._conn.execute("DELETE FROM blame_index WHERE repo = ? AND revision = ?", (repo, revision))
                dropped += done.rowcount
            total = int(self._conn.execute("SELECT coalesce(sum(bytes), 0) FROM blame_index").fetchone()[0])
            if total > max_bytes:
                rows = self._conn.execute(
                    "SELECT repo, revision, options, path, bytes FROM blame_index ORDER BY used_at"
                ).fetchall()
                for key_repo, revision, options, path, size in rows:
                    if total <= max_bytes:
                        break
                    self._conn.execute(f"DELETE FROM blame_index WHERE {_KEY}", (key_repo, revision, options, path))
                    total -= int(size)
                    dropped += 1
        return dropped

    def git_facts(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        wanted = sorted(set(keys))
        marks = ",".join("?" * len(wanted))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT key, value_json FROM git_facts WHERE kind = ? AND key IN ({marks})", (kind, *wanted)
            ).fetchall()
        return {str(key): str(text) for key, text in rows}

    def save_git_facts(self, kind: str, values: dict[str, str]) -> None:
        if not values:
            return
        now = time.time()
        rows = [(kind, key, text, now) for key, text in sorted(values.items())]
        with self._lock, self._transaction():
            self._conn.executemany(
                "INSERT INTO git_facts (kind, key, value_json, written_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, key) DO NOTHING",
                rows,
            )

    def evict_git_facts(self, max_rows: int) -> int:
        with self._lock, self._transaction():
            (total,) = self._conn.execute("SELECT count(*) FROM git_facts").fetchone()
            if total <= max_rows:
                return 0
            (cutoff,) = self._conn.execute(
                "SELECT written_at FROM git_facts ORDER BY written_at DESC LIMIT 1 OFFSET ?", (max_rows,)
            ).fetchone()
            return int(self._conn.execute("DELETE FROM git_facts WHERE written_at <= ?", (cutoff,)).rowcount)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on an exception): a writer waits for the others, never deadlocks."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
