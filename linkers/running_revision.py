"""The revision that was running, read from the trace's own source lines when nothing named it.

A pasted trace (the CLI, a GitHub issue) or a Sentry event without a release is triaged at the last commit
before first-seen, or now. When the code that ran was older, its line numbers point elsewhere in today's files,
and blame there names whoever changed the failing line since: often the fix. A traceback carries each frame's
source line, so the running code can be recognised: among the commits that changed the trace's files (reachable
from the revision chosen by time, newest first, at most ``MAX_COMMITS``), find the newest run of consecutive
commits at which the most frames have their source line at their reported line number, and take the oldest
commit of that run, when it holds more of them than the revision chosen by time. As many source lines holding,
the commit holding those nearest the raise ranks higher (a failing test that the fix added holds only after it).
Every commit of the run blames the failing lines alike; the oldest keeps out what later commits changed around
them (often the fix), which would otherwise be blamed in the window beside them. The files are read from git's
objects, never the work tree.

A frame without a source line (Java, Go, JavaScript) holds where its line falls inside a function of its name
(``linkers.scope``): weaker evidence, so a trace with nothing better moves only when the revision chosen by time
holds fewer than half of its frames.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from incidentbot.models import Frame
from incidentbot.repo import RepoView
from linkers.align import same_source, squash
from linkers.scope import FactsStore, enclosing_scope

MAX_COMMITS = 300  # commits tried per trace; each costs one object read per file of the trace
KEPT_KIND = "running_rev"  # the answers kept in the store (its git facts), for the next process
RULES_VERSION = 1  # part of a kept answer's key: change it when the rules below change, and old answers go unused


@dataclass(frozen=True, slots=True)
class RunningRevision:
    sha: str
    matched: int  # frames whose source line is at their line number there
    checked: int  # frames with a line number and a source line or a function name to check it by


def infer_running_revision(
    repo: RepoView, rev: str, frames: Sequence[Frame], stored: FactsStore | None = None
) -> RunningRevision | None:
    """A better revision than ``rev`` for these in-app frames, in the trace's order (the raise last), mapped at
    ``rev`` or given the path their file had before it was moved or deleted; None when ``rev`` is as good.
    ``stored``: the store's git facts, where the answer is kept for the next process."""
    checkable = [f for f in frames if f.repo_path and f.lineno and f.lineno > 0 and (_source(f) or _method(f))]
    if not checkable:
        return None
    # A repeated error (a daemon's, a batch's) asks again at the same commit: the answer cannot have changed.
    key = ("running_revision", rev, tuple((f.repo_path, f.lineno, _source(f), _method(f)) for f in checkable))
    return repo.once(key, lambda: _kept_or_inferred(repo, rev, checkable, key, stored))


def kept_key(key: tuple[object, ...]) -> str:
    """The store's key of an answer: the revision and the frames' evidence fix it (a commit's id fixes its
    history), with the rules it was found by."""
    return hashlib.sha256(json.dumps([RULES_VERSION, MAX_COMMITS, *key[1:]]).encode()).hexdigest()


def _kept_or_inferred(
    repo: RepoView, rev: str, checkable: list[Frame], key: tuple[object, ...], stored: FactsStore | None
) -> RunningRevision | None:
    """None when the revision chosen by time stands (most traces: checked at once, nothing kept); else the answer
    another process kept (a trace pasted again walks no history), else the walk's, then kept."""
    holds = _HoldsByBlob(repo, checkable)
    current = holds.at(rev, current=True)
    names_only = not any(_source(f) for f in checkable)
    if all(current) or (names_only and sum(current) * 2 >= len(checkable)):
        # Function names alone (Java) hold over many revisions and scope detection can miss: when they are all
        # the evidence, the revision chosen by time stands unless it holds fewer than half of the frames.
        return None
    if stored is None:
        return _walk(repo, rev, holds, current, names_only)
    digest = kept_key(key)
    kept = stored.git_facts(KEPT_KIND, [digest]).get(digest)
    if kept is not None:
        try:
            value = json.loads(kept)
            return None if value is None else RunningRevision(str(value[0]), int(value[1]), int(value[2]))
        except (ValueError, TypeError, IndexError, KeyError):
            pass  # a row that does not read is as good as none: walk again
    found = _walk(repo, rev, holds, current, names_only)
    answer = None if found is None else [found.sha, found.matched, found.checked]
    stored.save_git_facts(KEPT_KIND, {digest: json.dumps(answer)})
    return found


def _walk(
    repo: RepoView, rev: str, holds: _HoldsByBlob, current: tuple[bool, ...], names_only: bool
) -> RunningRevision | None:
    """The newest run of commits changing the trace's files that holds more frames than ``rev``: its earliest."""
    rank = _count if names_only else _rank
    best = rank(current)
    found: RunningRevision | None = None
    in_run = False  # the commits since ``found`` all ranked as high
    for sha in repo.commits_changing(rev, holds.paths, MAX_COMMITS):
        held = holds.at(sha)
        if rank(held) > best or (rank(held) == best and in_run):
            best, found, in_run = rank(held), RunningRevision(sha, sum(held), len(holds.frames)), True
        elif found is not None and found.matched == len(holds.frames):
            break  # past the run of commits that hold every line: nothing older can hold more
        else:
            in_run = False
    return found


def _rank(held: tuple[bool, ...]) -> tuple[int, tuple[bool, ...]]:
    """More frames holding first; between revisions that hold as many, the one holding the frames nearest the
    raise: those are the lines that are blamed (a test that a fix added holds only after the fix)."""
    return sum(held), held[::-1]


def _count(held: tuple[bool, ...]) -> tuple[int, tuple[bool, ...]]:
    """Function names alone: only more frames holding counts, as a tie between such weak evidence says nothing."""
    return sum(held), ()


class _HoldsByBlob:
    """Which frames hold at a commit, each version of a file read and checked once: a commit of the walk
    changes one or two of the trace's files, and the others are the same blobs as at the commit before."""

    def __init__(self, repo: RepoView, frames: list[Frame]) -> None:
        self.repo = repo
        self.frames = frames
        self.paths = sorted({str(frame.repo_path) for frame in frames})
        self.frames_of = {path: [i for i, frame in enumerate(frames) if frame.repo_path == path] for path in self.paths}
        self.held: dict[tuple[str, str | None], tuple[bool, ...]] = {}  # (path, blob) -> its frames holding

    def at(self, sha: str, current: bool = False) -> tuple[bool, ...]:
        """For each frame, whether it holds at ``sha`` (``current``: the triage revision, read as linkers do)."""
        held = [False] * len(self.frames)
        for path in self.paths:
            mine = self.frames_of[path]
            if current:
                lines = self.repo.read_lines(path, sha)
                verdicts = tuple(_holds(self.frames[index], lines) for index in mine)
            else:
                blob = self.repo.blob_id(sha, path)
                if (path, blob) not in self.held:
                    lines = self.repo.read_blob_lines(blob) if blob else None
                    self.held[(path, blob)] = tuple(_holds(self.frames[index], lines) for index in mine)
                verdicts = self.held[(path, blob)]
            for index, verdict in zip(mine, verdicts, strict=True):
                held[index] = verdict
        return tuple(held)


def _holds(frame: Frame, lines: tuple[str, ...] | None) -> bool:
    """The file has the frame's source line at its line number; for a trace without source lines (Java), the
    line is inside a function of the frame's name."""
    line = int(frame.lineno or 0)
    if lines is None or not 0 < line <= len(lines):
        return False
    source = _source(frame)
    if source:
        return same_source(lines[line - 1], source)
    scope = enclosing_scope(lines, line, str(frame.repo_path))
    return scope is not None and scope.name.rsplit(".", 1)[-1] == _method(frame)


def _source(frame: Frame) -> str:
    return squash(frame.context_line or "")


def _method(frame: Frame) -> str | None:
    """The frame's function as a source file names it (not a constructor, initialiser or lambda)."""
    name = (frame.function or "").rsplit(".", 1)[-1]
    return name if name.isidentifier() and not name.startswith("lambda$") else None
