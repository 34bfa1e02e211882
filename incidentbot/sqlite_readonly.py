"""A read-only look into the SQLite store with the standard library: what a triage reads (learnt cases, a
repository's calibration) without creating or migrating the store, and without importing SQLAlchemy."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


@contextmanager
def read_only(database_url: str) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection to the store at a ``sqlite:///`` URL; None while no store file exists."""
    path = Path(database_url.removeprefix("sqlite:///"))
    if not path.exists():
        yield None
        return
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
        yield conn
