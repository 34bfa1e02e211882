"""The blame index: what ``git blame`` said about a file's lines at a revision, kept in the store and carried
forward to later revisions, so blame gets cheaper the longer incidentbot runs.

Keyed by (repository, revision, blame options, path). The options key is a hash of everything besides the
revision and path that changes git's answer: ``-w``, the ``--ignore-rev`` list exactly as passed (the
repository's ``.git-blame-ignore-revs`` plus, for the second pass, the commits found cosmetic), a shallow
clone's boundary, and the index's schema version. The first pass and the cosmetic re-blame are therefore separate
entries. An entry holds, per line asked so far, the commit, its original path and line, and whether that
attribution is a cosmetic change (``is_cosmetic``, computed once); plus the metadata of those commits. The
line's text is not stored: it is the file's line at the revision.

The whole file at once: the first time a file of up to ``WHOLE_FILE_LINES`` lines is asked at a revision, all of
its lines are blamed, so every later ask of it is answered from the index (a whole-file blame costs about what a
ranged one does: git walks the file's history either way; docs/limits.md). A longer file has only the asked
lines blamed the first time, and all its remaining lines the second time it is asked with lines the entry
lacks, so a file that traces keep touching costs two blames at most per revision.

Carry-forward: asked about revision R2 with an entry of the same options at an ancestor R1 (the nearest one in
the index), ``git blame --porcelain -w [--ignore-rev …] -L … R1..R2 -- path`` blames only the changes of
R1..R2; a line git leaves on the boundary commit R1 takes R1's entry at the line number (and path) porcelain
gives for R1, that entry being filled first when it lacks the line. A line left on any other boundary commit (a
root commit inside the range, or a side branch forked before R1 and merged in R1..R2) is blamed in full at R2:
only R1's answers are known to continue git's walk exactly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import git

from incidentbot import store_outage
from incidentbot.models import Person
from incidentbot.repo import GIT_PROCESSES, RepoView, in_parallel
from linkers.blame_git import BlamedLine, FileBlame, _CommitMeta, _run_blame, parse_porcelain_fields
from linkers.history import USE_AFTER_BLAMES, FirstParentHistory

if TYPE_CHECKING:
    from incidentbot.settings import Settings

log = logging.getLogger(__name__)

SCHEMA = 1  # part of the options key: entries of another schema are never read
WHOLE_FILE_LINES = 1000  # a file up to this long is blamed whole the first time it is asked (docs/limits.md)
_MAX_CACHED_ENTRIES = 1024  # entries kept in process memory besides the store (a daemon's hot files)
_MAX_BASES = 8  # earlier revisions considered for carry-forward, the ones holding most of the files first
_MAX_CARRY_COMMITS = 5000  # farther than this, a full blame is as cheap as blaming the range
_EVICT_EVERY = 50  # index writes between two eviction passes (and at every new revision)
_FACTS_EVICT_EVERY = 1000  # git facts written between two eviction passes (and at a process's first write)
GIT_FACTS_MAX_ROWS = 100_000  # commits' facts and files' functions kept in the store, oldest dropped (docs/limits.md)
_MAX_HISTORIES = 2  # revisions whose history a process keeps (a daemon's current deploy and the one before)
TOUCH_SECONDS = 300.0  # an entry used from memory is marked used in the store at most this often (the LRU's grain)

Line = tuple[str, str, int, bool | None]  # sha, original path, original line, cosmetic (None: not yet known)
Key = tuple[str, str, str, str]  # repository, revision, path, options


class IndexStore(Protocol):
    """Where entries live: ``incidentbot.store.Store`` (SQLAlchemy: SQLite or PostgreSQL), or for an existing
    SQLite store ``linkers.blame_index_sqlite.SqliteIndexStore`` (no SQLAlchemy import in a CLI process)."""

    def blame_entries(
        self, repo: str, revision: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], str]: ...

    def blame_revisions(self, repo: str, keys: Sequence[tuple[str, str]]) -> dict[str, int]: ...

    def save_blame_entries(self, repo: str, revision: str, entries: dict[tuple[str, str], str]) -> None: ...

    def count_blame_index(self, counts: dict[str, int]) -> None: ...

    def blame_index_stats(self) -> dict[str, int]: ...

    def evict_blame_index(self, repo: str, max_bytes: int, keep_revisions: int) -> int: ...

    def touch_blame_entries(self, keys: Sequence[tuple[str, str, str, str]]) -> None: ...

    def git_facts(self, kind: str, keys: Sequence[str]) -> dict[str, str]: ...

    def save_git_facts(self, kind: str, values: dict[str, str]) -> None: ...

    def evict_git_facts(self, max_rows: int) -> int: ...


@dataclass(slots=True)
class Entry:
    """What is known so far of one file's blame at one revision under one set of options."""

    lines: dict[int, Line] = field(default_factory=dict)
    commits: dict[str, _CommitMeta] = field(default_factory=dict)

    def encode(self) -> str:
        used = {line[0] for line in self.lines.values()}
        commits = {sha: _encode_meta(meta) for sha, meta in self.commits.items() if sha in used}
        rows = [[n, *line] for n, line in sorted(self.lines.items())]
        return json.dumps({"l": rows, "c": commits}, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def decode(cls, text: str) -> Entry:
        data = json.loads(text)
        lines: dict[int, Line] = {int(r[0]): (sys.intern(r[1]), sys.intern(r[2]), int(r[3]), r[4]) for r in data["l"]}
        return cls(lines, {sha: _decode_meta(m) for sha, m in data["c"].items()})


def _encode_meta(meta: _CommitMeta) -> list[Any]:
    previous = list(meta.previous) if meta.previous else None
    return [
        meta.author.name,
        meta.author.email,
        int(meta.authored_at.timestamp()),
        int(meta.committed_at.timestamp()),
        meta.summary,
        previous,
    ]


def _decode_meta(raw: list[Any]) -> _CommitMeta:
    name, email, authored, committed, summary, previous = raw
    return _CommitMeta(
        author=Person(name=name, email=email),
        authored_at=datetime.fromtimestamp(authored, tz=UTC),
        committed_at=datetime.fromtimestamp(committed, tz=UTC),
        summary=summary,
        previous=(previous[0], previous[1]) if previous else None,
    )


@dataclass(slots=True)
class Counters:
    hits: int = 0  # files whose asked lines were all in the index
    carried: int = 0  # files answered by carrying an earlier revision's entry forward
    misses: int = 0  # files that needed a full blame of some of their lines

    def as_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "carried": self.carried, "misses": self.misses}


class BlameIndex:
    """The index over one store, shared by every triage of the process (thread-safe: one at a time)."""

    def __init__(self, store: IndexStore, max_bytes: int, keep_revisions: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.keep_revisions = keep_revisions
        self._cache: OrderedDict[Key, Entry] = OrderedDict()
        self._dirty: dict[Key, Entry] = {}
        self._counts = Counters()
        self._writes = 0
        self._revisions_seen: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._touched: dict[Key, float] = {}  # when the store last heard an entry was used
        self._to_touch: set[Key] = set()
        self.last = Counters()  # the counts of the last call, for tests and benchmarks
        self._facts_written = 0
        self._facts_pending: dict[str, dict[str, str]] = {}  # kind → sha → JSON, written at the next flush
        self._full_blames: dict[tuple[str, str], int] = {}  # (repository, revision) → files blamed in full
        self._histories: dict[tuple[str, str], FirstParentHistory | None] = {}  # read at the busiest revisions

    # ---- the blame passes of one triage ------------------------------------------------------------------
    def blame(
        self, repo: RepoView, rev: str, wanted: Mapping[str, tuple[Sequence[tuple[int, int]], Sequence[str]]]
    ) -> dict[str, FileBlame]:
        """Per path, the blame of the (clamped) ranges under the ignore list, as ``blame_file`` would return it."""
        with self._lock:
            repo_key = repository_key(repo)
            keys = {path: (repo_key, rev, path, options_key(repo, ignore)) for path, (_, ignore) in wanted.items()}
            entries = self._load(list(keys.values()))
            asked = {path: _lines_of(ranges) for path, (ranges, _) in wanted.items()}
            missing = {path: sorted(asked[path] - entries[keys[path]].lines.keys()) for path in wanted}
            missing = {path: lines for path, lines in missing.items() if lines}
            for path in missing:
                length = len(blob_lines(repo, rev, path))
                # The rest of the file at once: at the first ask for a file of up to WHOLE_FILE_LINES lines, else
                # when asked again at this revision.
                if length <= WHOLE_FILE_LINES or entries[keys[path]].lines:
                    every = range(1, length + 1)
                    missing[path] = sorted(set(every).union(missing[path]) - entries[keys[path]].lines.keys())
            self.last.hits += len(wanted) - len(missing)
            if missing:
                full = self._carry(repo, rev, {p: wanted[p][1] for p in missing}, keys, entries, missing)
                self.last.carried += len(missing) - len(full)
                self.last.misses += len(full)
                self._fill_many(repo, rev, {p: (wanted[p][1], full[p]) for p in full}, keys, entries)
            return {path: self._file_blame(repo, rev, path, entries[keys[path]], asked[path]) for path in wanted}

    def record_cosmetic(self, repo: RepoView, rev: str, path: str, ignore: Sequence[str], blame: FileBlame) -> None:
        """Keep the cosmetic facts ``_reblame_cosmetic`` worked out for a first-pass blame."""
        with self._lock:
            key = (repository_key(repo), rev, path, options_key(repo, ignore))
            entry = self._cache.get(key)
            if entry is None:
                return
            changed = False
            for number, flag in blame.cosmetic.items():
                line = entry.lines.get(number)
                if line is not None and line[3] is None:
                    entry.lines[number] = (line[0], line[1], line[2], flag)
                    changed = True
            if changed:
                self._dirty[key] = entry

    def flush(self) -> None:
        """Write what this triage learned, add to the counters, and evict now and then."""
        self.flush_git_facts()
        with self._lock:
            dirty, self._dirty = self._dirty, {}
            by_rev: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
            for (repo_key, rev, path, options), entry in dirty.items():
                by_rev.setdefault((repo_key, rev), {})[(path, options)] = entry.encode()
            new_revision = False
            touch, self._to_touch = self._to_touch - dirty.keys(), set()
            now = time.time()
            for key in dirty.keys() | touch:
                self._touched[key] = now
            if touch:
                self.store.touch_blame_entries(sorted(touch))
            for (repo_key, rev), texts in by_rev.items():
                self.store.save_blame_entries(repo_key, rev, texts)
                self._writes += len(texts)
                if (repo_key, rev) not in self._revisions_seen:
                    self._revisions_seen.add((repo_key, rev))
                    new_revision = True
            last, self.last = self.last, Counters()
            for name, value in last.as_dict().items():
                setattr(self._counts, name, getattr(self._counts, name) + value)
            self.store.count_blame_index(last.as_dict())
            if by_rev and (new_revision or self._writes >= _EVICT_EVERY):
                self._writes = 0
                for repo_key in {repo_key for repo_key, _ in by_rev}:
                    dropped = self.store.evict_blame_index(repo_key, self.max_bytes, self.keep_revisions)
                    if dropped:
                        self._forget_evicted()
                        log.info("blame index: %d entries evicted", dropped)

    # ---- facts of single git objects (linkers/suspects.py's commit facts, linkers/scope.py's functions) --------
    def git_facts(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        """The facts (JSON) of these objects by sha, kept or about to be; none when the store fails (git is asked
        again)."""
        with self._lock:
            pending = self._facts_pending.get(kind, {})
            found = {key: pending[key] for key in keys if key in pending}
            rest = [key for key in keys if key not in found]
            try:
                return found | (self.store.git_facts(kind, rest) if rest else {})
            except Exception as exc:  # a cache: a failing store costs time, never the triage
                log.warning("git facts unavailable from the store: %s: %s", type(exc).__name__, exc)
                return found

    def save_git_facts(self, kind: str, values: dict[str, str]) -> None:
        """Keep facts of git objects for the next process: written at the next ``flush`` (one write a triage,
        however many files and commits), the oldest dropped past ``GIT_FACTS_MAX_ROWS``."""
        with self._lock:
            pending = self._facts_pending.setdefault(kind, {})
            for key, value in values.items():
                pending.setdefault(key, value)  # immutable: the first value stays, as in the store

    def flush_git_facts(self) -> None:
        with self._lock:
            pending, self._facts_pending = self._facts_pending, {}
            try:
                for kind, values in sorted(pending.items()):
                    self.store.save_git_facts(kind, values)
                    first = self._facts_written == 0  # a CLI process writes once: it evicts then
                    self._facts_written += len(values)
                    if first or self._facts_written >= _FACTS_EVICT_EVERY:
                        self._facts_written = 1
                        self.store.evict_git_facts(GIT_FACTS_MAX_ROWS)
            except Exception as exc:
                log.warning("git facts not stored: %s: %s", type(exc).__name__, exc)

    # ---- store and memory ----------------------------------------------------------------------------------
    def _load(self, keys: Sequence[Key]) -> dict[Key, Entry]:
        found: dict[Key, Entry] = {}
        wanted: dict[tuple[str, str], list[Key]] = {}
        for key in keys:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
                found[key] = entry
                if self._touched.get(key, 0.0) < time.time() - TOUCH_SECONDS:
                    self._to_touch.add(key)  # used from memory: the store's LRU must hear of it too
            else:
                wanted.setdefault((key[0], key[1]), []).append(key)
        for (repo_key, rev), group in wanted.items():
            texts = self.store.blame_entries(repo_key, rev, [(k[2], k[3]) for k in group])
            for key in group:
                text = texts.get((key[2], key[3]))
                entry = Entry.decode(text) if text is not None else Entry()
                found[key] = entry
                self._keep(key, entry)
                self._touched[key] = time.time()  # the store marks what it hands out as used
        return found

    def _keep(self, key: Key, entry: Entry) -> None:
        self._cache[key] = entry
        self._cache.move_to_end(key)
        while len(self._cache) > _MAX_CACHED_ENTRIES:
            old, _ = self._cache.popitem(last=False)
            self._dirty.pop(old, None)
            self._touched.pop(old, None)
            self._to_touch.discard(old)

    def _forget_evicted(self) -> None:
        self._cache.clear()  # what stays in memory must not outlive what the store keeps for long
        self._touched.clear()
        self._to_touch.clear()

    # ---- filling: a full blame of the lines not yet known ------------------------------------------------------
    def _fill_many(
        self,
        repo: RepoView,
        rev: str,
        work: Mapping[str, tuple[Sequence[str], Sequence[int]]],
        keys: Mapping[str, Key],
        entries: Mapping[Key, Entry],
    ) -> None:
        history = self._history(repo, rev, keys[next(iter(work))][0], len(work)) if work else None

        def one(path: str) -> tuple[str, FileBlame]:
            ignore, lines = work[path]
            return path, _run_blame(repo, rev, path, _ranges_of(lines), ignore, history)

        for path, found in in_parallel(one, list(work)):
            self._absorb(keys[path], entries[keys[path]], found)

    def _history(self, repo: RepoView, rev: str, repo_key: str, blames: int) -> FirstParentHistory | None:
        """The revision's linear history (linkers/history.py), read once this process has blamed
        ``USE_AFTER_BLAMES`` files in full at it; None before, and for a history it does not serve."""
        at = (repo_key, rev)
        if at not in self._histories:
            if len(self._full_blames) > _MAX_HISTORIES * 32:  # counts of revisions long gone
                self._full_blames.clear()
            self._full_blames[at] = self._full_blames.get(at, 0) + blames
            if self._full_blames[at] < USE_AFTER_BLAMES:
                return None
            if len(self._histories) >= _MAX_HISTORIES:
                self._histories.pop(next(iter(self._histories)))
            self._histories[at] = FirstParentHistory.read(repo, rev)
        return self._histories[at]

    def _absorb(self, key: Key, entry: Entry, found: FileBlame) -> None:
        for number, bl in found.lines.items():
            entry.lines[number] = (sys.intern(bl.sha), sys.intern(bl.orig_path), bl.orig_line, None)
            entry.commits.setdefault(bl.sha, found.commits[bl.sha])
        if found.lines:
            self._dirty[key] = entry
            self._keep(key, entry)

    # ---- carry-forward -------------------------------------------------------------------------------------
    def _carry(
        self,
        repo: RepoView,
        rev: str,
        ignores: Mapping[str, Sequence[str]],
        keys: Mapping[str, Key],
        entries: dict[Key, Entry],
        missing: Mapping[str, Sequence[int]],
    ) -> dict[str, list[int]]:
        """Fill the missing lines from an earlier revision's entries where that is exact; the lines left for a
        full blame, per path (a path is absent when carry-forward answered all of its lines)."""
        base = self._base(repo, rev, [keys[p] for p in missing])
        if base is None:
            return {path: list(lines) for path, lines in missing.items()}
        base_keys = {path: (keys[path][0], base, path, keys[path][3]) for path in missing}
        held = self._load(list(base_keys.values()))
        # A file R1 holds lines of, or one that R1 does not have under this path (renamed since, or new).
        paths = [path for path in missing if held[base_keys[path]].lines or not repo.is_tracked(path, base)]
        left: dict[str, list[int]] = {path: list(lines) for path, lines in missing.items() if path not in paths}

        # Lines git leaves on R1: (R1 path, R1 line) per R2 line, by path at R1.
        at_base: dict[str, list[tuple[str, int, int]]] = {}
        at_r1 = [path for path in paths if repo.is_tracked(path, base)]
        # A file whose content differs at R1 and R2 was changed in R1..R2: its range blame starts at once, while
        # one git log tells which of the others a commit touched (and put back, as a revert does); the blames of
        # those start as soon as the log has answered, beside the first ones.
        same = [path for path in at_r1 if repo.blob_id(base, path) == repo.blob_id(rev, path)]
        with ThreadPoolExecutor(max_workers=GIT_PROCESSES) as pool:

            def blame_range(path: str) -> Future[tuple[FileBlame, set[str]] | None]:
                return pool.submit(_range_blame, repo, base, rev, path, missing[path], ignores[path])

            started = {path: blame_range(path) for path in paths if path not in same}
            changed = _paths_changed(repo, base, rev, same) if same else set()
            put_back = [path for path in same if changed is None or path in changed]
            started.update({path: blame_range(path) for path in put_back})
            ranged = {path: future.result() for path, future in started.items()}
        # A file no commit in R1..R2 changed is R1's, line for line: no blame to run (most files, most deploys).
        for path in [p for p in same if p not in put_back]:
            at_base[path] = [(path, number, number) for number in missing[path]]
        paths = [path for path in paths if path not in at_base]
        for path in paths:
            found = ranged[path]
            if found is None:
                left[path] = list(missing[path])
                continue
            blame, boundary = found
            entry = entries[keys[path]]
            for number in missing[path]:
                bl = blame.lines.get(number)
                if bl is None or (bl.sha in boundary and bl.sha != base):
                    left.setdefault(path, []).append(number)
                elif bl.sha in boundary:
                    at_base.setdefault(bl.orig_path, []).append((path, number, bl.orig_line))
                else:
                    entry.lines[number] = (bl.sha, bl.orig_path, bl.orig_line, None)
                    entry.commits.setdefault(bl.sha, blame.commits[bl.sha])
                    self._dirty[keys[path]] = entry
        # R1's entries for the paths the lines had there (another path after a rename), filled where they lack.
        options = {path: keys[path][3] for path in missing}
        base_entries: dict[str, Key] = {}
        for old_path, items in at_base.items():
            first = items[0][0]
            key = (keys[first][0], base, old_path, options[first])
            if any(options[p] != key[3] for p, _, _ in items):
                for p, number, _ in items:
                    left.setdefault(p, []).append(number)
                continue
            base_entries[old_path] = key
        loaded = self._load(list(base_entries.values()))
        need = {
            old_path: sorted({line for _, _, line in at_base[old_path]} - loaded[key].lines.keys())
            for old_path, key in base_entries.items()
        }
        need = {p: lines for p, lines in need.items() if lines}
        if need:
            first_ignore = {p: ignores[at_base[p][0][0]] for p in need}
            self._fill_many(
                repo, base, {p: (first_ignore[p], need[p]) for p in need}, {p: base_entries[p] for p in need}, loaded
            )
        for old_path, key in base_entries.items():
            source = loaded[key]
            for path, number, line in at_base[old_path]:
                found_line = source.lines.get(line)
                if found_line is None:
                    left.setdefault(path, []).append(number)
                    continue
                entry = entries[keys[path]]
                entry.lines[number] = found_line
                entry.commits.setdefault(found_line[0], source.commits[found_line[0]])
                self._dirty[keys[path]] = entry
        for path in missing:
            if path not in left:
                self._keep(keys[path], entries[keys[path]])
        return {path: sorted(set(lines)) for path, lines in left.items()}

    def _base(self, repo: RepoView, rev: str, keys: Sequence[Key]) -> str | None:
        """The nearest ancestor of ``rev`` holding entries for some of these files, if any."""
        repo_key = keys[0][0]
        counts = self.store.blame_revisions(repo_key, [(k[2], k[3]) for k in keys])
        counts.pop(rev, None)
        best: tuple[int, str] | None = None
        for candidate, _ in sorted(counts.items(), key=lambda item: -item[1])[:_MAX_BASES]:
            distance = _distance(repo, candidate, rev)
            if distance is not None and distance <= _MAX_CARRY_COMMITS and (best is None or distance < best[0]):
                best = (distance, candidate)
        return best[1] if best else None

    # ---- answers -------------------------------------------------------------------------------------------
    def _file_blame(self, repo: RepoView, rev: str, path: str, entry: Entry, asked: set[int]) -> FileBlame:
        text = blob_lines(repo, rev, path)
        lines: dict[int, BlamedLine] = {}
        cosmetic: dict[int, bool] = {}
        for number in sorted(asked):
            line = entry.lines.get(number)
            if line is None or number > len(text):
                continue
            lines[number] = BlamedLine(line[0], line[1], line[2], text[number - 1])
            if line[3] is not None:
                cosmetic[number] = line[3]
        commits = {bl.sha: entry.commits[bl.sha] for bl in lines.values()}
        return FileBlame(lines, commits, cosmetic=cosmetic)

    def stats(self) -> dict[str, int]:
        return self.store.blame_index_stats()


def _range_blame(
    repo: RepoView, base: str, rev: str, path: str, lines: Sequence[int], ignore: Sequence[str]
) -> tuple[FileBlame, set[str]] | None:
    """``git blame --porcelain -w … base..rev -- path`` of the lines: the blame and its boundary commits."""
    args = ["--porcelain", "-w"]
    for sha in ignore:
        args += ["--ignore-rev", sha]
    for lo, hi in _ranges_of(lines):
        args += ["-L", f"{lo},{hi}"]
    try:
        out = repo.git.blame(*args, f"{base}..{rev}", "--", path, stdout_as_string=False)
    except git.GitCommandError as exc:
        log.info("git blame %s..%s %s failed: %s", base[:12], rev[:12], path, str(exc.stderr).strip()[:200])
        return None
    blame, fields = parse_porcelain_fields(bytes(out).decode("utf-8", errors="replace"))
    return blame, {sha for sha, meta in fields.items() if "boundary" in meta}


def _paths_changed(repo: RepoView, base: str, rev: str, paths: Sequence[str]) -> set[str] | None:
    """Of ``paths``, those that a commit of ``base..rev`` changed, in the history blame walks (a merge that kept
    one parent's version passes the file to that parent, as blame does; other merges count against each parent);
    None when git cannot tell."""
    if not paths:
        return set()
    try:
        out = repo.git.log(
            "-m",
            "-z",
            "--name-only",
            "--no-renames",
            "--format=",
            f"{base}..{rev}",
            "--",
            *(f":(literal){path}" for path in paths),
        )
    except git.GitCommandError as exc:
        log.info("git log %s..%s of %d paths failed: %s", base[:12], rev[:12], len(paths), str(exc.stderr)[:200])
        return None
    return {name.strip("\n") for name in str(out).split("\0")} & set(paths)


def _distance(repo: RepoView, older: str, newer: str) -> int | None:
    """Commits in older..newer when ``older`` is an ancestor of ``newer``, else None (cached per pair)."""

    def count() -> int | None:
        if not repo.is_ancestor(older, newer):
            return None
        try:
            return int(str(repo.git.rev_list("--count", f"{older}..{newer}", "--")).strip())
        except (git.GitCommandError, ValueError):
            return None

    return repo.once(("blame-index-distance", older, newer), count)


def blob_lines(repo: RepoView, rev: str, path: str) -> tuple[str, ...]:
    """The file's lines at the revision as git blame numbers them (split at newlines only)."""

    def read() -> tuple[str, ...]:
        lines = tuple((repo.read_text(path, rev) or "").split("\n"))
        return lines[:-1] if lines and lines[-1] == "" else lines

    return repo.once(("blame-index-blob", rev, path), read)


def repository_key(repo: RepoView) -> str:
    """The repository, by its folder (a revision's sha already fixes the history; this groups for eviction)."""
    return repo.once(
        ("blame-index-repo",),
        lambda: hashlib.sha256(str(Path(repo.git_repo.common_dir).resolve()).encode()).hexdigest()[:32],
    )


def options_key(repo: RepoView, ignore: Sequence[str]) -> str:
    """Everything but revision and path that changes git's answer, hashed."""
    parts = [f"schema {SCHEMA}", "--porcelain -w", *(f"--ignore-rev {sha}" for sha in ignore)]
    if repo.is_shallow():
        shallow = Path(repo.git_repo.common_dir) / "shallow"
        parts.append("shallow " + (shallow.read_text() if shallow.is_file() else ""))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _lines_of(ranges: Iterable[tuple[int, int]]) -> set[int]:
    return {n for lo, hi in ranges for n in range(lo, hi + 1)}


def _ranges_of(lines: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for n in sorted(set(lines)):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges


@lru_cache(maxsize=4)
def _index_for(url: str, max_bytes: int, keep_revisions: int) -> BlameIndex:
    from incidentbot.sqlite_schema import create_new_store
    from linkers.blame_index_sqlite import SqliteIndexStore

    store: IndexStore | None = SqliteIndexStore.open_existing(url)
    if store is None and create_new_store(url):  # the first triage on this machine: no SQLAlchemy either
        store = SqliteIndexStore.open_existing(url)
    if store is None:  # PostgreSQL, or a store to migrate: the Store migrates and serves it
        from incidentbot.store import open_store

        store = open_store(url)
    return BlameIndex(store, max_bytes, keep_revisions)


def shared_index(settings: Settings) -> BlameIndex | None:
    """The process's index over the configured store (the daemon's, the CLI's and the Action's); None when off."""
    if not settings.blame_index:
        return None
    return _index_for(settings.effective_database_url, settings.blame_index_max_bytes, settings.blame_index_revisions)


def index_or_none(settings: Settings) -> BlameIndex | None:
    """``shared_index``, or None when the store cannot be opened (a read-only folder, a database down): linkers
    then ask git, as without an index."""
    return store_outage.unless_down(settings.effective_database_url, lambda: shared_index(settings))
