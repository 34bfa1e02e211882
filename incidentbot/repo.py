"""RepoView: read-only access to a git repository at a given revision, shared by linkers and agent tools.

Every path it reads must be a file tracked at the revision, so no trace can make it read a file outside the
repository (``../``, absolute paths and symlinks are never followed: a symlink is not a regular tracked file).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import git

from incidentbot.errors import LinkError

log = logging.getLogger(__name__)

_REGULAR_FILE_MODES = {"100644", "100755"}
_GITHUB_REMOTE = re.compile(r"^(?:https://|ssh://git@|git@)github\.com[:/](?P<slug>[^/\s]+/[^/\s]+?)(?:\.git)?/?$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


class RepoView:
    """A git repository opened read-only. Results are cached per revision."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.git_repo = git.Repo(path, search_parent_directories=False)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise LinkError(f"not a git repository: {path}", "pass --repo PATH to a git checkout") from exc
        if self.git_repo.bare:
            self.root = Path(self.git_repo.git_dir)
        else:
            self.root = Path(self.git_repo.working_tree_dir or path)
        self.git = self.git_repo.git
        self._tracked: dict[str, tuple[str, ...]] = {}

    # ---- revisions -------------------------------------------------------------------------------------
    def head(self) -> str | None:
        """The commit HEAD points at, or None in an empty repository."""
        return self.resolve("HEAD")

    def resolve(self, ref: str) -> str | None:
        """The 40-hex commit a ref, tag or abbreviated sha names, or None."""
        if not ref or ref.startswith("-"):
            return None
        try:
            sha = str(self.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")).strip()
        except git.GitCommandError:
            return None
        return sha if _HEX40.match(sha) else None

    def commit_before(self, when: datetime, ref: str = "HEAD") -> str | None:
        """The last commit on ``ref``'s first-parent line committed at or before ``when``."""
        stamp = int(when.timestamp())
        try:
            out = str(self.git.rev_list("-1", "--first-parent", f"--before={stamp}", ref, "--")).strip()
        except git.GitCommandError:
            return None
        return out or None

    def is_ancestor(self, older: str, newer: str) -> bool:
        try:
            self.git.merge_base("--is-ancestor", older, newer)
        except git.GitCommandError:
            return False
        return True

    def is_shallow(self) -> bool:
        return str(self.git.rev_parse("--is-shallow-repository")).strip() == "true"

    def shallow_boundary(self) -> str | None:
        """The first commit of the shallow boundary, for the error message."""
        shallow = Path(self.git_repo.git_dir) / "shallow"
        if not shallow.is_file():
            return None
        first = shallow.read_text().split()
        return first[0] if first else None

    def commit_time(self, sha: str) -> datetime:
        out = str(self.git.show("-s", "--format=%ct", sha)).strip()
        return datetime.fromtimestamp(int(out), tz=timezone.utc)

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
        self._tracked[rev] = result
        return result

    def is_tracked(self, path: str, rev: str) -> bool:
        return path in _as_set(self.tracked_files(rev))

    def read_text(self, path: str, rev: str) -> str | None:
        """The text of a tracked file at ``rev``, or None when it is not a tracked regular file."""
        if not self.is_tracked(path, rev):
            return None
        try:
            _, _, _, data = self.git.get_object_data(f"{rev}:{path}")
        except (git.GitCommandError, ValueError):
            return None
        return bytes(data).decode("utf-8", errors="replace")

    def read_lines(self, path: str, rev: str) -> tuple[str, ...] | None:
        text = self.read_text(path, rev)
        return None if text is None else tuple(text.splitlines())

    # ---- remote ----------------------------------------------------------------------------------------
    def github_url(self) -> str | None:
        """https://github.com/owner/name for an ``origin`` on GitHub, else None."""
        try:
            url = str(self.git.config("--get", "remote.origin.url")).strip()
        except git.GitCommandError:
            return None
        match = _GITHUB_REMOTE.match(url)
        return f"https://github.com/{match['slug']}" if match else None


@lru_cache(maxsize=8)
def _as_set(files: tuple[str, ...]) -> frozenset[str]:
    return frozenset(files)
