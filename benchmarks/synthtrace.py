"""Realistic Python tracebacks through a repository's own files: each frame names a real line inside a real
function at HEAD, with that line's source, as a production process at /srv/app/ would print it.
"""

from __future__ import annotations

import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.plaintrace import APP_ROOT

_DEF = re.compile(r"^(?P<indent>\s*)(?:async\s+)?def\s+(?P<name>\w+)")


@dataclass(frozen=True)
class Spot:
    """A line a frame can name: inside a function body, not blank, not a comment."""

    path: str
    line: int
    function: str
    code: str


class SpotIndex:
    """The candidate frame lines of a checkout's Python files, read once from the work tree (= HEAD)."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "*.py"], cwd=repo, capture_output=True, check=True
        ).stdout
        self.paths = sorted(p.decode() for p in listed.split(b"\0") if p)
        self._spots: dict[str, list[Spot]] = {}

    def spots(self, path: str) -> list[Spot]:
        if path not in self._spots:
            try:
                text = (self.repo / path).read_text(errors="replace")
            except OSError:
                text = ""
            self._spots[path] = function_lines(path, text)
        return self._spots[path]

    def pick(self, rng: random.Random, count: int) -> list[Spot]:
        """``count`` frames from distinct files chosen uniformly among files that have function bodies."""
        chosen: list[Spot] = []
        for path in rng.sample(self.paths, len(self.paths)):
            spots = self.spots(path)
            if spots:
                chosen.append(rng.choice(spots))
            if len(chosen) == count:
                break
        return chosen


def function_lines(path: str, text: str) -> list[Spot]:
    """Every non-blank, non-comment line indented under a ``def``, with the name of that function."""
    spots: list[Spot] = []
    stack: list[tuple[int, str]] = []  # (indent of the def, name)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        while stack and indent <= stack[-1][0]:
            stack.pop()
        found = _DEF.match(line)
        if found:
            stack.append((len(found["indent"]), found["name"]))
        elif stack and not stripped.startswith(('"""', "'''", "@")):
            spots.append(Spot(path, number, stack[-1][1], stripped))
    return spots


def render(spots: list[Spot], message: str = "ValueError: synthetic failure for the speed benchmark") -> str:
    """A Python traceback, outermost first, through the given spots."""
    lines = ["Traceback (most recent call last):"]
    for spot in spots:
        lines.append(f'  File "{APP_ROOT}{spot.path}", line {spot.line}, in {spot.function}')
        lines.append(f"    {spot.code}")
    lines.append(message)
    return "\n".join(lines) + "\n"
