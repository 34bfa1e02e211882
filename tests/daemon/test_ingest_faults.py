"""The ingest endpoints under faults, over real HTTP on 127.0.0.1: bodies over the limit are refused without
being read whole, compressed bodies cut short are refused, and a store that cannot take events shows in
/healthz and loses nothing that was acknowledged."""

from __future__ import annotations

import http.client
import json
import select
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from incidentbot.event_queue import EventQueue
from incidentbot.server import create_app
from incidentbot.settings import Settings
from incidentbot.store import Store, open_store

KEY = "ingestkey0123456789abcdef"
SECRET = "client-secret-0123456789"
LIMIT = 1024 * 1024  # the default max_event_bytes
SLACK = 512 * 1024  # what uvicorn may hand over in one chunk beyond the limit (its buffer and one socket read)

# The real sentry-sdk, in its own process, with its default transport (gzip-compressed envelopes over HTTP).
SDK_SCRIPT = """
import sys
import sentry_sdk
sentry_sdk.init(dsn=sys.argv[1], default_integrations=False)
try:
    raise ValueError(sys.argv[2])
except ValueError:
    sentry_sdk.capture_exception()
sentry_sdk.flush()
"""


def _sdk_send(dsn: str, message: str) -> None:
    done = subprocess.run([sys.executable, "-c", SDK_SCRIPT, dsn, message], capture_output=True, text=True)
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


def _until(condition: Callable[[], bool], message: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(message)


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
    _sdk_send(served.dsn, "the whole envelope")
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
