"""Sentry events, in both shapes: what the SDKs send and what the REST API returns.

SDK shape: ``exception.values[].stacktrace.frames[]`` (or ``threads.values[]`` when there is no exception),
``release``, ``environment``, ``timestamp``, ``tags``. REST shape: ``entries[]`` with ``type: "exception"``,
``dateCreated``, ``groupID``, ``tags: [{key, value}]``. Lenient by design: nulls, wrong types and missing keys
are skipped with a warning, never a crash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.settings import Limits

_MAX_VAR_CHARS = 500
_MAX_MESSAGE_CHARS = 16_384  # an exception's message
_PLATFORMS = {
    "python": "python",
    "javascript": "javascript",
    "node": "javascript",
    "java": "java",
    "go": "go",
    "ruby": "ruby",
}


def looks_like_event(data: object) -> bool:
    return isinstance(data, dict) and any(key in data for key in ("exception", "entries", "threads"))


def parse_event(data: dict[str, Any], limits: Limits) -> Trace | None:
    """A Trace from a decoded Sentry event, or None when it holds no exception or stack."""
    warnings: list[str] = []
    values = _exception_values(data, warnings)
    if len(values) > limits.max_exceptions:  # the last raised are kept; the rest is never read
        warnings.append(f"{len(values)} chained exceptions: kept the last {limits.max_exceptions} raised")
        values = values[-limits.max_exceptions :]
    exceptions = [exc for exc in (_exception(v, limits, warnings) for v in values) if exc is not None]
    if not exceptions:
        return None
    for i in range(len(exceptions) - 1):
        exceptions[i] = _with_relation(exceptions[i])
    release = data.get("release")
    if isinstance(release, dict):
        release = release.get("version")
    return Trace(
        exceptions=tuple(exceptions),
        language=_PLATFORMS.get(str(data.get("platform") or "").lower(), "unknown"),
        source="sentry-api" if "entries" in data else "sentry-event",
        source_id=_text(data.get("groupID") or data.get("event_id") or data.get("eventID") or data.get("id")),
        url=_text(data.get("web_url") or data.get("permalink")),
        release=_text(release),
        environment=_text(data.get("environment")) or _tag(data, "environment"),
        first_seen=_time(data.get("dateCreated") or data.get("timestamp") or data.get("firstSeen")),
        tags=_tags(data.get("tags")),
        warnings=tuple(warnings),
        redactions=_count(data.get("incidentbot_redactions")),
    )


def _with_relation(exc: ExceptionInfo) -> ExceptionInfo:
    from dataclasses import replace

    return replace(exc, relation="cause")


def _exception_values(data: dict[str, Any], warnings: list[str]) -> list[Any]:
    exception = data.get("exception")
    if isinstance(exception, dict):
        values = exception.get("values")
        if isinstance(values, list):
            return values
    if isinstance(exception, list):
        return exception
    entries = data.get("entries")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("type") == "exception" and isinstance(entry.get("data"), dict):
            values = entry["data"].get("values")
            if isinstance(values, list):
                return values
    threads = data.get("threads")
    if isinstance(threads, dict):
        threads = threads.get("values")
    if isinstance(threads, list):
        crashed = [t for t in threads if isinstance(t, dict) and (t.get("crashed") or t.get("current"))]
        for thread in crashed or threads[:1]:
            if isinstance(thread, dict):
                return [
                    {
                        "type": "ThreadStack",
                        "value": str(thread.get("name") or ""),
                        "stacktrace": thread.get("stacktrace"),
                    }
                ]
    if exception is not None:
        warnings.append("the event's exception has an unexpected shape; it was skipped")
    return []


def _exception(value: Any, limits: Limits, warnings: list[str]) -> ExceptionInfo | None:
    if not isinstance(value, dict):
        warnings.append("an exception entry that is not an object was skipped")
        return None
    stack = value.get("stacktrace") or value.get("rawStacktrace") or {}
    raw_frames = stack.get("frames") if isinstance(stack, dict) else None
    raw_frames = raw_frames if isinstance(raw_frames, list) else []
    if len(raw_frames) > limits.max_frames:  # the innermost are kept; the rest is never read
        warnings.append(f"{len(raw_frames)} frames: kept the {limits.max_frames} nearest the raise")
        raw_frames = raw_frames[-limits.max_frames :]
    frames = [f for f in (_frame(r, limits.max_line_chars) for r in raw_frames) if f]
    return ExceptionInfo(
        type=_text(value.get("type"), limits.max_line_chars) or "Error",
        value=_text(value.get("value"), _MAX_MESSAGE_CHARS) or "",
        module=_text(value.get("module"), limits.max_line_chars),
        frames=tuple(frames),
    )


def _frame(raw: Any, cap: int) -> Frame | None:
    if not isinstance(raw, dict):
        return None
    filename = _text(raw.get("filename"), cap) or _text(raw.get("abs_path"), cap) or _text(raw.get("absPath"), cap)
    if filename is None:
        filename = _text(raw.get("module"), cap) or "<unknown>"
    in_app = raw.get("in_app", raw.get("inApp"))
    context_line = _text(raw.get("context_line"), cap) or _context_from_api(raw, cap) or ""
    return Frame(
        filename=filename,
        abs_path=_text(raw.get("abs_path") or raw.get("absPath"), cap),
        function=_text(raw.get("function"), cap),
        module=_text(raw.get("module"), cap),
        lineno=_int(raw.get("lineno") if "lineno" in raw else raw.get("lineNo")),
        colno=_int(raw.get("colno") if "colno" in raw else raw.get("colNo")),
        context_line=context_line.strip() or None,
        pre_context=_lines(raw.get("pre_context"), cap, nearest_last=True),
        post_context=_lines(raw.get("post_context"), cap, nearest_last=False),
        in_app=in_app if isinstance(in_app, bool) else None,
        vars=_vars(raw.get("vars")),
    )


def _context_from_api(raw: dict[str, Any], cap: int) -> str | None:
    """The REST API gives ``context: [[lineno, text], …]``; pick the frame's own line."""
    context, lineno = raw.get("context"), raw.get("lineNo")
    if not isinstance(context, list):
        return None
    for item in context:
        if isinstance(item, list) and len(item) == 2 and item[0] == lineno and isinstance(item[1], str):
            return item[1][:cap].strip()
    return None


def _vars(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        return ()
    out = []
    for key, value in list(raw.items())[:100]:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        out.append((str(key)[:100], text[:_MAX_VAR_CHARS]))
    return tuple(out)


def _lines(raw: Any, cap: int, nearest_last: bool) -> tuple[str, ...]:
    """Up to 20 context lines, those nearest the frame's own line."""
    if not isinstance(raw, list):
        return ()
    return tuple(x[:cap] for x in (raw[-20:] if nearest_last else raw[:20]) if isinstance(x, str))


def _tags(raw: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, dict):
        return tuple((str(k), str(v)) for k, v in list(raw.items())[:100])
    pairs: list[tuple[str, str]] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and "key" in item:
            pairs.append((str(item["key"]), str(item.get("value"))))
        elif isinstance(item, list) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
    return tuple(pairs[:100])


def _tag(data: dict[str, Any], key: str) -> str | None:
    return next((value for name, value in _tags(data.get("tags")) if name == key), None)


def _text(value: Any, cap: int = 4096) -> str | None:
    """A scalar as text, cut at ``cap`` characters (every field of an event is bounded before any work)."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)[:cap]
    return text if text else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value) or None
    return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else 0


def _time(value: Any) -> datetime | None:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if isinstance(value, str) and value:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None
