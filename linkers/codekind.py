"""What kind of code a repository path holds, as far as blame is concerned."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_TEST_PATH = re.compile(
    r"(^|/)(tests?|testing|spec|__tests__)/|(^|/)test_[^/]*\.py$|_test\.(py|go)$|\.(spec|test)\.[jt]sx?$|Test\.java$"
)


def is_test_path(path: str) -> bool:
    """Test code: tests/, spec/, test_*.py, *_test.go, *.spec.js, *Test.java."""
    return bool(_TEST_PATH.search(path))


_HELPER_PATH = re.compile(r"(^|/)(utils?|helpers?|common|compat|_compat|shared|support)(/|\.[A-Za-z]+$)")
_DELIBERATE_RAISE = re.compile(r"^\s*(raise\s+\w|raise$|throw\s+\w|panic\(|fail\s+\w)")

FrameRole = Literal["app", "guard", "wrapper", "helper", "test"]

_WRAPPER_MAX_LINES = 8


@dataclass(frozen=True, slots=True)
class FrameFacts:
    """What the role of one in-app frame is decided from."""

    path: str
    source: str  # the frame's line at the revision
    function: str | None
    scope_lines: int | None  # the enclosing function's length, when known


def is_helper_path(path: str) -> bool:
    """Shared utility code (utils/, helpers.py, common/, compat.py): called from everywhere, rarely the cause."""
    return bool(_HELPER_PATH.search(path))


def is_deliberate_raise(source_line: str) -> bool:
    """A ``raise``/``throw``/``panic`` statement: code that rejects a bad value rather than mishandling it."""
    return bool(_DELIBERATE_RAISE.match(source_line))


_CONDITION = re.compile(r"^\s*(\}\s*)?(if|elif|else\s+if|unless|assert|guard|when|case|switch)\b")


def statement_kind(source_line: str) -> Literal["raise", "condition", "code"]:
    """A deliberate raise, a condition (the guard of a raise), or other code."""
    if is_deliberate_raise(source_line):
        return "raise"
    return "condition" if _CONDITION.match(source_line) else "code"


def is_pass_through(frame: FrameFacts, callee: str | None) -> bool:
    """A small function whose failing line just returns the callee's result: it hands its arguments on."""
    if not callee or frame.scope_lines is None or frame.scope_lines > _WRAPPER_MAX_LINES:
        return False
    name = callee.rsplit(".", 1)[-1]
    return bool(re.match(rf"^\s*return\s+[\w.]*\b{re.escape(name)}\(", frame.source))


def assign_roles(frames: list[FrameFacts]) -> list[FrameRole]:
    """Roles for one exception's in-app frames, nearest the raise first.

    Helper code is only set apart from application code when the stack has both: when every frame is a helper,
    the distinction says nothing.
    """
    roles: list[FrameRole] = []
    for index, frame in enumerate(frames):
        previous = (roles[-1], frames[index - 1].function) if index else None
        roles.append(frame_role(frame, previous))
    if "app" not in roles:
        roles = ["app" if role == "helper" else role for role in roles]
    return roles


def frame_role(frame: FrameFacts, previous: tuple[FrameRole, str | None] | None) -> FrameRole:
    """The role of one frame from its facts and the role and function of the frame inside it (None for the
    frame nearest the raise); a helper may become app code once the whole stack is known (``assign_roles``)."""
    if is_test_path(frame.path):
        return "test"
    if previous is None and is_deliberate_raise(frame.source):
        return "guard"
    if previous is not None and may_pass_through(previous[0]) and is_pass_through(frame, previous[1]):
        return "wrapper"
    return "helper" if is_helper_path(frame.path) else "app"


def may_pass_through(inner_role: FrameRole) -> bool:
    """Whether a frame around one of this role can be a wrapper: only then does its function's length count."""
    return inner_role in ("guard", "wrapper")


def depths(roles: list[FrameRole]) -> list[int]:
    """Per frame, the number of in-app frames (test code aside) between it and the raise.

    Every role counts: a deliberate raise is the frame nearest the raise, not a step to skip, so the commit that
    wrote a new check is weighed as the code that failed (the ranking learns what a raise means from its role).
    """
    out, seen = [], 0
    for role in roles:
        out.append(seen)
        seen += role != "test"
    return out
