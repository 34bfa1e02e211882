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
        if is_test_path(frame.path):
            roles.append("test")
        elif index == 0 and is_deliberate_raise(frame.source):
            roles.append("guard")
        elif index and roles[-1] in ("guard", "wrapper") and is_pass_through(frame, frames[index - 1].function):
            roles.append("wrapper")
        else:
            roles.append("helper" if is_helper_path(frame.path) else "app")
    if "app" not in roles:
        roles = ["app" if role == "helper" else role for role in roles]
    return roles


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
