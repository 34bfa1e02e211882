"""What kind of code a repository path holds, as far as blame is concerned."""

from __future__ import annotations

import re
from typing import Literal

_TEST_PATH = re.compile(
    r"(^|/)(tests?|testing|spec|__tests__)/|(^|/)test_[^/]*\.py$|_test\.(py|go)$|\.(spec|test)\.[jt]sx?$|Test\.java$"
)


def is_test_path(path: str) -> bool:
    """Test code: tests/, spec/, test_*.py, *_test.go, *.spec.js, *Test.java."""
    return bool(_TEST_PATH.search(path))


_HELPER_PATH = re.compile(r"(^|/)(utils?|helpers?|common|compat|_compat|shared|support)(/|\.[A-Za-z]+$)")
_DELIBERATE_RAISE = re.compile(r"^\s*(raise\s+\w|raise$|throw\s+\w|panic\(|fail\s+\w)")

FrameRole = Literal["app", "guard", "helper", "test"]


def is_helper_path(path: str) -> bool:
    """Shared utility code (utils/, helpers.py, common/, compat.py): called from everywhere, rarely the cause."""
    return bool(_HELPER_PATH.search(path))


def is_deliberate_raise(source_line: str) -> bool:
    """A ``raise``/``throw``/``panic`` statement: code that rejects a bad value rather than mishandling it."""
    return bool(_DELIBERATE_RAISE.match(source_line))


def frame_role(path: str, source_line: str, nearest_raise: bool) -> FrameRole:
    """How much a frame's own code is likely to hold the cause, as a role the ranking weighs."""
    if is_test_path(path):
        return "test"
    if nearest_raise and is_deliberate_raise(source_line):
        return "guard"
    if is_helper_path(path):
        return "helper"
    return "app"
