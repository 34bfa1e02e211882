"""A deliberately minimal Python traceback reader for the baselines: only the ``File "...", line N, in f`` lines
and the source line under each, so the baselines owe nothing to incidentbot's own parser.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

APP_ROOT = "/srv/app/"
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>.+?)\s*$')
# Python 3.11+ marks the failing expression with a line of ^ and ~ under the source line.
_CARETS = re.compile(r"^\s*[\^~]+\s*$")


@dataclass(frozen=True)
class PlainFrame:
    """One frame as printed: the path as the process saw it, the line, the function, the source line."""

    path: str
    line: int
    function: str
    code: str | None


@dataclass(frozen=True)
class MappedFrame:
    """A frame whose path maps to a file tracked in the repository (in-app: under /srv/app/ and tracked)."""

    frame: PlainFrame
    repo_path: str


def without_carets(text: str) -> str:
    """The trace with the caret lines of Python 3.11+ removed (older tools cannot parse them)."""
    return "".join(line for line in text.splitlines(keepends=True) if not _CARETS.match(line))


def parse_frames(text: str) -> list[PlainFrame]:
    """Every frame in the text in printed order (outermost first; a chained exception's frames follow)."""
    frames: list[PlainFrame] = []
    lines = without_carets(text).splitlines()
    for index, line in enumerate(lines):
        found = _FRAME.match(line)
        if not found:
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        code = following.strip() if following.startswith("    ") and not _FRAME.match(following) else None
        frames.append(PlainFrame(found["path"], int(found["line"]), found["function"], code or None))
    return frames


def map_frames(frames: list[PlainFrame], tracked: set[str]) -> list[MappedFrame]:
    """The in-app frames: under /srv/app/ and naming a tracked file; everything else is dropped."""
    mapped: list[MappedFrame] = []
    for frame in frames:
        if frame.path.startswith(APP_ROOT):
            relative = frame.path[len(APP_ROOT) :]
            if relative in tracked:
                mapped.append(MappedFrame(frame, relative))
    return mapped


def tracked_files(repo: Path) -> set[str]:
    """The files tracked at HEAD."""
    done = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--name-only", "HEAD"], cwd=repo, capture_output=True, check=True
    )
    return {name.decode("utf-8", "replace") for name in done.stdout.split(b"\0") if name}
