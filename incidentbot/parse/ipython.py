"""Tracebacks as IPython and Jupyter print them (IPython 8 and 7), which CPython's parser does not read.

IPython 8::

    ZeroDivisionError                         Traceback (most recent call last)
    Cell In[3], line 2
    ----> 2 apply_discount(1, 0)
    File /srv/app/shop/pricing.py:8, in apply_discount(total, discount)
    ----> 8 return total / discount
    ZeroDivisionError: division by zero

IPython 7 names a frame ``/srv/app/shop/pricing.py in apply_discount(total, discount)`` and a cell
``<ipython-input-3-1a2b3c> in <module>``; the arrow line gives the line number. Only the last exception of a
chain is read. Anchored regular expressions, one line at a time.
"""

from __future__ import annotations

import re
from dataclasses import replace

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.parse.python import EXCEPTION_LINE
from incidentbot.settings import Limits

_HEADER = re.compile(r"^(?P<type>[^\W\d][\w.]*)\s+Traceback \(most recent call last\)\s*$")
_CELL = re.compile(r"^Cell (?P<cell>In\s?\[\d*\]), line (?P<line>\d+)\s*$")
_FILE_8 = re.compile(r"^File (?P<path>\S[^\n]*?):(?P<line>\d+), in (?P<func>[^\s(]+)(?:\(.*)?$")
_FILE_7 = re.compile(r"^(?P<path>(?:/|[A-Za-z]:\\|<ipython-input-)\S*) in (?P<func>[^\s(]+)(?:\(.*)?$")
_ARROW = re.compile(r"^-+> ?(?P<line>\d+)\s?(?P<code>.*)$")


def sniff(text: str) -> bool:
    return "Traceback (most recent call last)" in text and ("Cell In" in text or "\n----> " in text)


def parse(text: str, limits: Limits) -> Trace | None:
    frames: list[Frame] = []
    header_type: str | None = None
    exception: tuple[str, str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if header := _HEADER.match(stripped):
            header_type, frames, exception = header["type"], [], None  # a later exception of a chain
        elif cell := _CELL.match(stripped):
            frames.append(Frame(filename=f"<{cell['cell']}>", function="<module>", lineno=int(cell["line"])))
        elif found := _FILE_8.match(stripped) or _FILE_7.match(stripped):
            line_number = int(found["line"]) if found.groupdict().get("line") else None  # IPython 7: the arrow
            frames.append(Frame(filename=found["path"], function=found["func"], lineno=line_number))
        elif (arrow := _ARROW.match(stripped)) and frames:
            frames[-1] = replace(
                frames[-1], lineno=frames[-1].lineno or int(arrow["line"]), context_line=arrow["code"].strip() or None
            )
        elif header_type and frames and (raised := EXCEPTION_LINE.match(stripped)) and raised["msg"] is not None:
            exception = (raised["type"], raised["msg"].strip())
    if header_type is None or not frames:
        return None
    kind, message = exception or (header_type, "")
    return Trace(
        exceptions=(ExceptionInfo(type=kind, value=message, frames=tuple(frames[-limits.max_frames :])),),
        language="python",
    )
