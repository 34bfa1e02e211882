"""Two `incidentbot run` replicas on one real PostgreSQL: every incident posted exactly once, one poller at a
time, and the poller fails over when its replica is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy

from tests.daemon.test_run import EXAMPLES, KEY, Daemon, _crash, _free_port, _until
from tests.fakes.github_api import FakeGitHub
from tests.fakes.sentry_api import TOKEN, FakeSentry, rest_event
from tests.fakes.slack_api import FakeSlack
from tests.postgres import fresh_database
from tests.reporters.conftest import destination_variables

ERRORS = ("KeyError", "ValueError", "TypeError", "LookupError", "RuntimeError")


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database("incidentbot_replicas") as url:
        yield url


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _poller_pid(url: str) -> int | None:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(
                sqlalchemy.text("select value from cursors where name = 'lock:sentry-poller'")
            ).scalar()
    finally:
        engine.dispose()
    return int(str(value).split("|")[0].split(":")[1]) if value else None


def test_two_replicas_post_each_incident_once_and_the_poller_fails_over(
    database: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = tmp_path / "shop-repo"
    subprocess.run([sys.executable, str(EXAMPLES / "build_demo_repo.py"), str(repo)], check=True, capture_output=True)
    event_file = tmp_path / "event.json"
    subprocess.run([sys.executable, str(EXAMPLES / "capture_event.py"), str(repo), str(event_file)], check=True)
    sdk_event = json.loads(event_file.read_text())
    with FakeSentry() as sentry, FakeSlack() as slack, FakeGitHub() as github:
        for n, kind in enumerate(ERRORS[:4]):
            event = json.loads(json.dumps(sdk_event))
            event["exception"]["values"][-1]["type"] = kind
            sentry.add_issue("shop", str(500 + n), _now(), rest_event(event, f"{n:x}" * 32, str(500 + n)))
        base = {
            **os.environ,
            **destination_variables(slack, github),
            "INCIDENTBOT_REPO": str(repo),
            "INCIDENTBOT_INGEST_KEYS": KEY,
            "INCIDENTBOT_DATABASE_URL": database,
            "INCIDENTBOT_SLACK_REPLY_MINUTES": "0",
            "INCIDENTBOT_GITHUB_COMMENT_MINUTES": "0",
            "INCIDENTBOT_STALE_AFTER_SECONDS": "3",
            "INCIDENTBOT_POLL_SECONDS": "1",
            "SENTRY_URL": sentry.url,
            "SENTRY_AUTH_TOKEN": TOKEN,
            "SENTRY_ORG": "acme",
            "SENTRY_PROJECTS": "shop",
        }
        replicas = [Daemon({**base, "INCIDENTBOT_PORT": str(port)}, port) for port in (_free_port(), _free_port())]
        try:
            for replica in replicas:
                replica.start()
            for replica in replicas:  # the same crash reaches both replicas through the SDK
                _crash(repo, replica.dsn)
            _until(lambda: len(github.issues) == 4, f"expected 4 issues, have {len(github.issues)}", timeout=120)
            _until(lambda: len(slack.roots()) == 4, "expected 4 Slack threads", timeout=60)
            # The poller lock: exactly one replica polls. Kill it; the other takes over and polls the new issue.
            holder = _poller_pid(database)
            victim = next(r for r in replicas if r.process and r.process.pid == holder)
            survivor = next(r for r in replicas if r is not victim)
            victim.stop(signal.SIGKILL)
            event = json.loads(json.dumps(sdk_event))
            event["exception"]["values"][-1]["type"] = ERRORS[4]
            sentry.add_issue("shop", "599", _now(), rest_event(event, "e" * 32, "599"))
            _until(lambda: len(github.issues) == 5, "the surviving replica did not take over the polling", timeout=90)
            _until(lambda: _poller_pid(database) == survivor.process.pid, "the lock did not move")  # type: ignore[union-attr]
            titles = sorted(i.title.split(":")[0] for i in github.issues)
            assert titles == sorted(ERRORS)
            _until(lambda: len(slack.roots()) == 5, "the fifth incident's Slack thread is missing")
            time.sleep(2)  # anything posted twice would show by now
            assert len(github.calls("POST", "/repos/acme/shop/issues", exact=True)) == 5
            assert len(slack.roots()) == 5
        finally:
            for replica in replicas:
                replica.close()
