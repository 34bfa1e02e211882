"""What ``git blame --porcelain -w`` says, parsed: the types the blame linker and the blame index share, the
parser and the one git call (a module of its own, so that linkers/blame.py and linkers/blame_index.py both use it
without importing each other).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import git

from incidentbot.models import Person
from incidentbot.repo import RepoView

if TYPE_CHECKING:
    from linkers.history import FirstParentHistory

log = logging.getLogger(__name__)

_HEADER = re.compile(r"^([0-9a-f]{40}) (\d+) (\d+)(?: (\d+))?$")


@dataclass(frozen=True, slots=True)
class BlamedLine:
    sha: str
    orig_path: str
    orig_line: int
    text: str


@dataclass(slots=True)
class _CommitMeta:
    author: Person
    authored_at: datetime
    committed_at: datetime
    summary: str
    previous: tuple[str, str] | None  # (parent sha, path there); None for a root or boundary commit


@dataclass(slots=True)
class FileBlame:
    lines: dict[int, BlamedLine]
    commits: dict[str, _CommitMeta]
    # Cosmetic attributions that a second blame, past the reformatting commit, replaced: line → first one.
    replaced: dict[int, BlamedLine] = field(default_factory=dict)
    # Whether a line's attribution is a cosmetic change, where already known (the blame index keeps it).
    cosmetic: dict[int, bool] = field(default_factory=dict)


def _run_blame(
    repo: RepoView,
    rev: str,
    path: str,
    ranges: Sequence[tuple[int, int]],
    ignore: Sequence[str],
    history: FirstParentHistory | None = None,
) -> FileBlame:
    """``git blame --porcelain -w`` of the ranges; with ``history``, through its grafts (linkers/history.py)."""
    args = ["--porcelain", "-w"]
    for sha in ignore:
        args += ["--ignore-rev", sha]
    for lo, hi in ranges:
        args += ["-L", f"{lo},{hi}"]
    grafted = _blame_grafted(repo, rev, path, args, history) if history is not None else None
    if grafted is not None:
        return grafted
    try:
        out = repo.git.blame(*args, rev, "--", path, stdout_as_string=False)
    except git.GitCommandError as exc:
        log.warning("git blame %s at %s failed: %s", path, rev[:12], str(exc.stderr).strip()[:200])
        return FileBlame({}, {})
    return parse_porcelain(bytes(out).decode("utf-8", errors="replace"))


def _blame_grafted(
    repo: RepoView, rev: str, path: str, args: list[str], history: FirstParentHistory
) -> FileBlame | None:
    """``git blame -S GRAFTS`` along the path's chain (linkers/history.py); None where the path has no chain, git
    fails, or the answer does not fit the history: then git is asked plainly."""
    chain = history.chain(path)
    grafts = history.grafts_of(chain)
    if chain is None or grafts is None:
        return None
    import tempfile  # only a process that blames many files gets here

    with tempfile.NamedTemporaryFile("w", suffix=".grafts", encoding="ascii") as file:
        file.write(grafts)
        file.flush()
        try:
            out = repo.git.blame(*args, "-S", file.name, rev, "--", path, stdout_as_string=False)
        except git.GitCommandError as exc:
            log.info("git blame -S of %s at %s failed, blaming plainly: %s", path, rev[:12], str(exc.stderr)[:200])
            return None
    found = parse_porcelain(bytes(out).decode("utf-8", errors="replace"))
    # Every line on a commit of the chain, under this path: else the history does not fit the repository (git does
    # not fail on a graft to a commit it lacks, it blames the child).
    members = set(chain)
    if not all(bl.orig_path == path and bl.sha in members for bl in found.lines.values()):
        return None
    for sha, meta in found.commits.items():  # git named the grafted parent; the real one is the answer
        if meta.previous is not None:
            meta.previous = (history.real_parent(sha) or meta.previous[0], meta.previous[1])
    return found


def parse_porcelain(text: str) -> FileBlame:
    """Parse ``git blame --porcelain`` output into per-line attributions and commit metadata."""
    return parse_porcelain_fields(text)[0]


def parse_porcelain_fields(text: str) -> tuple[FileBlame, dict[str, dict[str, str]]]:
    """``parse_porcelain``, with each commit's raw header fields (``boundary`` among them)."""
    lines: dict[int, BlamedLine] = {}
    commits: dict[str, _CommitMeta] = {}
    fields: dict[str, dict[str, str]] = {}
    current: tuple[str, int, int] | None = None
    for raw in text.split("\n"):
        if raw.startswith("\t"):
            if current is not None:
                sha, orig, final = current
                orig_path = fields.get(sha, {}).get("filename", "")
                lines[final] = BlamedLine(sha, orig_path, orig, raw[1:])
            current = None
            continue
        header = _HEADER.match(raw)
        if header:
            current = (header[1], int(header[2]), int(header[3]))
            fields.setdefault(header[1], {})
            continue
        if current is not None:
            key, _, value = raw.partition(" ")
            fields[current[0]].setdefault(key, value)
    for sha, meta in fields.items():
        commits[sha] = _meta_from_fields(meta)
    return FileBlame(lines, commits), fields


def _meta_from_fields(meta: dict[str, str]) -> _CommitMeta:
    previous = None
    if "previous" in meta:
        prev_sha, _, prev_path = meta["previous"].partition(" ")
        previous = (prev_sha, prev_path)
    return _CommitMeta(
        author=Person(name=meta.get("author") or None, email=meta.get("author-mail", "").strip("<>") or None),
        authored_at=_epoch(meta.get("author-time")),
        committed_at=_epoch(meta.get("committer-time")),
        summary=meta.get("summary", ""),
        previous=previous,
    )


def _epoch(value: str | None) -> datetime:
    try:
        return datetime.fromtimestamp(int(value or 0), tz=UTC)
    except (ValueError, OverflowError):
        return datetime.fromtimestamp(0, tz=UTC)
