"""Build real git repositories for tests: fixed authors and dates, so hashes and blame are deterministic."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Author:
    name: str
    email: str


ALICE = Author("Alice Archer", "alice@example.com")
BOB = Author("Bob Builder", "bob@example.com")
CAROL = Author("Carol Coder", "12345+carol-gh@users.noreply.github.com")
DAVE = Author("Dave Formatter", "dave@example.com")


class GitRepoBuilder:
    """A real repository in a temporary folder; every commit gets an explicit author and date."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Test Committer")
        self.git("config", "user.email", "committer@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(["git", *args], cwd=self.root, env=full_env, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or, for None, delete) files in the work tree."""
        for rel, text in files.items():
            path = self.root / rel
            if text is None:
                self.git("rm", "-q", "--", rel)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            self.git("add", "--", rel)

    def commit(self, message: str, author: Author, when: str, files: dict[str, str | None] | None = None) -> str:
        """Commit ``files`` (path → text, None deletes) as ``author`` at ISO time ``when``; return the sha."""
        if files:
            self.write(files)
        self.git("commit", "-q", "--allow-empty", "-m", message, env=_identity(author, when))
        return self.git("rev-parse", "HEAD")

    def rename(self, old: str, new: str) -> None:
        (self.root / new).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", old, new)

    def merge(self, branch: str, message: str, author: Author, when: str) -> str:
        self.git("merge", "-q", "--no-ff", "-m", message, branch, env=_identity(author, when))
        return self.git("rev-parse", "HEAD")


def _identity(author: Author, when: str) -> dict[str, str]:
    """Author and committer, with the same fixed date, so hashes do not depend on the clock."""
    stamp = _git_date(when)
    return {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_NAME": author.name,
        "GIT_COMMITTER_EMAIL": author.email,
        "GIT_COMMITTER_DATE": stamp,
    }


def _git_date(when: str) -> str:
    moment = datetime.fromisoformat(when)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{int(moment.timestamp())} +0000"
