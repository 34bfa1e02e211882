"""Text stack traces of Node/V8 and browsers, Java/Kotlin, Go and Ruby.

These print the innermost frame first; each parser reverses them to the model's outermost-first order. Every
regular expression is anchored and free of nested quantifiers, so hostile input costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.settings import Limits

# ---- JavaScript ------------------------------------------------------------------------------------------
_V8_FRAME = re.compile(
    r"^\s*at (?:(?:async |new )?(?P<func>[^()]+?) \()?(?P<loc>[^()]+?):(?P<line>\d+)(?::(?P<col>\d+))?\)?\s*$"
)
_GECKO_FRAME = re.compile(r"^\s*(?P<func>[^@\s]*)@(?P<loc>.+?):(?P<line>\d+)(?::(?P<col>\d+))?\s*$")
_JS_ERROR = re.compile(
    r"^\s*(?:Uncaught )?(?:\[cause\]: )?(?P<type>[A-Z]\w*(?:Error|Exception)|Error)(?: \[\w+\])?(?::\s?(?P<msg>.*))?$"
)
# ---- Java / Kotlin ---------------------------------------------------------------------------------------
_JAVA_FRAME = re.compile(r"^\s*at (?P<cls>[\w$.<>/]+)\.(?P<meth>[\w$<>\-]+)\((?P<loc>[^)]*)\)")
_JAVA_ERROR = re.compile(
    r"^(?:Exception in thread \"[^\"]*\" |Caused by: |\s*Suppressed: )?"
    r"(?P<type>[a-zA-Z_$][\w$]*(?:\.[\w$]+)+)(?::\s?(?P<msg>.*))?$"
)
_JAVA_MORE = re.compile(r"^\s*\.\.\. (\d+) (?:more|common frames omitted)\s*$")
# ---- Go ----------------------------------------------------------------------------------------------------
_GO_PANIC = re.compile(r"^(?:panic|fatal error): (?P<msg>.*)$")
_GO_GOROUTINE = re.compile(r"^goroutine \d+ \[[^\]]*\]:\s*$")
_GO_FUNC = re.compile(r"^(?P<func>[\w./*()\-\[\]{}]+)\(.*\)\s*$")
_GO_LOC = re.compile(r"^\s+(?P<path>\S+?):(?P<line>\d+)(?: \+0x[0-9a-f]+)?\s*$")
# Sentry's raw view of a Go event: ``Type: value`` over the frames, innermost first, with no goroutine header.
_GO_SUMMARY = re.compile(r"^(?P<type>[\w.*\[\]]+): (?P<msg>.*)$")
# ---- Ruby --------------------------------------------------------------------------------------------------
_RUBY_FIRST = re.compile(
    r"^(?P<path>[^:\s][^:]*):(?P<line>\d+):in [`'](?P<func>[^']*)': (?P<msg>.*) \((?P<type>[\w:]+)\)\s*$"
)
_RUBY_FROM = re.compile(r"^\s+from (?P<path>[^:]+):(?P<line>\d+):in [`'](?P<func>[^']*)'\s*$")
# Sentry's raw view of a Ruby event: ``Type: value`` over ``from`` lines, innermost first.
_RUBY_SUMMARY = re.compile(r"^(?P<type>[A-Z]\w*(?:::[A-Z]\w*)*): (?P<msg>.*)$")


def parse_javascript(text: str, limits: Limits) -> Trace | None:
    exceptions: list[ExceptionInfo] = []
    current: tuple[str, str] | None = None
    frames: list[Frame] = []
    for line in text.splitlines():
        error = _JS_ERROR.match(line)
        frame = _V8_FRAME.match(line) or _GECKO_FRAME.match(line)
        if error and not frame:
            if current is not None:
                exceptions.append(_exc(current, frames))
            current, frames = (error["type"], (error["msg"] or "").strip()), []
        elif frame and "://" not in (frame["func"] or "") and (current is not None or frame.re is _V8_FRAME):
            func = (frame["func"] or "").strip() or None
            func = None if func in ("<anonymous>", "?", "") else func  # Sentry's raw view writes "?"
            frames.append(
                Frame(filename=frame["loc"], function=func, lineno=int(frame["line"]), colno=_opt(frame["col"]))
            )
    if current is None and not frames:
        return None
    exceptions.append(_exc(current or ("Error", ""), frames))
    # "[cause]:" chains print the wrapper first; chronologically the cause came first.
    return _trace(list(reversed(exceptions)), "javascript", limits)


def parse_java(text: str, limits: Limits) -> Trace | None:
    blocks: list[tuple[tuple[str, str], list[Frame]]] = []
    for line in text.splitlines():
        frame = _JAVA_FRAME.match(line)
        if frame and blocks:
            blocks[-1][1].append(_java_frame(frame))
            continue
        more = _JAVA_MORE.match(line)
        if more and len(blocks) > 1:
            # "... N more": the N outermost frames are those of the enclosing trace.
            shared = blocks[0][1][-int(more.group(1)) :] if int(more.group(1)) else []
            blocks[-1][1].extend(shared)
            continue
        error = _JAVA_ERROR.match(line.strip()) if not line.startswith("\tat") else None
        if error and ("." in error["type"]) and not line.lstrip().startswith("at "):
            blocks.append(((error["type"], (error["msg"] or "").strip()), []))
    if not blocks or not any(frames for _, frames in blocks):
        return None
    # Printed wrapper first, root cause last; chronologically the root cause comes first.
    exceptions = [_exc(head, frames) for head, frames in reversed(blocks)]
    return _trace(exceptions, "java", limits)


def _java_frame(match: re.Match[str]) -> Frame:
    loc = match["loc"]
    filename, _, line = loc.partition(":")
    if filename in ("Native Method", "Unknown Source", ""):
        filename = match["cls"].split("$")[0].rsplit(".", 1)[-1] + ".java"
    return Frame(filename=filename, module=match["cls"], function=match["meth"], lineno=_opt(line))


def parse_go(text: str, limits: Limits) -> Trace | None:
    lines = text.splitlines()
    raw_view = not any(_GO_GOROUTINE.match(line) for line in lines)
    head: tuple[str, str] | None = None
    frames: list[Frame] = []
    goroutines, pending = 0, None
    for line in lines:
        if head is None and not frames and (panic := _GO_PANIC.match(line)):
            head = ("panic", panic["msg"])
            continue
        if raw_view and head is None and not frames and (summary := _GO_SUMMARY.match(line)):
            head = (summary["type"], summary["msg"])
            continue
        if _GO_GOROUTINE.match(line):
            goroutines += 1
            continue
        if goroutines != 1 and not raw_view:
            continue  # the first goroutine is the one that panicked
        loc = _GO_LOC.match(line)
        if loc and pending is not None:
            frames.append(Frame(filename=loc["path"], function=pending, lineno=int(loc["line"])))
            pending = None
            continue
        func = _GO_FUNC.match(line)
        if func:
            pending = func["func"]
    if head is None or not frames:
        return None
    warnings = (f"{goroutines - 1} other goroutine(s) were ignored",) if goroutines > 1 else ()
    trace = _trace([_exc(head, frames)], "go", limits)
    return _add_warnings(trace, warnings)


def parse_ruby(text: str, limits: Limits) -> Trace | None:
    head: tuple[str, str] | None = None
    frames: list[Frame] = []
    for line in text.splitlines():
        if not frames and (first := _RUBY_FIRST.match(line)):
            head = (first["type"], first["msg"])
            frames.append(Frame(filename=first["path"], function=first["func"], lineno=int(first["line"])))
        elif not frames and (summary := _RUBY_SUMMARY.match(line)):
            head = (summary["type"], summary["msg"])
        elif head is not None and (follow := _RUBY_FROM.match(line)):
            frames.append(Frame(filename=follow["path"], function=follow["func"], lineno=int(follow["line"])))
    if head is None or not frames:
        return None
    return _trace([_exc(head, frames)], "ruby", limits)


def _exc(head: tuple[str, str], innermost_first: list[Frame]) -> ExceptionInfo:
    return ExceptionInfo(type=head[0], value=head[1], frames=tuple(reversed(innermost_first)))


def _trace(exceptions: list[ExceptionInfo], language: str, limits: Limits) -> Trace:
    from dataclasses import replace

    chained = [replace(e, relation="cause") if i < len(exceptions) - 1 else e for i, e in enumerate(exceptions)]
    return Trace(exceptions=tuple(chained), language=language)


def _add_warnings(trace: Trace, warnings: tuple[str, ...]) -> Trace:
    from dataclasses import replace

    return replace(trace, warnings=trace.warnings + warnings)


def _opt(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and int(value) > 0 else None


TEXT_PARSERS: tuple[tuple[str, Callable[[str, Limits], Trace | None]], ...] = (
    ("java", parse_java),
    ("go", parse_go),
    ("ruby", parse_ruby),
    ("javascript", parse_javascript),
)
