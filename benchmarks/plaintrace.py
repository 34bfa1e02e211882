"""A deliberately minimal trace reader for the baselines, so they owe nothing to incidentbot's own parser:
Python's ``File "...", line N, in f`` lines with the source line under each, and Java's
``at pkg.Class.method(File.java:N)`` lines (a Java frame maps to the tracked file whose path ends with the
package's folders and the file name).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

APP_ROOT = "/srv/app/"
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>.+?)\s*$')
_JAVA_FRAME = re.compile(r"^\s*at (?P<qualified>[\w$.<>]+)\((?P<file>[\w$]+\.java):(?P<line>\d+)\)", re.MULTILINE)
_JAVA_SECTION = re.compile(r"^(Caused by: |\S)")
JAVA_PREFIX = "java:"
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
    """Every frame in the text, outermost first; a chained exception's frames follow (Python's order)."""
    if _JAVA_FRAME.search(text) and 'File "' not in text:
        return _java_frames(text)
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


def _java_frames(text: str) -> list[PlainFrame]:
    """Java prints the thrown exception first, innermost frame first, and its causes after: reverse both, so the
    order is Python's (causes first, outermost frame first) and the last frame is the thrown one's innermost."""
    sections: list[list[PlainFrame]] = [[]]
    for line in text.splitlines():
        found = _JAVA_FRAME.match(line)
        if found:
            package = found["qualified"].rsplit(".", 2)[0].replace(".", "/")
            function = found["qualified"].rsplit(".", 1)[-1]
            path = f"{JAVA_PREFIX}{package}/{found['file']}"
            sections[-1].append(PlainFrame(path, int(found["line"]), function, None))
        elif _JAVA_SECTION.match(line) and sections[-1]:
            sections.append([])
    return [frame for section in reversed(sections) for frame in reversed(section)]


def map_frames(frames: list[PlainFrame], tracked: set[str]) -> list[MappedFrame]:
    """The in-app frames: under /srv/app/ and naming a tracked file (Java: a tracked file ending with the
    package path); everything else is dropped."""
    mapped: list[MappedFrame] = []
    by_suffix: dict[str, list[str]] = {}
    for frame in frames:
        if frame.path.startswith(JAVA_PREFIX):
            suffix = frame.path[len(JAVA_PREFIX) :]
            if suffix not in by_suffix:
                by_suffix[suffix] = sorted(t for t in tracked if t == suffix or t.endswith("/" + suffix))
            matches = [m for m in by_suffix[suffix] if "/test/" not in m] or by_suffix[suffix]
            if matches:
                mapped.append(MappedFrame(frame, matches[0]))
        elif frame.path.startswith(APP_ROOT):
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
