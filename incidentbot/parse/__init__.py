"""Raw text → Trace. The format is sniffed: a Sentry event (JSON), a log of JSON lines with a traceback in a
field, or a text stack trace of Python (as CPython, IPython, pytest, rich or cleo/Poetry print it), Java/Kotlin,
Go, Ruby or JavaScript (the parser that reads the most frames wins). Limits are applied before any parsing work,
so a huge or hostile input stays cheap.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from incidentbot.errors import ParseError
from incidentbot.models import Trace
from incidentbot.parse import cleo_trace, ipython, pytest_report, python, rich_traceback, stacks
from incidentbot.parse.sentry_event import looks_like_event, parse_event
from incidentbot.settings import Limits

_ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|\x1b\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)")
_TRACE_MARKERS = ("Traceback (most recent call last)", "\n    at ", "\n\tat ", "goroutine ", ":in `", ":in '")
_MAX_JSON_DEPTH = 8  # fields searched for an embedded trace in a JSON log record
_MAX_JSON_NESTING = 200  # deeper arrays and objects are dropped before decoding (Python's decoder recurses)


def parse_trace(text: str, limits: Limits | None = None) -> Trace:
    """The trace in ``text``; ParseError with what to pass instead when nothing is recognised."""
    limits = limits or Limits()
    # JSON (a Sentry event, as the SDKs send it on one long line) is read before lines are cut for text parsing.
    is_json = text.lstrip("\ufeff \t\r\n").startswith(("{", "["))
    text, warnings = _prepare(text, limits, cut_lines=not is_json)
    trace = _parse_json(text, limits) if is_json else None
    if trace is None:
        trace = _parse_text(text, limits)
    if trace is None:
        raise ParseError(
            "no stack trace recognised in the input",
            "pass a Python, JavaScript, Java, Go or Ruby stack trace, or a Sentry event JSON",
        )
    return _limit(replace(trace, warnings=tuple(warnings) + trace.warnings), limits)


def _prepare(text: str, limits: Limits, cut_lines: bool = True) -> tuple[str, list[str]]:
    warnings = []
    if len(text) > limits.max_input_bytes:
        warnings.append(f"input cut to its first {limits.max_input_bytes} characters")
        text = text[: limits.max_input_bytes]
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\0" in text:
        text = text.replace("\0", "")
    lines = text.split("\n")
    if cut_lines and any(len(line) > limits.max_line_chars for line in lines):
        warnings.append(f"lines longer than {limits.max_line_chars} characters were cut")
        text = "\n".join(line[: limits.max_line_chars] for line in lines)
    return text, warnings


def _parse_text(text: str, limits: Limits) -> Trace | None:
    if len(text) > limits.max_line_chars:  # no text parser sees a line longer than the limit (JSON text included)
        text = "\n".join(line[: limits.max_line_chars] for line in text.split("\n"))
    candidates = []
    if python.sniff(text):
        candidates.append(python.parse(text, limits))
    if ipython.sniff(text):
        candidates.append(ipython.parse(text, limits))
    if pytest_report.sniff(text):
        candidates.append(pytest_report.parse(text, limits))
    if rich_traceback.sniff(text):
        candidates.append(rich_traceback.parse(text, limits))
    if cleo_trace.sniff(text):
        candidates.append(cleo_trace.parse(text, limits))
    for _, parser in stacks.TEXT_PARSERS:
        candidates.append(parser(text, limits))
    found = [c for c in candidates if c is not None]
    if not found:
        return None
    # The reading with the most frames wins; Python (listed first) wins ties.
    return max(found, key=lambda t: sum(len(e.frames) for e in t.exceptions))


def _parse_json(text: str, limits: Limits) -> Trace | None:
    try:
        data: Any = json.loads(text)
    except RecursionError:
        # Nesting deeper than Python's decoder goes (a hostile ``vars`` value): cut it, keep the rest.
        try:
            data = json.loads(_flatten_deep_json(text, _MAX_JSON_NESTING))
        except (ValueError, RecursionError):
            return _parse_json_lines(text, limits)
    except ValueError:
        return _parse_json_lines(text, limits)
    if isinstance(data, list):
        data = next((item for item in data if isinstance(item, dict)), None)
    if not isinstance(data, dict):
        return None
    if looks_like_event(data):
        return parse_event(data, limits)
    return _parse_text("\n".join(_embedded_traces(data, 0)), limits)


def _flatten_deep_json(text: str, max_depth: int) -> str:
    """The JSON text with every array or object nested deeper than ``max_depth`` replaced by ``null``.

    One linear pass that follows strings and escapes; the result is only as valid as the input was."""
    out: list[str] = []
    depth = 0
    skip_from: int | None = None  # the depth at which the part being dropped started
    in_string = escaped = False
    start = 0
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth and skip_from is None:
                out.append(text[start:index] + "null")
                skip_from = depth
        elif char in "]}":
            if skip_from is not None and depth == skip_from:
                skip_from = None
                start = index + 1
            depth -= 1
    if skip_from is None:
        out.append(text[start:])
    return "".join(out)


def _parse_json_lines(text: str, limits: Limits) -> Trace | None:
    """A log of JSON objects, one a line, with a traceback in one of the fields."""
    found: list[str] = []
    for line in text.splitlines():
        if not line.lstrip().startswith("{"):
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            found.extend(_embedded_traces(record, 0))
    return _parse_text("\n".join(found), limits) if found else None


def _embedded_traces(value: Any, depth: int) -> list[str]:
    """String fields of a log record that hold a stack trace (exc_info, stack, error.stack, message …)."""
    if depth > _MAX_JSON_DEPTH:
        return []
    if isinstance(value, str):
        return [value] if any(marker in value for marker in _TRACE_MARKERS) else []
    if isinstance(value, dict):
        return [t for item in value.values() for t in _embedded_traces(item, depth + 1)]
    if isinstance(value, list):
        return [t for item in value[:50] for t in _embedded_traces(item, depth + 1)]
    return []


def _limit(trace: Trace, limits: Limits) -> Trace:
    warnings = list(trace.warnings)
    exceptions = trace.exceptions
    if len(exceptions) > limits.max_exceptions:
        warnings.append(f"{len(exceptions)} chained exceptions: kept the last {limits.max_exceptions} raised")
        exceptions = exceptions[-limits.max_exceptions :]
    capped = []
    for exc in exceptions:
        if len(exc.frames) > limits.max_frames:
            warnings.append(f"{len(exc.frames)} frames: kept the {limits.max_frames} nearest the raise")
            exc = replace(exc, frames=exc.frames[-limits.max_frames :])
        capped.append(exc)
    return replace(trace, exceptions=tuple(capped), warnings=tuple(dict.fromkeys(warnings)))
