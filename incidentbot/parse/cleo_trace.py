"""Errors as cleo prints them: Poetry's console, and other applications built on cleo. Poetry users paste these::

      Stack trace:

      2  ~/.local/share/pypoetry/venv/lib/python3.11/site-packages/cleo/application.py:327 in run
           io = io or self.create_io(input, output, error_output)

      1  src/poetry/installation/executor.py:80 in execute
           self._execute_operation(operation)

      KeyError

      'name'

      at src/poetry/installation/executor.py:123 in _execute_operation
          119│
        → 123│         name = package["name"]

The stack (shown with ``-vvv``) lists the outer frames, numbered down to 1, each with its source line; the
``at path:N in function`` line after the exception's name and message is the innermost frame, its source the
snippet line marked ``→``. An error raised while handling another follows "The following error occurred when
trying to handle this error:" (read as CPython's "During handling …"). Line by line, string operations only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from incidentbot.models import Frame, Trace
from incidentbot.parse.python import EXCEPTION_LINE, chain_exceptions, path_line_function
from incidentbot.settings import Limits

_HANDLING = "The following error occurred when trying to handle this error:"
_ARROWS = ("→", ">")
_GUTTERS = ("│", "|")
_MAX_MESSAGE_LINES = 40


def sniff(text: str) -> bool:
    return any(_innermost(line) is not None for line in text.splitlines() if line.lstrip().startswith("at "))


@dataclass
class _Block:
    frames: list[Frame] = field(default_factory=list)
    type: str | None = None
    message: list[str] = field(default_factory=list)
    done: bool = False  # the innermost frame (``at …``) was read: what follows is its snippet
    relation: str | None = None
    paragraphs: list[list[str]] = field(default_factory=lambda: [[]])  # other lines, blank-separated


class _Reader:
    def __init__(self) -> None:
        self.blocks = [_Block()]
        self.expect_source = False  # the line under a stack frame is its source

    def feed(self, line: str) -> None:
        stripped = line.strip()
        block = self.blocks[-1]
        expect_source, self.expect_source = self.expect_source, False
        if stripped == _HANDLING:
            block.relation = "context"
            self.blocks.append(_Block())
        elif block.done:
            self._snippet(stripped, block)
        elif not stripped:
            if block.paragraphs[-1]:
                block.paragraphs.append([])
        elif (frame := _innermost(line)) is not None:
            block.frames.append(frame)
            block.done = True
            block.type, block.message = _exception(block.paragraphs)
        elif (frame := _stack_frame(stripped)) is not None:
            block.frames.append(frame)
            block.paragraphs, self.expect_source = [[]], True
        elif expect_source and block.frames:
            block.frames[-1] = replace(block.frames[-1], context_line=stripped)
        elif len(block.paragraphs) < _MAX_MESSAGE_LINES:
            block.paragraphs[-1].append(stripped)

    @staticmethod
    def _snippet(stripped: str, block: _Block) -> None:
        if not stripped.startswith(_ARROWS) or block.frames[-1].context_line is not None:
            return
        body = stripped[1:].strip()
        for gutter in _GUTTERS:
            number, found, code = body.partition(gutter)
            if found and number.strip() == str(block.frames[-1].lineno):
                block.frames[-1] = replace(block.frames[-1], context_line=code.strip() or None)
                return


def _exception(paragraphs: list[list[str]]) -> tuple[str | None, list[str]]:
    """The exception's name (alone on its line) and the message under it, read back from ``at …``: cleo prints
    the name, then the message (which may be one word too), then ``at``; a one-word progress line printed earlier
    is not the name."""
    filled = [p for p in paragraphs if p]
    names = [i for i, p in enumerate(filled) if len(p) == 1 and _name(p[0])]
    if not names:
        return None, []
    index = names[-1]
    if index == len(filled) - 1 and len(names) > 1 and names[-2] == index - 1:
        index -= 1  # the last paragraph is a one-word message under the name
    return _name(filled[index][0]), [line for later in filled[index + 1 :] for line in later][:_MAX_MESSAGE_LINES]


def _name(line: str) -> str | None:
    raised = EXCEPTION_LINE.match(line)
    return raised["type"] if raised and raised["msg"] is None else None


def _innermost(line: str) -> Frame | None:
    """``  at path:N in function``: the frame where the exception was raised."""
    text = line.strip()
    return path_line_function(text[3:]) if text.startswith("at ") else None


def _stack_frame(stripped: str) -> Frame | None:
    """``12  path:N in function``: a numbered frame of the stack."""
    number, _, rest = stripped.partition("  ")
    return path_line_function(rest.strip()) if number.isdigit() and rest else None


def parse(text: str, limits: Limits) -> Trace | None:
    reader = _Reader()
    for line in text.splitlines():
        reader.feed(line)
    blocks = [b for b in reader.blocks if b.done]
    return Trace(exceptions=chain_exceptions(blocks), language="python") if blocks else None
