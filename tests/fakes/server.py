"""A real HTTP server on 127.0.0.1 in a thread, recording every request, with faults on demand.

Subclasses implement ``handle(request) -> Response``; tests read ``requests`` to assert on what the real client
libraries actually sent, and call ``fail_next`` to make the next matching request fail (429, 5xx, …).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON or form, else the raw text

    def json(self) -> Any:
        return self.body


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (the request has been handled already)
    trickle: float = 0.0  # seconds between the body's bytes, after the headers: a server that never quite answers


@dataclass
class _Fault:
    method: str
    path: str
    response: Response
    times: int


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: list[_Fault] = []
        self._closing = threading.Event()
        # (method, path) → seconds: the next answer to that request comes this late (it was handled already).
        self.delays: dict[tuple[str, str], float] = {}
        self._lock = threading.RLock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                owner._serve(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll: shutdown() waits for the loop's next poll, 0.5 s by default, at every test's end.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, method: str, path: str, response: Response, times: int = 1) -> None:
        """The next ``times`` requests (``method`` "*": of any method) whose path contains ``path`` get
        ``response`` instead of an answer."""
        with self._lock:
            self._faults.append(_Fault(method.upper(), path, response, times))

    def clear_faults(self) -> None:
        """The fault is over: every request is answered again."""
        with self._lock:
            self._faults.clear()

    def calls(self, method: str, path_part: str = "", exact: bool = False) -> list[Request]:
        """The requests made with ``method`` to paths containing (or, ``exact``, equal to) ``path_part``."""
        return [
            r
            for r in self.requests
            if r.method == method.upper() and (r.path == path_part if exact else path_part in r.path)
        ]

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        content_type = handler.headers.get("Content-Type", "")
        body: Any = raw
        if raw and "json" in content_type:
            body = json.loads(raw)
        elif raw and "form" in content_type:
            body = {k: v[0] for k, v in parse_qs(raw).items()}
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        request = Request(handler.command, parts.path, query, dict(handler.headers.items()), body)
        with self._lock:
            self.requests.append(request)
            response = self._fault_for(request) or self.handle(request)
            if self.delays:
                response.delay = self.delays.pop((request.method, request.path), response.delay)
        if response.delay:
            time.sleep(response.delay)
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        handler.send_response(response.status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in response.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        try:
            if not response.trickle:
                handler.wfile.write(payload)
                return
            for byte in payload:
                if self._closing.wait(response.trickle):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what a deadline is for

    def _fault_for(self, request: Request) -> Response | None:
        for fault in self._faults:
            if fault.method in ("*", request.method) and fault.path in request.path and fault.times > 0:
                fault.times -= 1
                return fault.response
        return None
