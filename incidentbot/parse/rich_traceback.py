"""Tracebacks as rich prints them (``rich.traceback``, the default in Typer applications), in a box::

    ╭──────────── Traceback (most recent call last) ────────────╮
    │ /srv/app/shop/pricing.py:8 in apply_discount               │
    │                                                            │
    │    7 │   if discount < 0:                                  │
    │ ❱  8 │   │   return total / discount                       │
    ╰────────────────────────────────────────────────────────────╯
    ZeroDivisionError: division by zero

A frame's ``path:N in function`` line is folded over several lines when the box is narrow: the lines of that
paragraph are joined (without a space where a line filled the box). The line marked ``❱`` is the frame's
source, its indentation guides removed. Boxes of locals inside are skipped; chained exceptions are read as
CPython's. Line by line, with string operations and anchored regular expressions only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from incidentbot.models import Frame, Trace
from incidentbot.parse.python import CAUSE, CONTEXT, EXCEPTION_LINE, chain_exceptions, path_line_function
from incidentbot.settings import Limits

_HEADER = "Traceback (most recent call last)"
_TOP = ("╭", "┌")  # rounded boxes, and the square ones of legacy Windows consoles
_BOTTOM = ("╰", "└")
_SIDE = "│"
_CODE = re.compile(r"^(?P<mark>❱)?\s*(?P<line>\d+)(?: (?P<code>.*))?$")
_MAX_MESSAGE_LINES = 40


def sniff(text: str) -> bool:
    return _HEADER in text and any(line.lstrip().startswith(_TOP) for line in text.splitlines() if _HEADER in line)


@dataclass
class _Block:
    frames: list[Frame] = field(default_factory=list)
    type: str | None = None
    message: list[str] = field(default_factory=list)
    relation: str | None = None


class _Reader:
    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.width = 0  # the box's inner width, 0 outside a box
        self.nested = 0  # depth inside boxes of locals
        self.paragraph: list[tuple[str, bool]] = []  # lines of a frame's location, and whether each filled the box
        self.in_message = False
        self.wrapped = ""  # the start of a chaining sentence that the console folded

    def feed(self, line: str) -> None:
        stripped = line.strip()
        wrapped, self.wrapped = self.wrapped, ""
        if stripped.startswith(_TOP) and _HEADER in stripped:
            self.blocks.append(_Block())
            self.width, self.nested, self.paragraph, self.in_message = len(stripped) - 2, 0, [], False
        elif self.width:
            self._inside(stripped)
        elif (chained := _chain_line(f"{wrapped} {stripped}" if wrapped else stripped)) is not None:
            if chained == "":  # the sentence's first part: a narrow console folded it
                self.wrapped = f"{wrapped} {stripped}" if wrapped else stripped
                return
            if self.blocks:
                self.blocks[-1].relation = chained
            self.in_message = False
        elif self.blocks:
            self._after_box(line, stripped, self.blocks[-1])

    def _inside(self, stripped: str) -> None:
        if stripped.startswith(_BOTTOM) and not self.nested:
            self._location()
            self.width = 0
            return
        if not (stripped.startswith(_SIDE) and stripped.endswith(_SIDE)) or len(stripped) < 2:
            return
        inner = stripped[1:-1]
        text = inner.strip()
        if text.startswith(_TOP):
            self.nested += 1
        elif text.startswith(_BOTTOM) and self.nested:
            self.nested -= 1
        elif self.nested:
            return
        elif not text:
            self._location()
        elif (code := _CODE.match(text)) and not self.paragraph:
            frames = self.blocks[-1].frames
            cut = len(inner.rstrip()) >= self.width - 1  # a line as wide as the box was cropped: no source
            if code["mark"] and frames and frames[-1].lineno == int(code["line"]) and not cut:
                source = (code["code"] or "").replace(_SIDE, " ").strip()
                frames[-1] = replace(frames[-1], context_line=source or None)
        else:
            self.paragraph.append((text, len(inner.rstrip()) >= self.width - 1))

    def _location(self) -> None:
        """The paragraph just ended: a frame's ``path:N in function`` (or ``in function:N`` without a file)."""
        joined, previous_filled = "", False
        for text, filled in self.paragraph:
            joined = text if not joined else joined + ("" if previous_filled else " ") + text
            previous_filled = filled
        self.paragraph = []
        frame = _location_frame(joined)
        if frame is not None:
            self.blocks[-1].frames.append(frame)

    def _after_box(self, line: str, stripped: str, block: _Block) -> None:
        if self.in_message:
            if not stripped or len(block.message) >= _MAX_MESSAGE_LINES:
                self.in_message = False
            else:
                block.message.append(line)
            return
        if block.type is None and stripped and not line[0].isspace():
            raised = EXCEPTION_LINE.match(stripped)
            if raised:
                block.type, block.message, self.in_message = raised["type"], [(raised["msg"] or "").strip()], True


def _chain_line(text: str) -> str | None:
    """``cause`` or ``context`` for CPython's chaining sentence, ``""`` for its first part alone, else None."""
    if text in (CAUSE, CONTEXT):
        return "cause" if text == CAUSE else "context"
    return "" if text and (CAUSE.startswith(text + " ") or CONTEXT.startswith(text + " ")) else None


def _location_frame(text: str) -> Frame | None:
    if (frame := path_line_function(text)) is not None:
        return frame
    if text.startswith("in "):  # rich names a frame whose file it could not read "in function:N"
        function, colon, number = text[3:].rpartition(":")
        if colon and function and number.isdigit():
            return Frame(filename="<unknown>", function=function, lineno=int(number) or None)
    return None


def parse(text: str, limits: Limits) -> Trace | None:
    reader = _Reader()
    for line in text.splitlines():
        reader.feed(line)
    blocks = [b for b in reader.blocks if b.frames]
    if not blocks:
        return None
    warnings = ("a traceback ended before its exception line (truncated input?)",) if not blocks[-1].type else ()
    return Trace(exceptions=chain_exceptions(blocks), language="python", warnings=warnings)
