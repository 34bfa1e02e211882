"""A fresh database on the machine's PostgreSQL (127.0.0.1:5432, trust auth; .ci/run starts it), or a skip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgres_available() -> bool:
    engine = sqlalchemy.create_engine(PG_ADMIN)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@contextmanager
def fresh_database(prefix: str = "incidentbot_test") -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    if not postgres_available():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 (.ci/run starts it)")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def database_reachable(url: str, reachable: bool) -> None:
    """Stop (or allow again) every connection to the database, as when PostgreSQL goes away and comes back."""
    name = url.rsplit("/", 1)[1]
    admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(reachable).lower()}'))
            if not reachable:
                conn.execute(
                    sqlalchemy.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                    {"n": name},
                )
    finally:
        admin.dispose()
