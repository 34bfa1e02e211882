"""CPython tracebacks as printed by the interpreter or a logger.

Handles chained exceptions (``raise … from`` and "During handling …"), exception groups (the ``|`` and ``+-``
margins of Python 3.11+), SyntaxError without a function, the caret lines of 3.11+, a log prefix in front of
every line (timestamps, container names), and messages over several lines. Reads line by line: every regular
expression is anchored and free of nested quantifiers, so hostile input costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.settings import Limits

HEADER = "Traceback (most recent call last):"
_GROUP_HEADER = "Exception Group Traceback (most recent call last):"
# loguru marks the frame that caught the exception with ``> File "…"``; Sentry's raw view names a frame that has
# no file name by its module (``Module "shop.pricing", line 17, in apply``).
_FRAME = re.compile(
    r'^\s*(?:> )?(?P<kind>File|Module) "(?P<path>[^"]*)", line (?P<line>-?\d+)(?:, in (?P<func>.+))?\s*$'
)
_CARET = re.compile(r"^\s*[\^~\s]+$")
#: ``Type: message`` (the type a Python name, in any script); IPython's parser reads it too.
EXCEPTION_LINE = re.compile(r"^(?P<type>[^\W\d][\w.]*)(?::(?P<msg>.*))?$")
_MEMBER_SEPARATOR = re.compile(r"-+ \d+ -+$")
_MEMBER = "<exception group member>"
CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"
_MAX_MESSAGE_LINES = 40
# Django's debug report (its error e-mails and copy-and-paste view) puts the earlier exception's value in the
# chaining sentence, and names the raised exception on lines of its own after the frames.
_DJANGO_CHAIN = re.compile(
    r"^(?:The above exception \((?P<cause>.*)\) was the direct cause of the following exception"
    r"|During handling of the above exception \((?P<context>.*)\), another exception occurred):$"
)
_DJANGO_TYPE = re.compile(r"^Exception Type: (?P<type>[^\W\d][\w.]*)(?: at .*)?$")
_DJANGO_VALUE = "Exception Value: "
# Django before 3.0 wrote a frame as ``File "path" in function`` and its source as ``  34. source``.
_OLD_DJANGO_FRAME = re.compile(r'^\s*File "(?P<path>[^"]*)" in (?P<func>.+?)\s*$')
_OLD_DJANGO_SOURCE = re.compile(r"^\s*(?P<line>\d+)\. (?P<code>.*)$")


@dataclass
class _Block:
    frames: list[Frame] = field(default_factory=list)
    type: str | None = None
    message: list[str] = field(default_factory=list)
    relation: str | None = None  # how this block relates to the next one
    member: bool = False  # a member of the exception group printed before it


_FRAME_ANYWHERE = re.compile(r'^\s*File "[^"]*"(?:, line \d+| in )', re.MULTILINE)


def sniff(text: str) -> bool:
    """A traceback header, or at least one ``File "…", line N`` line (SyntaxError, clipped logs)."""
    return HEADER in text or ('File "' in text and bool(_FRAME_ANYWHERE.search(text)))


def parse(text: str, limits: Limits) -> Trace | None:
    """The tracebacks in ``text`` as one Trace, or None when there is none."""
    lines = _strip_prefixes(text.splitlines())
    blocks = _members_first([b for b in _read_blocks(lines) if b.frames or b.type])
    if not blocks:
        return None
    truncated = any(block.type is None and not block.message for block in blocks)
    warnings = ("a traceback ended before its exception line (truncated input?)",) if truncated else ()
    return Trace(exceptions=chain_exceptions(blocks), language="python", warnings=warnings)


class ReadException(Protocol):
    """What a text parser read of one exception: its frames, outermost first, and the lines after them."""

    @property
    def frames(self) -> list[Frame]: ...
    @property
    def type(self) -> str | None: ...
    @property
    def message(self) -> list[str]: ...
    @property
    def relation(self) -> str | None: ...


def chain_exceptions(blocks: Sequence[ReadException]) -> tuple[ExceptionInfo, ...]:
    """The exceptions of a chain in the model's shape; the last one raised relates to nothing after it."""
    return tuple(
        ExceptionInfo(
            type=block.type or "UnknownError",
            value="\n".join(block.message).strip(),
            module=block.type.rsplit(".", 1)[0] if block.type and "." in block.type else None,
            frames=tuple(block.frames),
            relation=block.relation if index < len(blocks) - 1 else None,  # type: ignore[arg-type]
        )
        for index, block in enumerate(blocks)
    )


def _strip_prefixes(lines: list[str]) -> list[str]:
    """Remove a log prefix (``2024-05-01 12:00:00,123 ERROR app: ``) carried by every traceback line."""
    prefix: re.Pattern[str] | None = None
    out: list[str] = []
    for line in lines:
        at = line.find(HEADER)
        if at > 0 and line[:at].strip():
            prefix = re.compile(re.sub(r"\\?\d", r"\\d", re.escape(line[:at])).replace(r"\\d", r"\d"))
        if prefix is not None:
            match = prefix.match(line)
            if match:
                line = line[match.end() :]
        out.append(_strip_group_margin(line))
    return out


def _strip_group_margin(line: str) -> str:
    """Exception groups print members behind ``|`` margins, separated by ``+---- N ----`` lines."""
    text = line.lstrip()
    if not text.startswith(("|", "+")):
        return line
    if text.startswith("+-"):
        return _MEMBER if _MEMBER_SEPARATOR.search(text) else ""
    while text.startswith(("|", "+")):
        text = text[2:] if text[1:2] == " " else text[1:]
        if text.lstrip().startswith(("|", "+")) and not text.lstrip().startswith("+-"):
            text = text.lstrip()
    return text


def _members_first(blocks: list[_Block]) -> list[_Block]:
    """Chronological order: a group's members come before the group that was raised with them."""
    ordered: list[_Block] = []
    group: _Block | None = None
    for index, block in enumerate(blocks):
        if block.member:
            block.relation = "group"
            ordered.append(block)
            continue
        if group is not None:
            ordered.append(group)
            group = None
        if index + 1 < len(blocks) and blocks[index + 1].member:
            group = block
        else:
            ordered.append(block)
    if group is not None:
        ordered.append(group)
    return ordered


def _read_blocks(lines: list[str]) -> list[_Block]:
    reader = _Reader()
    for raw in lines:
        reader.feed(raw.rstrip("\r"))
    return reader.blocks


class _Reader:
    """A line-by-line state machine: headers start blocks, frames fill them, the exception line ends them."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.current: _Block | None = None
        self.expect_source = False  # the line after a frame may be its source line
        self.in_message = False  # the lines after the exception line may continue its message

    def feed(self, line: str) -> None:
        stripped = line.strip()
        if stripped == _MEMBER or stripped.endswith(HEADER) or stripped.endswith(_GROUP_HEADER):
            self._header(member=stripped == _MEMBER)
        elif chained := _chain(stripped):
            relation, value = chained
            if self.blocks:
                self.blocks[-1].relation = relation
                if value is not None and self.blocks[-1].type is None and not self.blocks[-1].message:
                    self.blocks[-1].message = [value]
            self.current, self.in_message = None, False
        elif frame := _FRAME.match(line) or _OLD_DJANGO_FRAME.match(line):
            self._frame(frame)
        elif self.current is not None:
            self._body(line, stripped, self.current)

    def _header(self, member: bool) -> None:
        current = self.current
        if member or current is None or current.frames or current.type:
            self.current = _Block(member=member)
            self.blocks.append(self.current)
        self.expect_source = self.in_message = False

    def _frame(self, match: re.Match[str]) -> None:
        if self.current is None or self.current.type is not None:
            # A frame outside a "Traceback" header (SyntaxError, a clipped log): start a block anyway.
            self.current = _Block()
            self.blocks.append(self.current)
        self.current.frames.append(_frame(match))
        self.expect_source, self.in_message = True, False

    def _body(self, line: str, stripped: str, current: _Block) -> None:
        if self.expect_source and current.frames[-1].lineno is None and (old := _OLD_DJANGO_SOURCE.match(line)):
            current.frames[-1] = replace(current.frames[-1], lineno=int(old["line"]), context_line=old["code"].strip())
            return
        if self.expect_source and line.startswith((" ", "\t")) and stripped:
            if not _CARET.match(line) and current.frames[-1].context_line is None:
                current.frames[-1] = _with_source(current.frames[-1], stripped)
            return
        if stripped and _CARET.match(line):
            return
        self.expect_source = False
        if self.in_message:
            if not stripped or _is_rule(stripped) or len(current.message) >= _MAX_MESSAGE_LINES:
                self.in_message = False
            else:
                current.message.append(line)
            return
        if django := _DJANGO_TYPE.match(stripped):
            current.type, current.message = django["type"], []
        elif stripped.startswith(_DJANGO_VALUE) and current.type is not None and not current.message:
            current.message = [stripped[len(_DJANGO_VALUE) :]]
        elif current.type is None and stripped and not line[0].isspace():
            exc = EXCEPTION_LINE.match(stripped)
            if exc:
                current.type = exc["type"]
                current.message = [(exc["msg"] or "").strip()]
                self.in_message = True


def _chain(stripped: str) -> tuple[str, str | None] | None:
    """How the exception before this sentence relates to the next, and its value when Django puts it there."""
    if stripped in (CAUSE, CONTEXT):
        return ("cause" if stripped == CAUSE else "context"), None
    django = _DJANGO_CHAIN.match(stripped)
    if django is None:
        return None
    return ("cause", django["cause"]) if django["cause"] is not None else ("context", django["context"])


def path_line_function(text: str) -> Frame | None:
    """``path:N in function``, as rich and cleo (Poetry) name a frame; string operations only."""
    head, sep, function = text.rpartition(" in ")
    if not (sep and head and function) or " " in function:
        return None
    path, colon, number = head.rpartition(":")
    if not (colon and path and number.isdigit()):
        return None
    return Frame(filename=path, function=function, lineno=int(number) or None)


def _is_rule(stripped: str) -> bool:
    """A section rule (pytest's ``==== short test summary info ====``): what follows is no longer the message."""
    return any(stripped.startswith(mark) and stripped.endswith(mark) for mark in ("=====", "-----", "_____"))


def _frame(match: re.Match[str]) -> Frame:
    function = match["func"].strip() if match["func"] else None
    line = int(match.groupdict().get("line") or 0)  # None for old Django: its source line gives it
    module = match["path"] if match.groupdict().get("kind") == "Module" else None
    return Frame(filename=match["path"], module=module, function=function, lineno=line if line > 0 else None)


def _with_source(frame: Frame, source: str) -> Frame:
    return replace(frame, context_line=source)
