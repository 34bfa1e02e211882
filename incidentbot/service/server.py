"""The daemon's HTTP endpoints: events from the real Sentry SDKs, and health.

``POST /api/{project}/envelope/`` and ``/api/{project}/store/`` speak the Sentry SDKs' protocol, so
``sentry_sdk.init(dsn="http://KEY@incidentbot-host:8080/1")`` sends errors straight here. The DSN's public key
must be one of ``ingest_keys`` (with none configured the endpoints answer 404). Bodies may be gzip, deflate or
brotli compressed (sentry-python sends brotli when the ``brotli`` package is installed); a body is read as it
streams in and refused (413) as soon as it passes ``max_event_bytes``, or at once when its Content-Length does,
and again after decompression; a compressed body must reach the end of its stream (a body cut short is refused,
400). The endpoint only queues the event and answers: triage happens
in the workers. An event is acknowledged once it is stored, or spooled to disk while the store cannot take it
(ingest_buffer.py); the answer is 503 with Retry-After only when neither can keep it. ``GET /healthz`` reads the
store and probes a write (rolled back), answering 503 with the problem when either fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
import zlib
from collections.abc import AsyncIterator
from typing import Any

from sentry_sdk.envelope import Envelope
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from incidentbot.service.event_queue import EventQueue
from incidentbot.service.ingest_buffer import IngestBuffer, StoreUnavailable
from incidentbot.service.sources.sentry_webhook import item_for, signature_ok
from incidentbot.settings import Settings

log = logging.getLogger(__name__)

_SENTRY_KEY = re.compile(r"sentry_key=([^,\s]+)")


RETRY_AFTER_SECONDS = 60  # the Retry-After of a 503: the store and the spool could not take the event
HEALTH_TIMEOUT_SECONDS = 5.0  # /healthz answers 503 when the store has not answered its look by then


class TooLarge(Exception):
    pass


def create_app(settings: Settings, queue: EventQueue) -> Starlette:
    keys = frozenset(settings.ingest_keys)
    limit = settings.max_event_bytes
    buffer = IngestBuffer(queue, settings.state_dir / "ingest-spool")
    probe: asyncio.Future[tuple[str | None, dict[str, int] | None]] | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        buffer.start()
        yield
        buffer.stop()

    def look() -> tuple[str | None, dict[str, int] | None]:
        problem = buffer.health()
        try:
            return problem, queue.depth()
        except Exception:  # the problem says why
            return problem, None

    async def healthz(request: Request) -> JSONResponse:
        # The store is asked from a thread (never from the event loop), one look at a time however many ask.
        nonlocal probe
        if probe is None or probe.done():
            probe = asyncio.ensure_future(asyncio.to_thread(look))
        try:
            problem, depth = await asyncio.wait_for(asyncio.shield(probe), HEALTH_TIMEOUT_SECONDS)
        except TimeoutError:
            problem, depth = f"the store did not answer within {HEALTH_TIMEOUT_SECONDS:g} s", None
        body = {"ok": problem is None, "store": problem or "ok", "queue": depth, "spool": buffer.spool.stats()}
        return JSONResponse(body, status_code=200 if problem is None else 503)

    async def envelope(request: Request) -> JSONResponse:
        return await _ingest(request, keys, limit, buffer, envelope=True)

    async def store(request: Request) -> JSONResponse:
        return await _ingest(request, keys, limit, buffer, envelope=False)

    secret = settings.sentry_client_secret.get_secret_value() if settings.sentry_client_secret else None

    async def webhook(request: Request) -> JSONResponse:
        if secret is None:
            return _error(404, "webhooks are off: set SENTRY_CLIENT_SECRET")
        try:
            body = await _read_body(request, limit)
        except TooLarge:
            return _too_large(limit)
        except ClientDisconnect:
            return _error(400, "the client went away before the end of the body")
        headers = request.headers
        if not signature_ok(secret, body, headers.get("sentry-hook-signature"), headers.get("sentry-hook-timestamp")):
            log.warning(
                "webhook: rejected a request with a bad signature from %s",
                request.client.host if request.client else "?",
            )
            return _error(401, "bad signature")
        try:
            payload = json.loads(body)
        except ValueError:
            return _error(400, "not JSON")
        item = item_for(headers.get("sentry-hook-resource", ""), payload) if isinstance(payload, dict) else None
        if item is not None:
            refused = await _queue(buffer, "sentry-webhook", item.source_event_id, item.payload)
            if refused is not None:
                return refused
        return JSONResponse({"queued": item is not None})

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/healthz", healthz),
            Route("/webhooks/sentry", webhook, methods=["POST"]),
            Route("/api/{project}/envelope/", envelope, methods=["POST"]),
            Route("/api/{project}/store/", store, methods=["POST"]),
        ],
    )


async def _ingest(
    request: Request, keys: frozenset[str], limit: int, buffer: IngestBuffer, envelope: bool
) -> JSONResponse:
    if not keys:
        return _error(404, "ingest is off: set INCIDENTBOT_INGEST_KEYS")
    try:
        raw = await _read_body(request, limit)
    except TooLarge:
        return _too_large(limit)
    except ClientDisconnect:
        return _error(400, "the client went away before the end of the body")
    try:
        body = _decompress(raw, request.headers.get("content-encoding", ""), limit)
    except TooLarge:
        return _error(413, f"body over {limit} bytes when decompressed")
    except (OSError, zlib.error, EOFError) as exc:
        return _error(400, f"body is not valid gzip, deflate or brotli: {exc}")
    try:
        events, dsn = _events(body, envelope)
    except (ValueError, UnicodeDecodeError, TypeError):
        return _error(400, "not a Sentry event or envelope")
    key = _key(request, dsn)
    if key not in keys:
        log.warning(
            "ingest: rejected an event with an unknown key from %s", request.client.host if request.client else "?"
        )
        return _error(403, "unknown DSN public key")
    accepted = None
    for event in events:
        event_id = str(event.get("event_id") or uuid.uuid4().hex)
        refused = await _queue(buffer, "sentry-ingest", event_id, json.dumps(event))
        if refused is not None:
            return refused
        accepted = event_id
    return JSONResponse({"id": accepted})


async def _queue(buffer: IngestBuffer, source: str, event_id: str, payload: str) -> JSONResponse | None:
    """None once the event is stored (or spooled); else the answer that says it was not."""
    try:
        await buffer.add(source, event_id, payload)
    except StoreUnavailable as exc:
        # sentry-python drops an event answered 503 (it retries nothing, and honours Retry-After only on 429):
        # this answer comes only once the spool is full or unwritable too. docs/daemon.md says what each SDK does.
        return JSONResponse(
            {"detail": f"the store cannot take events now: {exc}"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    except Exception as exc:  # the store refused this event for itself (logged by the writer)
        return _error(500, f"the store refused the event: {type(exc).__name__}")
    return None


def _events(body: bytes, envelope: bool) -> tuple[list[dict[str, Any]], str | None]:
    if not envelope:
        event = json.loads(body)
        if not isinstance(event, dict):
            raise ValueError("an event is a JSON object")
        return [event], None
    parsed = Envelope.deserialize(body)
    events = [
        item.payload.json for item in parsed.items if item.type == "event" and isinstance(item.payload.json, dict)
    ]
    return events, parsed.headers.get("dsn")


def _key(request: Request, dsn: str | None) -> str | None:
    """The DSN public key, from the X-Sentry-Auth header, the sentry_key query parameter, or the envelope's DSN."""
    auth = request.headers.get("x-sentry-auth", "")
    match = _SENTRY_KEY.search(auth)
    if match:
        return match[1]
    if request.query_params.get("sentry_key"):
        return request.query_params["sentry_key"]
    if dsn and "@" in dsn:
        return dsn.split("://", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return None


def _unbrotli(raw: bytes, limit: int) -> bytes:
    """Brotli, which sentry-python sends whenever the ``brotli`` package is installed beside it: capped while
    decompressing, and whole (the stream must reach its end)."""
    import brotli  # type: ignore[import-untyped]

    decompressor = brotli.Decompressor()
    try:
        out: bytes = decompressor.process(raw, output_buffer_limit=limit + 1)
    except brotli.error as exc:
        raise OSError(f"not valid brotli: {exc}") from exc
    if len(out) > limit or not decompressor.can_accept_more_data():
        raise TooLarge()
    if not decompressor.is_finished():
        raise EOFError("the br stream ends before its end (cut short)")
    return out


def _decompress(raw: bytes, encoding: str, limit: int) -> bytes:
    encoding = encoding.lower().strip()
    if encoding in ("", "identity"):
        return raw
    if encoding == "br":
        return _unbrotli(raw, limit)
    if encoding not in ("gzip", "deflate"):
        raise OSError(f"unsupported content encoding {encoding}")
    # A small body can inflate to gigabytes: never decompress more than the limit.
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(raw, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge()
    # A stream cut short inflates without error to the part that arrived: only its end proves it whole (gzip's
    # trailer carries the CRC and the length).
    if not inflater.eof:
        raise EOFError(f"the {encoding} stream ends before its end (cut short)")
    if inflater.unused_data:
        raise OSError(f"{len(inflater.unused_data)} bytes after the end of the {encoding} stream")
    return out


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, streamed: TooLarge as soon as more than ``limit`` bytes arrived, or at once when the
    Content-Length says so, so a request never holds more than about the limit in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge()
    body = bytearray()
    async with contextlib.aclosing(request.stream()) as chunks:
        async for chunk in chunks:
            body += chunk
            if len(body) > limit:
                raise TooLarge()
    return bytes(body)


def _too_large(limit: int) -> JSONResponse:
    # Connection: close makes the server drop the connection after the answer instead of reading (and
    # discarding) the rest of the body.
    return JSONResponse({"detail": f"body over {limit} bytes"}, status_code=413, headers={"Connection": "close"})


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)
