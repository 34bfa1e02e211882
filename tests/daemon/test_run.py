"""`incidentbot run` as a user runs it: the real sentry-sdk sends crashes to its ingest endpoint, workers
triage and post them; a worker killed with SIGKILL mid-post leaves nothing posted twice after a restart."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.github_api import FakeGitHub
from tests.fakes.sentry_api import TOKEN as SENTRY_TOKEN
from tests.fakes.sentry_api import FakeSentry, rest_event
from tests.fakes.slack_api import FakeSlack
from tests.reporters.conftest import destination_variables

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY = "ingestkey0123456789abcdef"
WEBHOOK_SECRET = "client-secret-0123456789"


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("demo") / "shop-repo"
    subprocess.run([sys.executable, str(EXAMPLES / "build_demo_repo.py"), str(repo)], check=True, capture_output=True)
    return repo


@pytest.fixture
def servers() -> Iterator[tuple[FakeSlack, FakeGitHub]]:
    with FakeSlack() as slack, FakeGitHub() as github:
        yield slack, github


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    with FakeSentry() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Daemon:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dsn(self) -> str:
        return f"http://{KEY}@127.0.0.1:{self.port}/1"

    def start(self) -> None:
        # Output to a file, not a pipe: worker processes inherit it and may outlive a killed parent briefly.
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "incidentbot", "run"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        _until(lambda: _healthy(self.url), f"incidentbot run did not answer /healthz on {self.url}")

    def stop(self, sig: int = signal.SIGTERM) -> str:
        """Stop it and hand back its log; the log file is removed (tests leave no file behind)."""
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=60)
        self.log.close()
        log = Path(self.log.name)
        text = log.read_text()
        log.unlink(missing_ok=True)
        return text

    def close(self) -> None:
        """The end of a test: kill it if it still runs, and remove its log either way."""
        if self.process is not None and self.process.poll() is None:
            self.stop(signal.SIGKILL)
        elif hasattr(self, "log"):
            self.log.close()
            Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture
def daemon(
    servers: tuple[FakeSlack, FakeGitHub], sentry: FakeSentry, demo_repo: Path, tmp_path: Path
) -> Iterator[Daemon]:
    slack, github = servers
    port = _free_port()
    env = {
        **os.environ,
        **destination_variables(slack, github),
        "INCIDENTBOT_REPO": str(demo_repo),
        "INCIDENTBOT_PORT": str(port),
        "INCIDENTBOT_INGEST_KEYS": f"otherkey,{KEY}",
        "INCIDENTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'state.sqlite3'}",
        "INCIDENTBOT_SLACK_REPLY_MINUTES": "0",
        "INCIDENTBOT_GITHUB_COMMENT_MINUTES": "0",
        "INCIDENTBOT_STALE_AFTER_SECONDS": "3",
        "INCIDENTBOT_LOG_FORMAT": "json",
        "SENTRY_CLIENT_SECRET": WEBHOOK_SECRET,
        "SENTRY_URL": sentry.url,
        "SENTRY_AUTH_TOKEN": SENTRY_TOKEN,
        "SENTRY_ORG": "acme",
    }
    running = Daemon(env, port)
    running.start()
    yield running
    running.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _until(condition: Callable[[], bool], message: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(message)


def _crash(repo: Path, dsn: str) -> None:
    """The demo shop crashes under the real sentry-sdk, which sends the event to incidentbot over HTTP."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "capture_event.py"), str(repo), dsn], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_real_sdk_events_become_one_thread_and_one_issue(
    daemon: Daemon, servers: tuple[FakeSlack, FakeGitHub], demo_repo: Path
) -> None:
    slack, github = servers
    _crash(demo_repo, daemon.dsn)
    _until(lambda: len(slack.roots()) == 1 and len(github.issues) == 1, "the first crash was not posted")
    assert github.issues[0].title == "KeyError: 'spring10' in apply_coupon"
    _crash(demo_repo, daemon.dsn)
    _until(lambda: len(github.issues[0].comments) == 1, "the second crash did not update the issue")
    _until(lambda: bool(slack.roots()[0].updates), "the second crash did not update the Slack message")
    assert len(slack.roots()) == 1 and len(github.issues) == 1
    assert "· 2 events ·" in json.dumps(slack.roots()[0].updates[-1]["blocks"], ensure_ascii=False)
    out = daemon.stop()
    assert "Traceback" not in out
    records = [json.loads(line) for line in out.splitlines() if line.strip()]  # structured: one JSON object a line
    assert any(r["message"].startswith("incidentbot listening on") for r in records)
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)


def test_ingest_checks_the_key_size_and_encoding(daemon: Daemon) -> None:
    event = {"event_id": "a" * 32, "exception": {"values": [{"type": "ValueError", "value": "x"}]}}
    body = json.dumps(event).encode()
    store = f"{daemon.url}/api/1/store/"
    assert httpx.post(store, content=body, headers={"X-Sentry-Auth": "Sentry sentry_key=wrong"}).status_code == 403
    assert httpx.post(store, content=body).status_code == 403
    ok = httpx.post(
        store,
        content=gzip.compress(body),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={KEY}", "Content-Encoding": "gzip"},
    )
    assert ok.status_code == 200 and ok.json() == {"id": "a" * 32}
    bomb = gzip.compress(b"{" + b" " * (5 * 1024 * 1024) + b"}")
    assert (
        httpx.post(
            store, content=bomb, headers={"X-Sentry-Auth": f"Sentry sentry_key={KEY}", "Content-Encoding": "gzip"}
        ).status_code
        == 413
    )
    assert httpx.post(store, content=b"not json", params={"sentry_key": KEY}).status_code == 400


def test_a_worker_killed_mid_post_posts_nothing_twice_after_a_restart(
    daemon: Daemon, servers: tuple[FakeSlack, FakeGitHub], demo_repo: Path
) -> None:
    slack, github = servers
    github.delays[("POST", "/repos/acme/shop/issues")] = 30  # GitHub creates the issue, then answers late
    _crash(demo_repo, daemon.dsn)
    _until(lambda: len(github.issues) == 1, "the worker never reached GitHub")
    daemon.stop(signal.SIGKILL)  # mid-post: the issue exists, incidentbot never learnt its number
    assert slack.roots() == []
    daemon.start()
    _until(lambda: len(slack.roots()) == 1, "the restarted daemon did not finish the event", timeout=90)
    time.sleep(1)
    assert len(github.issues) == 1 and len(github.calls("POST", "/repos/acme/shop/issues", exact=True)) == 1
    assert len(slack.roots()) == 1
    status = subprocess.run(
        [sys.executable, "-m", "incidentbot", "status"], env=daemon.env, capture_output=True, text=True
    )
    assert "1 done" in status.stdout, status.stdout


def _signed(body: bytes, secret: str = WEBHOOK_SECRET, age: float = 0) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Sentry-Hook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "Sentry-Hook-Timestamp": str(int(time.time() - age)),
    }


def test_webhooks_are_verified_and_forgeries_never_processed(
    daemon: Daemon, servers: tuple[FakeSlack, FakeGitHub], sentry: FakeSentry, demo_repo: Path, tmp_path: Path
) -> None:
    slack, github = servers
    event_file = tmp_path / "event.json"
    subprocess.run([sys.executable, str(EXAMPLES / "capture_event.py"), str(demo_repo), str(event_file)], check=True)
    sdk_event = json.loads(event_file.read_text())
    url = f"{daemon.url}/webhooks/sentry"
    forged = json.dumps({"action": "created", "data": {"error": sdk_event}}).encode()
    headers = {**_signed(forged, secret="wrong-secret"), "Sentry-Hook-Resource": "error"}
    assert httpx.post(url, content=forged, headers=headers).status_code == 401
    replayed = {**_signed(forged, age=3600), "Sentry-Hook-Resource": "error"}
    assert httpx.post(url, content=forged, headers=replayed).status_code == 401
    time.sleep(1)
    assert github.issues == [] and slack.roots() == []  # nothing from the forgeries was processed
    sentry.add_issue("shop", "4242", "2026-11-24T10:00:00Z", rest_event(sdk_event, "b" * 32, "4242"))
    issue_hook = json.dumps(
        {"action": "created", "data": {"issue": {"id": "4242", "web_url": "https://sentry.example/issues/4242/"}}}
    ).encode()
    done = httpx.post(url, content=issue_hook, headers={**_signed(issue_hook), "Sentry-Hook-Resource": "issue"})
    assert done.status_code == 200 and done.json() == {"queued": True}
    _until(lambda: len(github.issues) == 1, "the webhook's issue was not posted")
    assert sentry.calls("GET", "/api/0/issues/4242/events/latest/")
    # The event's URL is event-derived text: shown in code, never as a link (docs/destinations.md).
    assert "Source: `https://sentry.example/issues/4242/`" in github.issues[0].body


def test_sigterm_lets_the_worker_finish_what_it_holds(
    daemon: Daemon, servers: tuple[FakeSlack, FakeGitHub], demo_repo: Path
) -> None:
    slack, github = servers
    github.delays[("POST", "/repos/acme/shop/issues")] = 3  # the post is under way when SIGTERM comes
    _crash(demo_repo, daemon.dsn)
    _until(lambda: len(github.issues) == 1, "the worker never reached GitHub")
    out = daemon.stop(signal.SIGTERM)
    assert daemon.process is not None and daemon.process.returncode == 0, out
    assert len(slack.roots()) == 1  # the batch in hand was finished (GitHub, then Slack) before the exit
    assert "Traceback" not in out


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``, read from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal and /proc are Linux's")
def test_workers_exit_when_the_daemon_is_killed(daemon: Daemon) -> None:
    assert daemon.process is not None
    workers = _children(daemon.process.pid)
    assert workers, "incidentbot run started no worker process"
    daemon.stop(signal.SIGKILL)
    _until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived its parent", 15)
