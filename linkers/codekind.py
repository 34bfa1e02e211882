"""What kind of code a repository path holds, as far as blame is concerned."""

from __future__ import annotations

import re

_TEST_PATH = re.compile(
    r"(^|/)(tests?|testing|spec|__tests__)/|(^|/)test_[^/]*\.py$|_test\.(py|go)$|\.(spec|test)\.[jt]sx?$|Test\.java$"
)


def is_test_path(path: str) -> bool:
    """Test code: tests/, spec/, test_*.py, *_test.go, *.spec.js, *Test.java."""
    return bool(_TEST_PATH.search(path))
