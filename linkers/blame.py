"""Blame the in-app frames' lines at the triage revision.

One ``git blame --porcelain -w`` per file, with one ``-L`` per frame window (and the enclosing function of the
frames nearest the raise), so the cost stays close to plain ``git blame -L`` of the same lines. The repository's
``.git-blame-ignore-revs`` (as of the revision) is honoured. A line whose last change was only cosmetic
(whitespace, quotes, trailing commas) is blamed again past that commit, so a reformatting commit does not hide
the change that wrote the code; the cosmetic commit stays on record, flagged.

With the blame index (linkers/blame_index.py, on by default through ``from_settings``) the same answers come from
the store when a file was blamed before at the revision, or are carried forward from an earlier revision; the
git calls here are then made only for what the index does not hold.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Self

from incidentbot.models import CommitInfo, Evidence, Frame, LineBlame
from incidentbot.repo import RepoView, in_parallel
from incidentbot.settings import Ranking, Settings
from linkers.blame_git import FileBlame, _run_blame
from linkers.codekind import FrameFacts, FrameRole, assign_roles, depths, frame_role, may_pass_through, statement_kind
from linkers.cosmetic import COMMENT_PREFIXES, CosmeticTest
from linkers.scope import FactsStore, Scope, ScopeCache, enclosing_scope

if TYPE_CHECKING:
    from linkers.blame_index import BlameIndex

log = logging.getLogger(__name__)

IGNORE_REVS_FILE = ".git-blame-ignore-revs"
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_MAX_SCOPE_LINES = 150  # a longer function is blamed only around the frame line
_SCOPE_DEPTH = 2  # the enclosing function is blamed for this many frames nearest the raise
MAX_SCOPE_FILES = 2048  # Python files whose functions a process keeps parsed (docs/limits.md)
_SCOPES = ScopeCache(MAX_SCOPE_FILES)


@dataclass(frozen=True, slots=True)
class BlameTarget:
    """One in-app frame to blame, with the lines that count for it."""

    exception_index: int
    frame_index: int
    depth: int
    path: str
    line: int
    scope: Scope | None
    window: int
    role: FrameRole = "app"

    def lines(self) -> range:
        lo, hi = self.line - self.window, self.line + self.window
        scope = self.scope
        if scope and self.depth < _SCOPE_DEPTH and self.role != "test" and scope.end - scope.start < _MAX_SCOPE_LINES:
            lo, hi = min(lo, scope.start), max(hi, scope.end)
        return range(max(1, lo), hi + 1)


class Blamer:
    """Linker: fills ``Evidence.blame`` and ``Evidence.commits``."""

    name = "blame"

    def __init__(self, ranking: Ranking, commit_graph: bool = True, index: BlameIndex | None = None) -> None:
        self.ranking = ranking
        self.commit_graph = commit_graph
        self.index = index

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        from linkers.blame_index import index_or_none

        return cls(settings.ranking, settings.commit_graph, index_or_none(settings))

    def link(self, evidence: Evidence, repo: RepoView) -> Evidence:
        rev = evidence.revision
        if rev is None:
            return evidence
        targets = blame_targets(evidence, repo, self.ranking, self.index)
        if not targets:
            return evidence
        if self.commit_graph and (warning := repo.ensure_commit_graph()):
            evidence = evidence.with_warning(warning)
        ignore = ignore_revs(repo, rev)
        by_file = _group_lines(targets)
        blames = self._indexed(repo, rev, by_file, ignore) if self.index is not None else None
        if blames is None:
            blames = _blame_files(repo, rev, by_file, ignore)
            blames = _reblame_cosmetic(repo, rev, by_file, ignore, blames)
        return replace(
            evidence,
            blame=tuple(_line_blames(targets, blames, repo, rev)),
            commits=_commit_infos(blames),
        )

    def _indexed(
        self, repo: RepoView, rev: str, by_file: dict[str, list[tuple[int, int]]], ignore: Sequence[str]
    ) -> dict[str, FileBlame] | None:
        """The same blame through the index (linkers/blame_index.py); None when the index fails."""
        index = self.index
        assert index is not None
        clamped = _clamp(repo, rev, by_file)
        try:
            first = index.blame(repo, rev, {path: (ranges, ignore) for path, ranges in clamped.items()})

            def again(extra: dict[str, set[str]]) -> dict[str, FileBlame]:
                wanted = {path: (clamped[path], (*ignore, *sorted(shas))) for path, shas in extra.items()}
                return index.blame(repo, rev, wanted)

            blames = _reblame_cosmetic(repo, rev, by_file, ignore, first, again)
            for path, blame in first.items():
                index.record_cosmetic(repo, rev, path, ignore, blame)
            index.flush()
        except Exception as exc:  # the store failed (a full disk, a dropped connection): blame with git alone
            log.warning("blame index failed, blaming without it: %s: %s", type(exc).__name__, exc)
            return None
        return blames


def blame_targets(
    evidence: Evidence, repo: RepoView, ranking: Ranking, stored: FactsStore | None = None
) -> list[BlameTarget]:
    """The in-app frames to blame, nearest the raise first, at most ``ranking.max_frames_blamed``; ``stored``:
    where files' functions are kept across processes."""
    rev = evidence.revision
    assert rev is not None
    if stored is not None:
        _preload_functions(evidence, repo, rev, stored)
    # A function's extent is parsed only where it is used: for a frame that may pass a raise through (its role
    # depends on its length) and for the frames that are blamed, not for every frame of a deep stack.
    chosen: list[tuple[int, int, int, Frame, FrameRole]] = []  # depth, exception, frame index, frame, role
    known: dict[tuple[int, int], Scope | None] = {}  # (exception, frame index) -> its function, once parsed
    for ei, exc in enumerate(evidence.trace.exceptions):
        entries = [
            (fi, frame)
            for fi, frame in reversed(list(enumerate(exc.frames)))
            if frame.in_app and frame.repo_path is not None and frame.repo_line is not None
        ]
        facts: list[FrameFacts] = []
        inner: tuple[FrameRole, str | None] | None = None  # the role and function of the frame inside this one
        for fi, frame in entries:
            path, line = str(frame.repo_path), int(frame.repo_line or 0)
            lines = repo.read_lines(path, rev) or ()
            span = None
            if inner is not None and may_pass_through(inner[0]):
                scope = known[(ei, fi)] = _scope(repo, rev, path, line, lines, stored)
                span = scope.end - scope.start + 1 if scope else None
            source = lines[line - 1] if 0 < line <= len(lines) else ""
            facts.append(FrameFacts(path, source, frame.function, span))
            inner = (frame_role(facts[-1], inner), frame.function)
        roles = assign_roles(facts)
        for (fi, frame), role, depth in zip(entries, roles, depths(roles), strict=True):
            chosen.append((depth, ei, fi, frame, role))
    chosen.sort(key=lambda item: (item[0], -item[1]))
    targets: list[BlameTarget] = []
    for depth, ei, fi, frame, role in chosen[: ranking.max_frames_blamed]:
        path, line = str(frame.repo_path), int(frame.repo_line or 0)
        if (ei, fi) not in known:
            known[(ei, fi)] = _scope(repo, rev, path, line, repo.read_lines(path, rev) or (), stored)
        targets.append(BlameTarget(ei, fi, depth, path, line, known[(ei, fi)], ranking.blame_window, role))
    return targets


def _preload_functions(evidence: Evidence, repo: RepoView, rev: str, stored: FactsStore) -> None:
    """The kept functions of every in-app Python file of the trace, in one read of the store."""
    wanted: dict[Hashable, str] = {}
    for exc in evidence.trace.exceptions:
        for frame in exc.frames:
            path = frame.repo_path
            if frame.in_app and path is not None and path.endswith(".py"):
                repo.read_lines(path, rev)  # read below in any case (cached); it makes the blob's sha known
                blob = repo.blob_sha(path, rev)
                if blob is not None:
                    wanted[(str(repo.root), rev, path)] = blob
    if wanted:
        _SCOPES.preload(wanted, stored)


def _scope(
    repo: RepoView, rev: str, path: str, line: int, lines: tuple[str, ...], stored: FactsStore | None = None
) -> Scope | None:
    """The enclosing function: a Python file is parsed once per revision and kept (``_SCOPES``), and with
    ``stored`` (the blame index) once per content across processes; in other languages the heuristic's answer
    is kept per line."""
    if not lines:
        return None
    if path.endswith(".py"):
        return _SCOPES.enclosing((str(repo.root), rev, path), lines, line, path, stored, repo.blob_sha(path, rev))
    return repo.once(("scope", rev, path, line), lambda: enclosing_scope(lines, line, path))


def ignore_revs(repo: RepoView, rev: str) -> tuple[str, ...]:
    """Commits listed in the repository's .git-blame-ignore-revs at the revision (read once per revision)."""

    def read() -> tuple[str, ...]:
        text = repo.read_text(IGNORE_REVS_FILE, rev) or ""
        shas = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
        return tuple(sha for sha in shas if _HEX40.match(sha))

    return repo.once(("ignore_revs", rev), read)


def _group_lines(targets: Iterable[BlameTarget]) -> dict[str, list[tuple[int, int]]]:
    """Per file, the merged line ranges to blame."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for target in targets:
        lines = target.lines()
        spans.setdefault(target.path, []).append((lines.start, lines.stop - 1))
    return {path: _merge(ranges) for path, ranges in spans.items()}


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _clamp(repo: RepoView, rev: str, by_file: dict[str, list[tuple[int, int]]]) -> dict[str, list[tuple[int, int]]]:
    """The ranges cut to the file's length, as ``_blame_files`` passes them to git."""
    lengths = {path: len(repo.read_lines(path, rev) or ()) for path in by_file}
    return {
        path: [(lo, min(hi, lengths[path])) for lo, hi in ranges if lo <= lengths[path]]
        for path, ranges in by_file.items()
    }


def _blame_files(
    repo: RepoView,
    rev: str,
    by_file: dict[str, list[tuple[int, int]]],
    ignore: Sequence[str],
    extra_ignore: dict[str, set[str]] | None = None,
) -> dict[str, FileBlame]:
    """Blame every file once; files run in parallel (each is its own git process)."""
    clamped = _clamp(repo, rev, by_file)

    def one(path: str) -> tuple[str, FileBlame]:
        skip = [*ignore, *sorted((extra_ignore or {}).get(path, ()))]
        return path, blame_file(repo, rev, path, clamped[path], skip)

    return dict(in_parallel(one, list(by_file if extra_ignore is None else extra_ignore)))


def blame_file(
    repo: RepoView, rev: str, path: str, ranges: Sequence[tuple[int, int]], ignore: Sequence[str] = ()
) -> FileBlame:
    """``git blame --porcelain -w`` of ``ranges`` of one file, parsed (cached: a commit's blame never changes)."""
    if not ranges:
        return FileBlame({}, {})
    key = ("blame", rev, path, tuple(ranges), tuple(ignore))
    return repo.once(key, lambda: _run_blame(repo, rev, path, ranges, ignore))


def _reblame_cosmetic(
    repo: RepoView,
    rev: str,
    by_file: dict[str, list[tuple[int, int]]],
    ignore: Sequence[str],
    blames: dict[str, FileBlame],
    blame_again: Callable[[dict[str, set[str]]], dict[str, FileBlame]] | None = None,
) -> dict[str, FileBlame]:
    """Blame again, past the commits that only reformatted a blamed line; keep both attributions.

    Each first-pass ``FileBlame.cosmetic`` is completed with what was worked out (the index keeps it).
    ``blame_again``: how to blame past the cosmetic commits (default: git, through ``_blame_files``).
    """
    cosmetic: dict[str, set[str]] = {}
    is_cosmetic = CosmeticTest(repo)
    for path, blame in blames.items():
        for number, bl in blame.lines.items():
            flag = blame.cosmetic.get(number)
            if flag is None:
                flag = blame.cosmetic[number] = is_cosmetic(bl, blame.commits[bl.sha])
            if flag:
                cosmetic.setdefault(path, set()).add(bl.sha)
    if not cosmetic:
        return blames
    if blame_again is None:
        again = _blame_files(repo, rev, by_file, ignore, extra_ignore=cosmetic)
    else:
        again = blame_again(cosmetic)
    merged = dict(blames)
    for path, second in again.items():
        first = blames[path]
        replaced = {
            number: first.lines[number]
            for number, bl in second.lines.items()
            if number in first.lines and first.lines[number].sha in cosmetic[path] and bl.sha != first.lines[number].sha
        }
        lines = {**first.lines, **{number: second.lines[number] for number in replaced}}
        merged[path] = FileBlame(lines, {**second.commits, **first.commits}, replaced)
    return merged


def _line_blames(
    targets: Sequence[BlameTarget], blames: dict[str, FileBlame], repo: RepoView, rev: str
) -> list[LineBlame]:
    out: list[LineBlame] = []
    for target in targets:
        blame = blames.get(target.path)
        if blame is None:
            continue
        replaced = blame.replaced
        function = target.scope.name if target.scope else None
        for number in target.lines():
            bl = blame.lines.get(number)
            if bl is None or not _counts(bl.text):
                continue
            in_function = target.scope is not None and target.scope.start <= number <= target.scope.end
            entry = LineBlame(
                path=target.path,
                line=number,
                sha=bl.sha,
                orig_path=bl.orig_path,
                orig_line=bl.orig_line,
                frame_line=target.line,
                exception_index=target.exception_index,
                frame_index=target.frame_index,
                depth=target.depth,
                in_function=in_function,
                function=function,
                role=target.role,
                statement=statement_kind(bl.text),
            )
            out.append(entry)
            if number in replaced:
                old = replaced[number]
                out.append(replace(entry, sha=old.sha, orig_path=old.orig_path, orig_line=old.orig_line, cosmetic=True))
    return out


def _counts(text: str) -> bool:
    """Blank and comment-only lines say nothing about who wrote the code."""
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith(COMMENT_PREFIXES)


def _commit_infos(blames: dict[str, FileBlame]) -> tuple[CommitInfo, ...]:
    seen: dict[str, CommitInfo] = {}
    for blame in blames.values():
        for sha, meta in blame.commits.items():
            if sha not in seen:
                seen[sha] = CommitInfo(
                    sha=sha,
                    author=meta.author,
                    authored_at=meta.authored_at,
                    committed_at=meta.committed_at,
                    summary=meta.summary,
                )
    return tuple(seen.values())
