"""Failures as pytest reports them (``--tb=auto``, the default, and ``long`` and ``short``), which users paste
from CI logs into issues and which carry no ``File "…", line N`` lines for CPython's parser.

``--tb=short`` (and the middle entries of ``auto``) name each frame on a line of its own, its source below::

    pkg/mod.py:6: in get_host_regex
        if re.match(r"x", domain):

``--tb=long`` (and the first and last entries of ``auto``) show the function's source up to the failing line,
marked ``>``, and name the file last; the function is the ``def`` that encloses the failing line::

        def compute(domains):
    >       return {}[domains[0]]
    E       KeyError: 'y'

    pkg/mod.py:13: KeyError

The exception is the first ``E`` line of a chunk; chained exceptions ("The above exception was the direct cause
…") are read as CPython's are. Only the first failing test of a report is read; a warning says how many more
there are. Anchored regular expressions without nested quantifiers, one line at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from incidentbot.models import Frame, Trace
from incidentbot.parse.python import CAUSE, CONTEXT, EXCEPTION_LINE, chain_exceptions
from incidentbot.settings import Limits

# ``path:LINE: in function`` (short) or ``path:LINE: [Type[: message]]`` (long, and ``--tb=line``).
_LOCATION = re.compile(
    r"^(?P<path>(?:[A-Za-z]:[\\/])?[^\s:][^:]*):(?P<line>\d+):"
    r"(?: in (?P<func>\S+)| (?P<type>[^\W\d][\w.]*)(?::\s?(?P<msg>.*))?)?\s*$"
)
_SECTION = re.compile(r"^(?:={3,}|-{3,} )")  # ==== summary ====, ---- Captured stdout call ---- end a traceback
_ENTRY_SEPARATOR = re.compile(r"^_(?: _)+\s*$")  # _ _ _ _ between entries of one traceback
_ERROR_LINE = re.compile(r"^E(?:\s|$)")
_DEF = re.compile(r"^(?:async\s+)?def\s+(?P<name>[^\W\d]\w*)\s*\(")
_MAX_MESSAGE_LINES = 40


def sniff(text: str) -> bool:
    """A pytest location line (``….py:N: …``) and an ``E`` line that reports the exception."""
    return ".py:" in text and "\nE " in "\n" + text and any(_LOCATION.match(line) for line in text.splitlines())


@dataclass
class _Chunk:
    """One exception of the failure: its frames and ``E`` lines, and how it relates to the next one."""

    frames: list[Frame] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    located_type: str | None = None  # the type a long entry's location line names (``mod.py:13: KeyError``)
    relation: str | None = None

    @property
    def type(self) -> str | None:
        """The first ``E`` line's ``Type: message``, else the location line's type (a bare ``assert``)."""
        first = EXCEPTION_LINE.match(self.errors[0]) if self.errors else None
        return first["type"] if first and first["msg"] is not None else self.located_type

    @property
    def message(self) -> list[str]:
        first = EXCEPTION_LINE.match(self.errors[0]) if self.errors else None
        if first and first["msg"] is not None:
            return [first["msg"].strip(), *self.errors[1:]]
        return self.errors


def parse(text: str, limits: Limits) -> Trace | None:
    failures = _failures(text.splitlines())
    if not failures:
        return None
    chunks = [c for c in _read_chunks(failures[0]) if c.frames]
    if not chunks:
        return None
    warnings = (f"{len(failures)} failing tests in the input: read the first",) if len(failures) > 1 else ()
    return Trace(exceptions=chain_exceptions(chunks), language="python", warnings=warnings)


def _failures(lines: list[str]) -> list[list[str]]:
    """The lines of each failing test; the whole text is one failure when no ``____ test ____`` header is there."""
    failures: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        if _is_test_header(line.rstrip()):
            current = []
            failures.append(current)
        elif _SECTION.match(line):
            current = None
        elif current is not None:
            current.append(line)
    return failures or [lines]


def _is_test_header(text: str) -> bool:
    """``____ test_name ____`` opens one failure."""
    name = text.strip("_")
    return (
        text.startswith("___")
        and text.endswith("___")
        and name.startswith(" ")
        and name.endswith(" ")
        and bool(name.strip())
    )


def _read_chunks(lines: list[str]) -> list[_Chunk]:
    chunks = [_Chunk()]
    body: list[str] = []  # lines of a long entry, waiting for its location line
    expect_source = False  # the line after ``path:N: in f`` is that frame's source
    for line in lines:
        stripped = line.strip()
        chunk = chunks[-1]
        source_follows, expect_source = expect_source, False
        if source_follows and line.startswith("    ") and stripped:
            chunk.frames[-1] = replace(chunk.frames[-1], context_line=stripped)
        elif stripped in (CAUSE, CONTEXT):
            chunk.relation = "cause" if stripped == CAUSE else "context"
            chunks.append(_Chunk())
            body = []
        elif _ENTRY_SEPARATOR.match(line):
            body = []
        elif _ERROR_LINE.match(line):
            if len(chunk.errors) < _MAX_MESSAGE_LINES:
                chunk.errors.append(line[1:].strip())
        elif location := _LOCATION.match(line):
            chunk.frames.append(_frame(location, body))
            if location["type"]:
                chunk.located_type = location["type"]
            expect_source, body = location["func"] is not None, []
            if location["msg"] is not None:  # ``--tb=line``: one line a failure, the first one is read
                break
        else:
            body.append(line)
    return chunks


def _frame(location: re.Match[str], body: list[str]) -> Frame:
    line = int(location["line"])
    if location["func"]:  # short: the source line follows
        return Frame(filename=location["path"], function=location["func"], lineno=line or None)
    function, source = _long_entry(body)
    return Frame(filename=location["path"], function=function, lineno=line or None, context_line=source)


def _long_entry(body: list[str]) -> tuple[str | None, str | None]:
    """The function and failing line of a long entry: the line marked ``>``, and the ``def`` that encloses it."""
    failing = next((i for i in range(len(body) - 1, -1, -1) if body[i].startswith(">")), None)
    if failing is None:
        return None, None
    code = body[failing][4:]
    indent = len(code) - len(code.lstrip())
    source = code.strip() or None
    for line in reversed(body[:failing]):
        text = line[4:]
        depth = len(text) - len(text.lstrip())
        if text.strip() and depth < indent:
            found = _DEF.match(text.lstrip())
            if found:
                return found["name"], source
            indent = depth  # an enclosing block (if/for/class): the def must sit further out
    return None, source
