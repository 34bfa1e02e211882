"""`incidentbot run` heals itself: a dead worker is started again, a worker outlives a store that goes away,
a destination that trickles its answer cannot hold a worker, and failed posts go out soon after the
destination is back (not at the next 5-minute job)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.test_run import (
    KEY,
    Daemon,
    _children,
    _crash,
    _free_port,
    _until,
    demo_repo,  # noqa: F401 - a fixture
    servers,  # noqa: F401 - a fixture
)
from tests.fakes.github_api import FakeGitHub
from tests.fakes.server import Response
from tests.fakes.slack_api import FakeSlack
from tests.postgres import database_reachable, fresh_database
from tests.reporters.conftest import destination_variables


def _workers(daemon: Daemon) -> set[int]:
    """The daemon's worker processes (not multiprocessing's resource tracker)."""
    assert daemon.process is not None
    found = set()
    for pid in _children(daemon.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            found.add(pid)
    return found


def _environment(slack: FakeSlack, github: FakeGitHub, repo: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **destination_variables(slack, github),
        "INCIDENTBOT_REPO": str(repo),
        "INCIDENTBOT_PORT": str(_free_port()),
        "INCIDENTBOT_INGEST_KEYS": KEY,
        "INCIDENTBOT_DATABASE_URL": database_url,
        "INCIDENTBOT_SLACK_REPLY_MINUTES": "0",
        "INCIDENTBOT_GITHUB_COMMENT_MINUTES": "0",
        "INCIDENTBOT_LOG_FORMAT": "json",
        **extra,
    }


@pytest.fixture
def start() -> Iterator[list[Daemon]]:
    """Start daemons; each is killed at the end if the test left it running."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.close()


def _run(started: list[Daemon], env: dict[str, str]) -> Daemon:
    daemon = Daemon(env, int(env["INCIDENTBOT_PORT"]))
    daemon.start()
    started.append(daemon)
    return daemon


def test_a_worker_that_dies_is_started_again_and_takes_events(
    servers: tuple[FakeSlack, FakeGitHub],  # noqa: F811
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
    start: list[Daemon],
) -> None:
    slack, github = servers
    daemon = _run(start, _environment(slack, github, demo_repo, f"sqlite:///{tmp_path / 's.sqlite3'}"))
    _until(lambda: len(_workers(daemon)) == 2, "the workers did not start")
    workers = _workers(daemon)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)  # an OOM kill of every worker
    _until(lambda: len(_workers(daemon) - workers) == 2, "the dead workers were not started again")
    _crash(demo_repo, daemon.dsn)
    _until(lambda: len(slack.roots()) == 1 and len(github.issues) == 1, "the new workers did not post the crash")
    assert "exited (code -9); starting it again" in daemon.stop()


def test_a_worker_whose_store_goes_away_comes_back_and_finishes_what_it_held(
    servers: tuple[FakeSlack, FakeGitHub],  # noqa: F811
    demo_repo: Path,  # noqa: F811
    start: list[Daemon],
) -> None:
    slack, github = servers
    with fresh_database("incidentbot_heal") as url:
        # Claims and leases go stale only after 5 minutes: recovery must not wait for that.
        env = _environment(
            slack, github, demo_repo, url, INCIDENTBOT_WORKERS="1", INCIDENTBOT_STALE_AFTER_SECONDS="300"
        )
        daemon = _run(start, env)
        _until(lambda: len(_workers(daemon)) == 1, "the worker did not start")
        [worker] = _workers(daemon)
        github.delays[("POST", "/repos/acme/shop/issues")] = 3  # GitHub creates the issue, then answers late
        _crash(demo_repo, daemon.dsn)
        _until(lambda: len(github.issues) == 1, "the worker never reached GitHub")
        database_reachable(url, False)  # the store goes away mid-post, with the claim and the lease held
        try:
            _until(lambda: "the store failed" in Path(daemon.log.name).read_text(), "the worker never met the failure")
        finally:
            database_reachable(url, True)
        _until(lambda: len(slack.roots()) == 1, "the worker did not finish the event once the store was back", 30)
        assert _workers(daemon) == {worker}  # the same worker: it healed, nobody restarted it
        status = subprocess.run(
            [sys.executable, "-m", "incidentbot", "status"], env=env, capture_output=True, text=True, timeout=60
        )
        assert "1 done" in status.stdout, status.stdout + status.stderr
        assert " MB (handled events kept 14 days)" in status.stdout  # PostgreSQL's tables, measured
        assert len(github.issues) == 1 and len(slack.roots()) == 1
        log = daemon.stop()
        assert "the store answers again" in log and "Traceback" not in log


def test_a_trickling_destination_cannot_hold_a_worker(
    servers: tuple[FakeSlack, FakeGitHub],  # noqa: F811
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
    start: list[Daemon],
) -> None:
    slack, github = servers
    # Headers at once, then one byte every 2 s of a 500-byte body: over 15 minutes, each read within its timeout.
    github.fail_next("POST", "/repos/acme/shop/issues", Response(201, {"message": "x" * 500}, trickle=2.0))
    env = _environment(
        slack,
        github,
        demo_repo,
        f"sqlite:///{tmp_path / 's.sqlite3'}",
        INCIDENTBOT_WORKERS="1",
        INCIDENTBOT_DESTINATION_DEADLINE_SECONDS="4",
    )
    daemon = _run(start, env)
    _crash(demo_repo, daemon.dsn)
    # Slack does not wait behind GitHub, and GitHub's post is tried again and lands.
    _until(lambda: len(slack.roots()) == 1, "Slack waited behind the trickling GitHub answer", 60)
    _until(lambda: len(github.issues) == 1, "the GitHub post was not tried again", 60)
    log = daemon.stop()
    assert "github.post: no complete answer within 4 s" in log


def test_failed_posts_go_out_within_seconds_of_the_destination_coming_back(
    servers: tuple[FakeSlack, FakeGitHub],  # noqa: F811
    demo_repo: Path,  # noqa: F811
    tmp_path: Path,
    start: list[Daemon],
) -> None:
    slack, github = servers
    github.fail_next("POST", "/repos/acme/shop/issues", Response(500, {"message": "Server Error"}), times=4)
    slack.fail_next("POST", "chat.postMessage", Response(200, {"ok": False, "error": "ratelimited"}), times=3)
    env = _environment(slack, github, demo_repo, f"sqlite:///{tmp_path / 's.sqlite3'}", INCIDENTBOT_WORKERS="1")
    daemon = _run(start, env)
    _crash(demo_repo, daemon.dsn)
    _until(lambda: len(github.issues) == 1 and len(slack.roots()) == 1, "the failed posts were not retried", 60)
    assert len(github.calls("POST", "/repos/acme/shop/issues", exact=True)) == 5  # four failures, one post
    log = daemon.stop()
    assert "Traceback" not in log
