"""Re-align a frame's line number with the file at the triage revision.

A trace's line numbers refer to the code that was running. When the trace carries the source line (Python
tracebacks, Sentry's ``context_line``), it is compared with the file at the revision; when the code moved, the
nearest line with the same text (disambiguated by the surrounding context when given) is used instead.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from incidentbot.models import Frame

_MAX_DISTANCE = 500  # lines searched above and below the reported line
_MAX_WHOLE_FILE = 50_000  # lines: a frame without a usable line number is looked for by its text up to this
_REDACTED = re.compile(r"\[REDACTED:[^\]]*\]")  # what incidentbot.scrub puts where it removed a secret


def align_frame(frame: Frame, lines: tuple[str, ...] | None) -> tuple[Frame, str | None]:
    """The frame with ``repo_line`` and ``alignment`` set, and a warning when it could not be aligned."""
    lineno = frame.lineno if frame.lineno and frame.lineno > 0 else None
    where = f"{frame.repo_path}:{frame.lineno}"
    if lines is None:
        return replace(frame, repo_line=None, alignment="unchecked"), None
    if lineno is None or lineno > len(lines):
        return _by_text_alone(frame, lines, lineno)
    inside = lineno <= len(lines)
    if not frame.context_line or not frame.context_line.strip():
        if not inside:
            return replace(frame, repo_line=None), f"{where} is past the end of the file at the revision"
        return replace(frame, repo_line=lineno, alignment="unchecked"), None
    wanted = squash(frame.context_line)
    if inside and same_source(lines[lineno - 1], wanted):
        return replace(frame, repo_line=lineno, alignment="exact"), None
    found = _nearest(lines, lineno, wanted, frame)
    if found is not None:
        return replace(frame, repo_line=found, alignment="moved"), None
    warning = f"{where}: the trace's source line is not in the file at the revision (the code changed)"
    return replace(frame, repo_line=lineno if inside else None, alignment="unaligned"), warning


def _by_text_alone(frame: Frame, lines: tuple[str, ...], lineno: int | None) -> tuple[Frame, str | None]:
    """No usable line number (missing, zero, past the end): the source line, if the trace has it, says where."""
    where = f"{frame.repo_path}:{frame.lineno or '?'}"
    wanted = squash(frame.context_line or "")
    if wanted and len(lines) <= _MAX_WHOLE_FILE:
        found = _nearest(lines, min(lineno or 1, len(lines)), wanted, frame, distance=len(lines))
        if found is not None:
            return replace(frame, repo_line=found, alignment="moved"), (
                f"{where}: no usable line number; found line {found} by its text"
            )
    if lineno is None:
        return replace(frame, repo_line=None, alignment="unchecked"), None
    return replace(frame, repo_line=None), f"{where} is past the end of the file at the revision"


def _nearest(
    lines: tuple[str, ...], lineno: int, wanted: str, frame: Frame, distance: int = _MAX_DISTANCE
) -> int | None:
    span = range(max(1, lineno - distance), min(len(lines), lineno + distance) + 1)
    if "[REDACTED:" in wanted:
        matches = [number for number in span if same_source(lines[number - 1], wanted)]
    else:  # the common case: compare with the file's lines squashed once (a daemon aligns the same files again)
        squashed = _squashed(lines)
        matches = [number for number in span if squashed[number - 1] == wanted]
    if not matches:
        return None
    return min(matches, key=lambda number: (-_context_score(lines, number, frame), abs(number - lineno)))


def _context_score(lines: tuple[str, ...], number: int, frame: Frame) -> int:
    """How many of the trace's surrounding lines match around ``number``."""
    score = 0
    for offset, text in enumerate(reversed(frame.pre_context), 1):
        if number - offset >= 1 and same_source(lines[number - offset - 1], squash(text)):
            score += 1
    for offset, text in enumerate(frame.post_context, 1):
        if number + offset <= len(lines) and same_source(lines[number + offset - 1], squash(text)):
            score += 1
    return score


@lru_cache(maxsize=64)
def _squashed(lines: tuple[str, ...]) -> tuple[str, ...]:
    """Every line of a file squashed; keyed by the lines themselves (the repository keeps one tuple per file and
    revision, so a hit costs one hash of cached string hashes)."""
    return tuple(squash(line) for line in lines)


def squash(text: str) -> str:
    return " ".join(text.split())


def same_source(line: str, wanted: str) -> bool:
    """A file's line is the trace's source line ``wanted`` (already squashed), whitespace aside. What the scrubber
    replaced in the trace (``[REDACTED:email]``) stands for any text, so a line that held a secret is still
    recognised."""
    text = squash(line)
    if text == wanted:
        return True
    if "[REDACTED:" not in wanted:
        return False
    first, *middle, last = _REDACTED.split(wanted)
    if len(text) < len(first) + len(last) or not (text.startswith(first) and text.endswith(last)):
        return False
    at, end = len(first), len(text) - len(last)
    for piece in middle:
        found = text.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True
