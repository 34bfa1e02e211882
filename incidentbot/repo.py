"""RepoView: read-only access to a git repository at a given revision, shared by linkers and agent tools.

Every path it reads must be a file tracked at the revision, so no trace can make it read a file outside the
repository (``../``, absolute paths and symlinks are never followed: a symlink is not a regular tracked file).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar, cast

import git

from incidentbot.errors import LinkError

log = logging.getLogger(__name__)

_REGULAR_FILE_MODES = {"100644", "100755"}
_MAX_CACHED_REVISIONS = 8
_MAX_MEMO = 2048
_ConfigLevel = Literal["system", "user", "global", "repository"]
_CONFIG_LEVELS: tuple[_ConfigLevel, ...] = ("system", "user", "global", "repository")  # what config_reader reads
_GITHUB_REMOTE = re.compile(r"^(?:https://|ssh://git@|git@)github\.com[:/](?P<slug>[^/\s]+/[^/\s]+?)(?:\.git)?/?$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_SHORTSTAT = re.compile(r"(\d+) (file|insertion|deletion)")
GIT_PROCESSES = 4  # git processes one triage runs at a time
_FACTS_PER_PROCESS = 2  # commits per ``git log`` below which one more process costs more than it saves

T = TypeVar("T")
_ABSENT = object()  # a memo key not there (None is an answer)
R = TypeVar("R")


def in_parallel(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``work`` of every item, results in order; each item is its own git process, ``GIT_PROCESSES`` at a time
    (one item runs here, without a thread)."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=GIT_PROCESSES) as pool:
        return list(pool.map(work, items))


class RepoView:
    """A git repository opened read-only. Results are cached per revision."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            # Like git itself: a folder inside a checkout means that checkout.
            self.git_repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise LinkError(f"not a git repository: {path}", "pass --repo PATH to a git checkout") from exc
        git_dir = Path(self.git_repo.git_dir)
        # A bare repository without a config file (core.bare unset, as some mirroring tools leave it): GitPython
        # takes its parent folder for a work tree and would run git there. Point git at the repository itself.
        self.bare = self.git_repo.bare or (git_dir.name != ".git" and git_dir.resolve() == Path(path).resolve())
        if self.bare:
            self.git_repo.git.update_environment(GIT_DIR=str(git_dir))
        self.root = git_dir if self.bare else Path(self.git_repo.working_tree_dir or path)
        self.git = self.git_repo.git
        self._tracked: dict[str, tuple[str, ...]] = {}
        self._lines: dict[tuple[str, str], tuple[str, ...] | None] = {}
        self._blobs: dict[tuple[str, str], str] = {}  # (path, rev) → the blob's sha, of the files read
        self._tracked_sets: dict[str, frozenset[str]] = {}
        self._graph_checked = False
        self._shallow: bool | None = None
        self._mailmap_config: tuple[tuple[tuple[int, int] | None, ...] | None, bool] | None = None
        self.memo: dict[tuple[object, ...], object] = {}  # results keyed by commit: they never go stale

    # ---- revisions -------------------------------------------------------------------------------------
    def head(self) -> str | None:
        """The commit HEAD points at, or None in an empty repository."""
        return self.resolve("HEAD")

    def resolve(self, ref: str) -> str | None:
        """The 40-hex commit a ref, tag or abbreviated sha names, or None."""
        if not ref or ref.startswith("-"):
            return None
        # A full sha found once names that commit for good (a ref moves): the daemon resolves a release's sha
        # for every event of it.
        known = ("commit", ref) if _HEX40.match(ref) else None
        if known is not None and known in self.memo:
            return ref
        try:
            sha = str(self.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")).strip()
        except git.GitCommandError:
            return None
        if not _HEX40.match(sha):
            return None
        if known is not None:
            self.remember(known, True)
        return sha

    def commit_before(self, when: datetime, ref: str = "HEAD") -> str | None:
        """The last commit on ``ref``'s first-parent line committed at or before ``when``.

        Most triages are of an error seen after the tip was committed, and then the answer is the tip: it is
        read through git's persistent ``cat-file`` process, which spares the ``rev-list`` process that every
        other answer costs (a warm triage's largest cost)."""
        stamp = int(when.timestamp())
        tip = self._tip(ref)
        tip_time = self._committer_time(tip) if tip is not None else None
        if tip_time is not None and tip_time <= stamp:
            return tip
        try:
            out = str(self.git.rev_list("-1", "--first-parent", f"--before={stamp}", ref, "--")).strip()
        except git.GitCommandError:
            return None
        return out or None

    def _tip(self, ref: str) -> str | None:
        """The commit ``ref`` points at now, read by git itself (no new process); None when it names none."""
        try:
            sha, kind, _ = self.git.get_object_header(f"{ref}^{{commit}}")
        except (git.GitCommandError, ValueError):
            return None
        sha = sha.decode() if isinstance(sha, bytes) else str(sha)
        return sha if kind in (b"commit", "commit") and _HEX40.match(sha) else None

    def _committer_time(self, sha: str) -> int | None:
        """A commit's committer time in seconds, from its object (git's ``--before`` compares this time); None
        when the object does not read as a commit."""

        def read() -> int:
            _, _, _, data = self.git.get_object_data(sha)
            header = bytes(data).split(b"\n\n", 1)[0].split(b"\n")
            committer = next(line for line in header if line.startswith(b"committer "))
            return int(committer.rsplit(b" ", 2)[-2])

        try:
            return self.once(("committer_time", sha), read)
        except (git.GitCommandError, ValueError, StopIteration, IndexError):
            return None

    def is_ancestor(self, older: str, newer: str) -> bool:
        try:
            self.git.merge_base("--is-ancestor", older, newer)
        except git.GitCommandError:
            return False
        return True

    def is_shallow(self) -> bool:
        if self._shallow is None:
            self._shallow = str(self.git.rev_parse("--is-shallow-repository")).strip() == "true"
        return self._shallow

    def shallow_boundary(self) -> str | None:
        """The first commit of the shallow boundary, for the error message."""
        shallow = Path(self.git_repo.git_dir) / "shallow"
        if not shallow.is_file():
            return None
        first = shallow.read_text().split()
        return first[0] if first else None

    def has_mailmap(self) -> bool:
        """Whether git would rename any author here: a ``.mailmap`` in the checkout, or ``mailmap.file`` or
        ``mailmap.blob`` set (a bare repository reads ``HEAD:.mailmap`` by default). Read each time (a pull can
        add the file) from the files alone, so most repositories skip a git process per triage. The git
        configuration is parsed again only when one of its files changed (size or time; a file it includes is not
        watched)."""
        if self.bare or (self.root / ".mailmap").is_file():
            return True
        stamp = self._config_stamp()
        if self._mailmap_config is None or stamp is None or self._mailmap_config[0] != stamp:
            config = self.git_repo.config_reader()
            named = bool(config.has_option("mailmap", "file") or config.has_option("mailmap", "blob"))
            self._mailmap_config = (stamp, named)
        return self._mailmap_config[1]

    def _config_stamp(self) -> tuple[tuple[int, int] | None, ...] | None:
        """Size and time of each git config file GitPython reads; None (read the config again) when its private
        way of naming them is gone in another GitPython version."""
        try:
            return tuple(_stamp(self.git_repo._get_config_path(level)) for level in _CONFIG_LEVELS)
        except (AttributeError, TypeError, ValueError, NotADirectoryError):
            return None

    def commit_time(self, sha: str) -> datetime:
        out = str(self.git.show("-s", "--format=%ct", sha)).strip()
        return datetime.fromtimestamp(int(out), tz=UTC)

    def once(self, key: tuple[object, ...], compute: Callable[[], R]) -> R:
        """``compute()``'s answer for a key fixed by commits (it never goes stale), computed once while the memo
        keeps it; an exception is not kept, so the next ask tries again."""
        found = self.memo.get(key, _ABSENT)
        if found is _ABSENT:
            found = compute()
            self.remember(key, found)
        return cast(R, found)

    def remember(self, key: tuple[object, ...], value: object) -> None:
        """Keep a result computed at a fixed commit (bounded, so a long-running daemon stays flat)."""
        if len(self.memo) >= _MAX_MEMO:
            self.memo.clear()
        self.memo[key] = value

    # ---- speed ---------------------------------------------------------------------------------------------
    def has_changed_path_filters(self) -> bool:
        """Whether git's commit-graph carries changed-path Bloom filters (what makes blame fast)."""
        info = Path(self.git_repo.common_dir) / "objects" / "info"
        graphs = [info / "commit-graph"] if (info / "commit-graph").is_file() else []
        if (info / "commit-graphs").is_dir():
            graphs += sorted((info / "commit-graphs").glob("*.graph"))
        for graph in graphs:
            with graph.open("rb") as handle:
                if b"BIDX" in handle.read(512):  # the chunk table sits at the start of the file
                    return True
        return False

    def ensure_commit_graph(self) -> str | None:
        """Write git's commit-graph with changed-path filters once, when missing; a warning if that fails.

        It is a cache that git itself maintains (``git maintenance`` writes the same file): it changes no commit
        or ref, and makes ``git blame`` on a long history several times faster.
        """
        if self._graph_checked:
            return None
        self._graph_checked = True
        if self.is_shallow() or self.has_changed_path_filters():
            return None
        # --reachable starts from the refs; a detached checkout with no refs (CI, benchmarks) needs HEAD given.
        head = self.head() or ""
        done = subprocess.run(
            ["git", "commit-graph", "write", "--reachable", "--changed-paths"], cwd=self.root, capture_output=True
        )
        if done.returncode == 0 and not self.has_changed_path_filters():
            done = subprocess.run(
                ["git", "commit-graph", "write", "--stdin-commits", "--changed-paths"],
                cwd=self.root,
                input=f"{head}\n".encode(),
                capture_output=True,
            )
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            return f"could not write git's commit-graph, so blame is slower: {detail[0][:160]}"
        log.info("wrote the commit-graph with changed-path filters in %s", self.root)
        return None

    # ---- files -----------------------------------------------------------------------------------------
    def tracked_files(self, rev: str) -> tuple[str, ...]:
        """Regular files tracked at ``rev`` (no symlinks, no submodules), repository-relative."""
        cached = self._tracked.get(rev)
        if cached is not None:
            return cached
        out = str(self.git.ls_tree("-r", "-z", "--full-tree", rev))
        files: list[str] = []
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, _, name = entry.partition("\t")
            mode = meta.split(" ", 1)[0]
            if mode in _REGULAR_FILE_MODES:
                files.append(name)
        result = tuple(files)
        if len(self._tracked) >= _MAX_CACHED_REVISIONS:  # a daemon sees many revisions; keep memory flat
            self._tracked.clear()
            self._tracked_sets.clear()
        self._tracked[rev] = result
        return result

    def tracked_set(self, rev: str) -> frozenset[str]:
        """The tracked files at ``rev`` as a set (cached), for membership tests."""
        cached = self._tracked_sets.get(rev)
        if cached is None:
            cached = self._tracked_sets[rev] = frozenset(self.tracked_files(rev))
        return cached

    def is_tracked(self, path: str, rev: str) -> bool:
        return path in self.tracked_set(rev)

    def read_text(self, path: str, rev: str) -> str | None:
        """The text of a tracked file at ``rev``, or None when it is not a tracked regular file."""
        if not self.is_tracked(path, rev):
            return None
        try:
            sha, _, _, data = self.git.get_object_data(f"{rev}:{path}")
        except (git.GitCommandError, ValueError):
            return None
        if len(self._blobs) > 4096:
            self._blobs.clear()
        self._blobs[(path, rev)] = sha.decode() if isinstance(sha, bytes) else str(sha)
        return bytes(data).decode("utf-8", errors="replace")

    def blob_sha(self, path: str, rev: str) -> str | None:
        """The sha of a file's content at ``rev``, once the file has been read: a key for facts of the content."""
        return self._blobs.get((path, rev))

    def read_lines(self, path: str, rev: str) -> tuple[str, ...] | None:
        """The lines of a tracked file at ``rev`` (cached: linkers read the same files)."""
        key = (path, rev)
        if key in self._lines:
            return self._lines[key]
        text = self.read_text(path, rev)
        lines = None if text is None else tuple(text.splitlines())
        if len(self._lines) > 512:
            self._lines.clear()
        self._lines[key] = lines
        return lines

    def read_git_blob_lines(self, rev: str, path: str) -> tuple[str, ...] | None:
        """Lines of ``path`` at ``rev`` for a path that git itself reported (blame's ``previous``).

        Only for paths taken from git's own output or tracked at the triage revision, never straight from a
        trace: it skips the tracked-file check so that reading another commit's file does not list that
        commit's whole tree. It reads git's objects only, never the work tree.
        """
        return self.read_blob_lines(f"{rev}:{path}")

    def blob_id(self, rev: str, path: str) -> str | None:
        """The id of the blob ``path`` has at ``rev`` (git's persistent ``cat-file --batch-check``), or None when
        the path is no file there. Same rule as ``read_git_blob_lines`` for where ``path`` may come from."""
        try:
            sha, kind, _ = self.git.get_object_header(f"{rev}:{path}")
        except (git.GitCommandError, ValueError):
            return None
        return (sha.decode() if isinstance(sha, bytes) else str(sha)) if kind in (b"blob", "blob") else None

    def read_blob_lines(self, name: str) -> tuple[str, ...] | None:
        """Lines of the blob git names ``name`` (an id, or ``rev:path``), from git's objects."""
        try:
            _, kind, _, data = self.git.get_object_data(name)
        except (git.GitCommandError, ValueError):
            return None
        if kind not in (b"blob", "blob"):
            return None
        return tuple(bytes(data).decode("utf-8", errors="replace").splitlines())

    def commit_facts(self, shas: list[str]) -> dict[str, tuple[tuple[str, ...], int, int, int]]:
        """Per commit: (parents, files, insertions, deletions), whitespace changes not counted.

        ``git log --no-walk -w --shortstat``, a whitespace-only commit showing 0 files. Diffing large commits
        is most of a cold triage's git time, so the commits are split over up to ``GIT_PROCESSES`` processes,
        no more than the machine has cores (more only add git's start-up; measured on 2 cores).
        """
        if not shas:
            return {}
        processes = max(1, min(GIT_PROCESSES, os.cpu_count() or 1, len(shas) // _FACTS_PER_PROCESS))
        chunks = [shas[i::processes] for i in range(processes)]
        facts: dict[str, tuple[tuple[str, ...], int, int, int]] = {}
        for part in in_parallel(self._commit_facts_of, chunks):
            facts.update(part)
        return facts

    def _commit_facts_of(self, shas: list[str]) -> dict[str, tuple[tuple[str, ...], int, int, int]]:
        try:
            out = str(self.git.log("--no-walk=unsorted", "-w", "--shortstat", "--format=%x00%H %P", *shas, "--"))
        except git.GitCommandError as exc:
            log.warning("git log of %d commits failed: %s", len(shas), str(exc.stderr).strip()[:200])
            return {}
        facts: dict[str, tuple[tuple[str, ...], int, int, int]] = {}
        for chunk in out.split("\0")[1:]:
            head, _, stat = chunk.partition("\n")
            sha, *parents = head.split()
            numbers = {kind: int(n) for n, kind in _SHORTSTAT.findall(stat)}
            facts[sha] = (
                tuple(parents),
                numbers.get("file", 0),
                numbers.get("insertion", 0),
                numbers.get("deletion", 0),
            )
        return facts

    def changed_blocks(
        self, old: tuple[str, str], new: tuple[str, str]
    ) -> list[tuple[tuple[int, int], tuple[int, int]]] | None:
        """The blocks of git's line diff between two versions of a file, each (rev, path) as git reported it:
        per block, the (old, new) line ranges it replaced, 0-based and end-exclusive. None when git cannot diff
        them (a version missing)."""
        try:
            out = str(
                self.git.diff(
                    "--no-color", "--no-ext-diff", "--no-textconv", "-U0", f"{old[0]}:{old[1]}", f"{new[0]}:{new[1]}"
                )
            )
        except git.GitCommandError:
            return None
        from unidiff.errors import UnidiffParseError  # here: most commands never diff, and unidiff costs 9 ms
        from unidiff.patch import PatchSet

        try:
            hunks = [hunk for patched in PatchSet(out) for hunk in patched]
        except UnidiffParseError:
            return None
        blocks = []
        for hunk in hunks:
            # With no context, a block that only adds (removes) lines has length 0 on its old (new) side.
            old_lo = hunk.source_start - 1 if hunk.source_length else hunk.source_start
            new_lo = hunk.target_start - 1 if hunk.target_length else hunk.target_start
            blocks.append(((old_lo, old_lo + hunk.source_length), (new_lo, new_lo + hunk.target_length)))
        return blocks

    def commits_changing(self, rev: str, paths: list[str], limit: int) -> list[str]:
        """The commits reachable from ``rev`` that changed any of ``paths``, newest first, at most ``limit``."""
        if not paths:
            return []
        literal = [f":(literal){path}" for path in paths]
        try:
            out = str(self.git.log("--format=%H", f"--max-count={limit}", rev, "--", *literal))
        except git.GitCommandError:
            return []
        return out.split()

    def paths_named(self, rev: str, names: list[str], walk: int) -> frozenset[str]:
        """Paths with one of these file names that the newest ``walk`` or so commits reachable from ``rev``
        changed: where a file lived before it was moved or deleted.

        A glob pathspec cannot use the commit-graph's path filters, so without ``walk`` a name that never existed
        would cost a walk of the whole history (5 s on ansible's 49,000 commits; 1 s for 2,000)."""
        if not names:
            return frozenset()
        globs = [f":(glob)**/{_glob_escape(name)}" for name in names]
        try:
            bound = str(self.git.rev_list("--max-count=1", f"--skip={walk}", rev, "--")).strip()
            since = f"{bound}..{rev}" if bound else rev
            out = str(self.git.log("--format=", "--name-only", "--no-renames", since, "--", *globs))
        except git.GitCommandError:
            return frozenset()
        wanted = set(names)
        return frozenset(p for p in out.splitlines() if p and p.rsplit("/", 1)[-1] in wanted)

    def commits_in_range(self, old: str, new: str, limit: int = 20000) -> frozenset[str]:
        """The commits in ``old..new`` (a deploy range), at most ``limit``."""
        try:
            out = str(self.git.rev_list(f"--max-count={limit}", f"{old}..{new}", "--"))
        except git.GitCommandError:
            return frozenset()
        return frozenset(out.split())

    # ---- remote ----------------------------------------------------------------------------------------
    def github_url(self) -> str | None:
        """https://github.com/owner/name for an ``origin`` on GitHub, else None (asked once per view)."""

        def read() -> str | None:
            try:
                url = str(self.git.config("--get", "remote.origin.url")).strip()
            except git.GitCommandError:
                url = ""
            match = _GITHUB_REMOTE.match(url)
            return f"https://github.com/{match['slug']}" if match else None

        return self.once(("github_url",), read)


def _glob_escape(name: str) -> str:
    """A file name as a literal inside a ``:(glob)`` pathspec."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in name)


def _stamp(path: str) -> tuple[int, int] | None:
    """A file's size and modification time, None when it is absent: what says it may have changed."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)
