"""The ingest endpoints under faults, over real HTTP on 127.0.0.1: bodies over the limit are refused without
being read whole, compressed bodies cut short are refused, and a store that cannot take events shows in
/healthz and loses nothing that was acknowledged."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
import uvicorn
from sentry_sdk.envelope import Envelope

from incidentbot.service import ingest_buffer, server
from incidentbot.service.event_queue import EventQueue
from incidentbot.service.server import create_app
from incidentbot.settings import Settings
from incidentbot.store import Store, open_store
from tests.daemon.test_run import EXAMPLES, Daemon, _crash, _free_port, _healthy, _until
from tests.fakes.github_api import FakeGitHub
from tests.fakes.slack_api import FakeSlack
from tests.postgres import database_reachable, fresh_database
from tests.reporters.conftest import destination_variables

KEY = "ingestkey0123456789abcdef"
SECRET = "client-secret-0123456789"
LIMIT = 1024 * 1024  # the default max_event_bytes
SLACK = 512 * 1024  # what uvicorn may hand over in one chunk beyond the limit (its buffer and one socket read)

# The real sentry-sdk, in its own process, with its default transport: envelopes over HTTP, compressed with
# brotli when the brotli package is installed (as it is with incidentbot) and gzip otherwise; argv[3] chooses.
SDK_SCRIPT = """
import sys
import sentry_sdk
experiments = {"transport_compression_algo": sys.argv[3]} if len(sys.argv) > 3 else {}
sentry_sdk.init(dsn=sys.argv[1], default_integrations=False, _experiments=experiments)
try:
    raise ValueError(sys.argv[2])
except ValueError:
    sentry_sdk.capture_exception()
sentry_sdk.flush()
"""


# sentry-python 3 lives in a venv of its own (`make test` builds .venv-sentry3), since ours pins 2.x.
SENTRY3_PYTHON = os.environ.get("INCIDENTBOT_TEST_SENTRY3_PYTHON")


def _sdk_send(dsn: str, message: str, compression: str | None = None, python: str = sys.executable) -> None:
    argv = [python, "-c", SDK_SCRIPT, dsn, message, *([compression] if compression else [])]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytearray = field(default_factory=bytearray)
    status: int = 0


@dataclass
class Recorder:
    """ASGI middleware around the app: what each request's body delivered to the app, byte for byte."""

    app: Any
    requests: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = Seen(scope["path"], {k.decode().lower(): v.decode() for k, v in scope["headers"]})
        self.requests.append(seen)

        async def counting() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                seen.body += message.get("body", b"")
            return message

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen.status = message["status"]
            await send(message)

        await self.app(scope, counting, sending)


@dataclass
class Served:
    url: str
    port: int
    recorder: Recorder
    queue: EventQueue

    @property
    def dsn(self) -> str:
        return f"http://{KEY}@127.0.0.1:{self.port}/1"


@contextmanager
def _serving(settings: Settings, store: Store) -> Iterator[Served]:
    """create_app served by uvicorn in a thread of this process on a free port, as `incidentbot run` serves it."""
    queue = EventQueue(store, settings.redaction)
    recorder = Recorder(create_app(settings, queue))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(recorder, log_level="warning", log_config=None, lifespan="on", timeout_graceful_shutdown=10)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="test-uvicorn")
    thread.start()
    try:
        _until(lambda: server.started or not thread.is_alive(), "uvicorn did not start")
        assert thread.is_alive(), "uvicorn stopped at its start"
        yield Served(f"http://127.0.0.1:{port}", port, recorder, queue)
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def _settings(tmp_path: Path, database_url: str | None = None) -> Settings:
    return Settings(
        ingest_keys=(KEY,),
        sentry_client_secret=SECRET,
        state_dir=tmp_path / "state",
        database_url=database_url or f"sqlite:///{tmp_path / 'state.sqlite3'}",
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = _settings(tmp_path)
    store = open_store(settings.effective_database_url)
    try:
        with _serving(settings, store) as running:
            yield running
    finally:
        store.close()


# 7. Bodies over the limit are refused as soon as the limit is passed, never read whole.

ENDPOINTS = ["/api/1/envelope/", "/api/1/store/", "/webhooks/sentry"]


@dataclass
class Upload:
    status: int
    headers: dict[str, str]
    sent: int  # body bytes the client got onto the connection before the server answered
    closed: bool  # the server closed the connection after answering (it reads no more of the body)


def _chunked_upload(port: int, path: str, total: int) -> Upload:
    """POST ``total`` bytes with chunked transfer encoding (no Content-Length), sending while the server reads and
    stopping as soon as it answers, the way a careful client does."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (
            f"POST {path}?sentry_key={KEY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        piece = b"x" * 65536
        chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
        sent, pending, last = 0, b"", False
        sock.setblocking(False)
        while pending or not last:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                break  # the server answered: stop sending
            assert writable, "the server neither read nor answered for 30 s"
            if not pending:
                last = sent >= total
                pending = b"0\r\n\r\n" if last else chunk
                sent += 0 if last else len(piece)
            try:
                pending = pending[sock.send(pending) :]
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(30)
        with closing(http.client.HTTPResponse(sock)) as response:
            response.begin()
            response.read()
            try:
                closed = sock.recv(1) == b""
            except ConnectionResetError:
                closed = True
            return Upload(response.status, {k.lower(): v for k, v in response.getheaders()}, sent, closed)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_chunked_body_over_the_limit_is_refused_once_the_limit_is_passed(served: Served, path: str) -> None:
    total = 64 * 1024 * 1024
    upload = _chunked_upload(served.port, path, total)
    assert upload.status == 413
    consumed = [seen for seen in served.recorder.requests if seen.path == path]
    assert len(consumed) == 1
    taken = len(consumed[0].body)
    # The app stopped taking the body just past the limit, and the server closed the connection instead of
    # reading (and discarding) the rest: the client never got to send most of it.
    assert taken <= LIMIT + SLACK, taken
    assert upload.closed and upload.headers.get("connection") == "close"
    assert upload.sent < total // 4, upload.sent
    assert served.queue.depth() == {}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_content_length_over_the_limit_is_refused_before_reading(served: Served, path: str) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        head = (
            f"POST {path}?sentry_key={KEY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 * LIMIT}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"{")  # not one more byte: the answer must come without the body
        with closing(http.client.HTTPResponse(sock)) as response:
            response.begin()
            assert response.status == 413
            assert response.getheader("connection") == "close"
            assert b"over" in response.read()
    assert [len(seen.body) for seen in served.recorder.requests if seen.path == path] == [0]  # not even the "{"


def test_a_chunked_event_under_the_limit_is_taken(served: Served) -> None:
    event = {"event_id": "c" * 32, "exception": {"values": [{"type": "ValueError", "value": "x" * (LIMIT // 2)}]}}
    body = json.dumps(event).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 10_000):
            yield body[start : start + 10_000]

    answer = httpx.post(f"{served.url}/api/1/store/", content=chunks(), params={"sentry_key": KEY})
    assert answer.status_code == 200 and answer.json() == {"id": "c" * 32}
    assert served.queue.depth() == {"queued": 1}


# 8. A compressed body cut short (or with bytes after its end) is refused, not taken as the part that arrived.


def test_a_real_sdk_gzip_envelope_cut_short_is_refused(served: Served) -> None:
    _sdk_send(served.dsn, "the whole envelope", "gzip")
    sent = [seen for seen in served.recorder.requests if seen.path == "/api/1/envelope/"]
    assert len(sent) == 1 and sent[0].status == 200
    assert sent[0].headers.get("content-encoding") == "gzip"  # what sentry-python sends by default
    raw, headers = bytes(sent[0].body), {k: sent[0].headers[k] for k in ("content-encoding", "x-sentry-auth")}
    assert served.queue.depth() == {"queued": 1}
    cuts = {
        "no gzip trailer (CRC and size)": raw[:-8],
        "half the trailer": raw[:-4],
        "one byte short": raw[:-1],
        "half the body": raw[: len(raw) // 2],
        "trailing garbage": raw + b"garbage",
        "two copies": raw + raw,
    }
    for what, body in cuts.items():
        answer = httpx.post(f"{served.url}/api/1/envelope/", content=body, headers=headers)
        assert answer.status_code == 400, (what, answer.status_code, answer.text)
    assert served.queue.depth() == {"queued": 1}  # nothing new was queued from the broken bodies
    deflated = httpx.post(
        f"{served.url}/api/1/store/",
        content=zlib.compress(json.dumps({"event_id": "d" * 32}).encode())[:-2],
        headers={"Content-Encoding": "deflate", "X-Sentry-Auth": f"Sentry sentry_key={KEY}"},
    )
    assert deflated.status_code == 400


def test_a_real_sdk_brotli_envelope_is_taken_and_one_cut_short_or_inflating_past_the_limit_is_refused(
    served: Served,
) -> None:
    import brotli

    _sdk_send(served.dsn, "a brotli envelope")  # sentry-python's own choice, with brotli installed
    sent = [seen for seen in served.recorder.requests if seen.path == "/api/1/envelope/"]
    assert len(sent) == 1 and sent[0].headers.get("content-encoding") == "br"
    assert sent[0].status == 200 and served.queue.depth() == {"queued": 1}
    raw, headers = bytes(sent[0].body), {k: sent[0].headers[k] for k in ("content-encoding", "x-sentry-auth")}
    for body in (raw[:-1], raw[: len(raw) // 2], raw + b"garbage"):
        assert httpx.post(f"{served.url}/api/1/envelope/", content=body, headers=headers).status_code == 400
    bomb = brotli.compress(b"{" + b" " * (8 * LIMIT) + b"}")  # a few hundred bytes that inflate to 8 MiB
    answer = httpx.post(f"{served.url}/api/1/store/", content=bomb, headers=headers)
    assert answer.status_code == 413
    assert served.queue.depth() == {"queued": 1}


@pytest.mark.skipif(not SENTRY3_PYTHON, reason="run through `make test`, which builds a venv with sentry-sdk 3")
def test_an_event_from_sentry_python_3_is_taken(served: Served) -> None:
    assert SENTRY3_PYTHON is not None
    version = subprocess.run(
        [SENTRY3_PYTHON, "-c", "import sentry_sdk; print(sentry_sdk.VERSION)"], capture_output=True, text=True
    )
    assert version.stdout.startswith("3."), version
    _sdk_send(served.dsn, "sent by sentry-python 3", python=SENTRY3_PYTHON)
    sent = [seen for seen in served.recorder.requests if seen.path == "/api/1/envelope/"]
    assert len(sent) == 1 and sent[0].status == 200
    assert "sentry.python/3." in sent[0].headers.get("user-agent", "")
    payload = json.loads(served.queue.claim("test")[0].payload)
    (exception,) = payload["exception"]["values"]
    assert exception["type"] == "ValueError" and exception["value"] == "sent by sentry-python 3"
    assert exception["stacktrace"]["frames"], "the SDK's frames arrive"


# 5. A store that cannot be read or written shows in /healthz (503, naming the problem); ingest keeps what it
# acknowledges in the spool on disk and stores it once the store is back, without a restart.


class ReadOnlySwitch:
    """Makes the SQLite store read-only the way SQLite does for a file it may not write: connections opened while
    it is on cannot write (PRAGMA query_only: "attempt to write a readonly database") and stay so even after it is
    off, until the app drops them. (chmod would do it for another user; these tests may run as root.)"""

    def __init__(self, store: Store) -> None:
        self.store, self.on = store, False
        sqlalchemy.event.listen(store.engine, "connect", self._connect)

    def _connect(self, dbapi_conn: Any, _record: Any) -> None:
        if self.on:
            dbapi_conn.execute("PRAGMA query_only = ON")

    def turn_on(self) -> None:
        self.on = True
        self.store.engine.dispose()  # the file turned read-only: the connections opened from now on see it

    def turn_off(self) -> None:
        self.on = False  # the connections opened read-only stay read-only: the app must drop them itself


SECRET_IN_MESSAGE = "https://shop:hunter2-db-password@db.example/shop"  # redacted before anything is stored


def _health(served: Served) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(f"{served.url}/healthz", timeout=30)
    return answer.status_code, answer.json()


def _spooled(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state" / "ingest-spool").glob("*.jsonl"))


def test_a_read_only_store_is_unhealthy_and_ingest_recovers_without_a_restart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = open_store(settings.effective_database_url)
    switch = ReadOnlySwitch(store)
    try:
        with _serving(settings, store) as served:
            status, health = _health(served)
            assert (status, health["ok"]) == (200, True)
            switch.turn_on()
            status, health = _health(served)
            assert status == 503 and health["ok"] is False
            assert health["store"].startswith("the store cannot be written: attempt to write a readonly database")
            _sdk_send(served.dsn, f"could not reach {SECRET_IN_MESSAGE}")
            [sent] = [seen for seen in served.recorder.requests if seen.path == "/api/1/envelope/"]
            assert sent.status == 200  # acknowledged: it is in the spool, on disk
            assert served.queue.depth() == {}  # not in the store, which cannot be written
            [spool_file] = _spooled(tmp_path)
            assert "hunter2" not in spool_file.read_text()  # the spool holds the event redacted, like the store
            assert _health(served)[1]["spool"]["events"] == 1
            switch.turn_off()  # the file is writable again; nothing is restarted
            _until(lambda: _health(served)[0] == 200, "healthz did not recover once the store could be written")
            assert _health(served)[1]["store"] == "ok"
            _until(lambda: served.queue.depth() == {"queued": 1}, "the spooled event was not stored")
            assert _spooled(tmp_path) == [] and _health(served)[1]["spool"]["events"] == 0
            _sdk_send(served.dsn, "after the recovery")
            assert served.recorder.requests[-1].status == 200
            assert served.queue.depth() == {"queued": 2}
            payloads = [event.payload for event in served.queue.claim("test", 10)]
            assert any("could not reach" in payload for payload in payloads)
            assert not any("hunter2" in payload for payload in payloads)
    finally:
        store.close()


def test_spooled_events_are_stored_at_the_next_start(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = open_store(settings.effective_database_url)
    try:
        ReadOnlySwitch(store).turn_on()
        with _serving(settings, store) as served:
            _sdk_send(served.dsn, "kept across a restart")
            assert served.recorder.requests[-1].status == 200
            assert len(_spooled(tmp_path)) == 1
    finally:
        store.close()
    store = open_store(settings.effective_database_url)  # the next start, on a store that can be written
    try:
        with _serving(settings, store) as served:
            _until(lambda: served.queue.depth() == {"queued": 1}, "the spool was not drained at the start")
            assert _spooled(tmp_path) == []
            assert "kept across a restart" in served.queue.claim("test")[0].payload
    finally:
        store.close()


def test_when_the_spool_is_full_ingest_answers_503_with_retry_after_and_the_sdk_drops_the_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_buffer, "SPOOL_MAX_BYTES", 100)  # no event fits
    settings = _settings(tmp_path)
    store = open_store(settings.effective_database_url)
    switch = ReadOnlySwitch(store)
    try:
        with _serving(settings, store) as served:
            switch.turn_on()
            _sdk_send(served.dsn, "nowhere to keep it", "gzip")
            [event, report] = [seen for seen in served.recorder.requests if seen.path == "/api/1/envelope/"]
            assert event.status == 503
            # What sentry-python did with the 503: dropped the event, and said so in its next client report.
            [item] = Envelope.deserialize(gzip.decompress(report.body)).items
            assert item.type == "client_report"
            dropped = {"reason": "network_error", "category": "error", "quantity": 1}
            assert json.loads(item.payload.get_bytes())["discarded_events"] == [dropped]
            answer = httpx.post(
                f"{served.url}/api/1/store/", content=json.dumps({"event_id": "e" * 32}), params={"sentry_key": KEY}
            )
            assert answer.status_code == 503 and answer.headers["retry-after"] == str(server.RETRY_AFTER_SECONDS)
            assert "attempt to write a readonly database" in answer.json()["detail"]
            assert "spool is full" in answer.json()["detail"]
            switch.turn_off()
            _until(lambda: _health(served)[0] == 200, "healthz did not recover once the store could be written")
            # sentry-python sent the event once and dropped it: nothing came again, nothing is stored.
            assert len([seen for seen in served.recorder.requests if seen.path == "/api/1/envelope/"]) == 2
            assert served.queue.depth() == {}
            assert _spooled(tmp_path) == []
    finally:
        store.close()


def test_incidentbot_run_on_postgresql_spools_while_the_database_is_down_and_heals_without_a_restart(
    tmp_path: Path,
) -> None:
    """`incidentbot run` as deployed: the real sentry-sdk crash arrives while PostgreSQL refuses every connection
    (its sessions terminated); /healthz says so, the crash is kept, and once the database is back the daemon,
    never restarted, answers healthy again and posts the crash."""
    demo = tmp_path / "shop-repo"
    subprocess.run([sys.executable, str(EXAMPLES / "build_demo_repo.py"), str(demo)], check=True, capture_output=True)
    with fresh_database() as url, FakeSlack() as slack, FakeGitHub() as github:
        port = _free_port()
        env = {
            **os.environ,
            **destination_variables(slack, github),
            "INCIDENTBOT_REPO": str(demo),
            "INCIDENTBOT_PORT": str(port),
            "INCIDENTBOT_INGEST_KEYS": KEY,
            "INCIDENTBOT_DATABASE_URL": url,
            "INCIDENTBOT_SLACK_REPLY_MINUTES": "0",
            "INCIDENTBOT_GITHUB_COMMENT_MINUTES": "0",
        }
        daemon = Daemon(env, port)
        daemon.start()
        try:
            database_reachable(url, False)
            health = httpx.get(f"{daemon.url}/healthz", timeout=30)
            assert health.status_code == 503 and health.json()["ok"] is False
            assert "not currently accepting connections" in health.json()["store"], health.json()
            _crash(demo, daemon.dsn)  # the real SDK, to the DSN: the daemon keeps the crash in its spool
            assert httpx.get(f"{daemon.url}/healthz", timeout=30).json()["spool"]["events"] == 1
            assert slack.roots() == [] and github.issues == []
            database_reachable(url, True)
            _until(lambda: _healthy(daemon.url), "healthz did not recover once PostgreSQL took connections again")
            _until(lambda: len(slack.roots()) == 1 and len(github.issues) == 1, "the spooled crash was not posted")
            assert github.issues[0].title == "KeyError: 'spring10' in apply_coupon"
            assert httpx.get(f"{daemon.url}/healthz", timeout=30).json()["spool"]["events"] == 0
            out = daemon.stop()
            assert daemon.process is not None and daemon.process.returncode == 0, out
            assert "Traceback" not in out
        finally:
            database_reachable(url, True)
            daemon.close()
