"""A new SQLite store created with Python's own ``sqlite3``, from the schema ``incidentbot.store`` migrates to.

The first ``incidentbot triage`` on a machine (a newcomer's, a GitHub Action's without its cache) would import
SQLAlchemy (about 0.25 s) only to create the store's tables. It creates them here instead, from
``sqlite_schema.sql``: the ``CREATE`` statements SQLite recorded for a store that ``incidentbot.store`` migrated
from nothing, and the names of the migrations they stand for. A test creates a store both ways and compares the
two, so the file cannot drift from the migrations; after adding a migration, write it again with
``make sqlite-schema`` (``incidentbot.store.write_sqlite_schema``).

An existing file, PostgreSQL, or any failure here is left to ``incidentbot.store.Store``, which migrates.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("sqlite_schema.sql")
# Every SQLite connection to a store (incidentbot.store's engine, the blame index's own, a new store's): WAL lets
# readers run beside the one writer, as several processes share one file; in WAL mode synchronous=NORMAL survives
# any process crash (kill -9 included), only a power loss can undo the last commits, and each commit is several
# times cheaper.
PRAGMAS = ("journal_mode=WAL", "busy_timeout=30000", "synchronous=NORMAL")
_MIGRATION_MARK = "-- migration: "


def create_new_store(url: str) -> bool:
    """Create the store at a ``sqlite:///`` URL when no file is there yet; True when it exists with every
    table now. False (nothing done) for another database, an existing file, or when SQLite fails: the caller
    then opens the store the usual way, which migrates it or names the problem."""
    if not url.startswith("sqlite:///"):
        return False
    path = Path(url.removeprefix("sqlite:///"))
    if path.exists():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create(path)
    except (OSError, sqlite3.Error):
        return False
    return True


def _create(path: Path) -> None:
    migrations, statements = read_schema(SCHEMA_FILE.read_text(encoding="utf-8"))
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN IMMEDIATE")  # two processes starting at once: the second finds the first's tables
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").fetchone():
                conn.execute("COMMIT")
                return
            for statement in statements:
                conn.execute(statement)
            applied_at = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy writes it
            conn.executemany(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [(name, applied_at) for name in migrations]
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def read_schema(text: str) -> tuple[list[str], list[str]]:
    """The migrations' names and the ``CREATE`` statements of a schema file."""
    migrations = [line.removeprefix(_MIGRATION_MARK).strip() for line in text.splitlines() if line.startswith("--")]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return migrations, [statement.strip() for statement in body.split(";\n") if statement.strip()]


def schema_of(path: Path) -> str:
    """The schema file's text for the store at ``path``: its migrations, then SQLite's record of each table."""
    conn = sqlite3.connect(path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM migrations ORDER BY name")]
        made = "SELECT sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL ORDER BY rowid"
        tables = [row[0] for row in conn.execute(made)]
    finally:
        conn.close()
    head = "".join(f"{_MIGRATION_MARK}{name}\n" for name in names)
    return head + "".join(f"{sql};\n" for sql in tables)
