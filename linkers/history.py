"""A history read once, so that blaming many files at one revision does not walk it once per file.

``git blame`` of a file walks the whole history behind the revision, every commit, asking of each whether it
touched the file: about 70 ms a file on 20,000 commits even with changed-path filters, whatever the file. A
daemon that blames hundreds of files at one revision pays that walk hundreds of times. One
``git log --first-parent --name-status`` pass (about 0.6–1 s on those 20,000 commits) lists, for every path, the
commits of the first-parent line that changed it. ``git blame -S GRAFTS`` then walks only those: the grafts make
each of them the parent of the next (and the revision the child of the newest), so git diffs exactly the same
versions of the file with its own diff and options, and gives the same answer, in a few milliseconds for a quiet
file. Between two of them the path is the same in every commit of the line, and git's blame, at a merge whose
first parent has the file unchanged, goes to that first parent only, as the grafts do.

Exact only where this holds, and not used otherwise (plain ``git blame`` then, as before):

- every commit that changed the path on the first-parent line is an ordinary commit: where a merge brought a
  change of the path from a side branch, git's own walk decides which side each line comes from;
- the commit that last added the path keeps its real parents, so git itself decides whether the file was
  created or renamed there; where that commit also deleted a file (a rename, maybe) the path is not grafted at
  all, since git would then follow the old name through the real, unfiltered history;
- porcelain's ``previous`` names the grafted parent: ``real_parent`` gives the real one back (an ordinary
  commit's only parent), so the answer is git's to the byte.

Read only after ``USE_AFTER_BLAMES`` full blames at one revision in one process (a CLI triage blames a few files
and never pays the pass), and only on first-parent lines of ``MIN_COMMITS`` to ``MAX_COMMITS`` commits
(docs/limits.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import git

from incidentbot.repo import RepoView

log = logging.getLogger(__name__)

USE_AFTER_BLAMES = 20  # full blames at one revision in one process before the history is read
MAX_COMMITS = 200_000  # a longer history is not read (its pass and its map would cost more than they save)
# A shorter first-parent line is not read: with changed-path filters git walks it in a few milliseconds, and a
# grafted blame, which cannot use the commit-graph, was no faster there (docs/limits.md).
MIN_COMMITS = 10_000


@dataclass(frozen=True, slots=True)
class FirstParentHistory:
    """Per path, the commits of the first-parent line that changed it (newest first, with git's status letter
    against the first parent), and each commit's first parent."""

    rev: str
    changed: dict[str, tuple[tuple[str, str], ...]]
    parents: dict[str, str]
    deleting: frozenset[str]  # commits that deleted a file
    merges: frozenset[str]  # merge commits of the first-parent line

    @classmethod
    def read(cls, repo: RepoView, rev: str, min_commits: int | None = None) -> FirstParentHistory | None:
        """The first-parent history behind ``rev``; None when it is shorter than ``min_commits`` (default
        ``MIN_COMMITS``) or longer than ``MAX_COMMITS``, or git fails."""
        if min_commits is None:
            min_commits = MIN_COMMITS
        full = repo.resolve(rev)  # a grafts file names commits by their full sha
        if full is None:
            return None
        rev = full
        try:
            count = int(str(repo.git.rev_list("--count", "--first-parent", rev, "--")).strip())
            if not min_commits <= count <= MAX_COMMITS:
                return None
            out = repo.git.log(
                "-z",
                "--first-parent",
                "--diff-merges=first-parent",
                "--no-renames",
                "--name-status",
                "--format=%x01%H %P",
                rev,
                "--",
            )
        except (git.GitCommandError, ValueError) as exc:
            log.info("history of %s not read: %s", rev[:12], exc)
            return None
        changed: dict[str, list[tuple[str, str]]] = {}
        parents: dict[str, str] = {}
        deleting: set[str] = set()
        merges: set[str] = set()
        for chunk in str(out).split("\x01")[1:]:
            header, _, body = chunk.partition("\0")
            sha, *rest = header.split()
            if len(rest) > 1:
                merges.add(sha)  # its first-parent changes came from a side branch
            if rest:
                parents[sha] = rest[0]
            fields = [f for f in body.lstrip("\n").split("\0") if f]
            for status, path in zip(fields[::2], fields[1::2], strict=False):
                changed.setdefault(path, []).append((sha, status[:1]))
                if status.startswith("D"):
                    deleting.add(sha)
        log.info("read the history of %s: %d commits, %d paths", rev[:12], count, len(changed))
        changes = {path: tuple(found) for path, found in changed.items()}
        return cls(rev, changes, parents, frozenset(deleting), frozenset(merges))

    def grafts(self, path: str) -> str | None:
        """The grafts file's text for ``git blame -S`` of ``path`` at the revision; None: blame it plainly."""
        return self.grafts_of(self.chain(path))

    def grafts_of(self, chain: tuple[str, ...] | None) -> str | None:
        """The grafts file's text for a path's ``chain``; None where there is nothing to graft."""
        if chain is None:
            return None
        lines = [] if chain[0] == self.rev else [f"{self.rev} {chain[0]}"]
        lines += [f"{newer} {older}" for newer, older in zip(chain, chain[1:], strict=False)]
        return "\n".join(lines) + "\n" if lines else None

    def chain(self, path: str) -> tuple[str, ...] | None:
        """The commits the grafts chain for ``path``, newest first: every commit a grafted blame may name.

        The chain stops at the commit that last added the path, which keeps its real parents: git decides there
        whether the file is new or renamed, against the real tree before it. Where that commit also deleted a
        file (a rename, maybe), git would follow the old name through the unfiltered history: None, as for a
        path a merge changed.
        """
        found = self.changed.get(path)
        if not found:
            return None
        chain: list[str] = []
        for sha, status in found:
            if sha in self.merges:
                return None  # a side branch changed the path: git's own walk decides which side each line is from
            chain.append(sha)
            if status == "A":
                if sha in self.deleting:
                    return None
                break
        return tuple(chain)

    def real_parent(self, sha: str) -> str | None:
        return self.parents.get(sha)
