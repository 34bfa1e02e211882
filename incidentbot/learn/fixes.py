"""Find the commit that fixed a closed issue, and say how it was found.

In order: the issue's ``closed`` event that names a commit (GitHub records it when a commit or a merged pull
request closed the issue), a merged pull request whose body says "Fixes #N" (or closes, resolves), then a commit
in the repository whose message names the issue the same way or ends a squash-merge title with "(#N)". Only a
commit the checkout has counts: SZZ runs on it locally.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

FoundBy = Literal["closed_event", "pull_request", "commit_message"]
_CLOSING = r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\s*:?\s+(?:[\w.-]+/[\w.-]+)?#{n}\b"
_SQUASH = r"\(#{n}\)\s*$"


@dataclass(frozen=True, slots=True)
class Fix:
    sha: str
    found_by: FoundBy


def closing_pattern(number: int) -> re.Pattern[str]:
    """ "Fixes #N", "closes: #N", "Resolved owner/name#N"… (GitHub's closing keywords), any case."""
    return re.compile(_CLOSING.format(n=number), re.IGNORECASE)


@dataclass
class CommitMessages:
    """Every commit message of the checkout, read once, searched per issue."""

    root: Path
    _log: list[tuple[str, float, str]] | None = field(default=None, init=False)

    def commits(self) -> list[tuple[str, float, str]]:
        """(sha, commit time, message), newest first, of every ref."""
        if self._log is None:
            out = subprocess.run(
                ["git", "-C", str(self.root), "log", "--all", "--format=%H%x00%ct%x00%B%x1e"],
                capture_output=True,
                text=True,
                errors="replace",
                check=False,
            ).stdout
            found: list[tuple[str, float, str]] = []
            for record in out.split("\x1e"):
                parts = record.strip("\n").split("\x00", 2)
                if len(parts) == 3 and len(parts[0]) == 40:
                    found.append((parts[0], float(parts[1]), parts[2]))
            self._log = found
        return self._log

    def fix_for(self, number: int, closed_at: datetime | None) -> str | None:
        """The newest commit (before the issue closed, when that is known) whose message names the issue."""
        closing, squash = closing_pattern(number), re.compile(_SQUASH.format(n=number), re.MULTILINE)
        for sha, when, message in self.commits():
            if closed_at is not None and when > closed_at.timestamp() + 60:
                continue
            subject = message.splitlines()[0] if message else ""
            if closing.search(message) or squash.search(subject):
                return sha
        return None


MAX_COMMENTS = 50  # comments of an issue read for a trace, when its body has none


class GitHubFixes:
    """Closed events and merged pull requests of one GitHub repository, through PyGithub."""

    def __init__(self, token: str, repository: str, api_url: str) -> None:
        from github import Auth, Github

        self.client = Github(auth=Auth.Token(token), base_url=api_url.rstrip("/"), timeout=15, per_page=100)
        self.repository = repository
        self._repo: Any = None
        self._pulls: list[tuple[str, str]] | None = None  # (merge commit, body) of merged pull requests

    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self.client.get_repo(self.repository)
        return self._repo

    def closed_event_commit(self, number: int) -> str | None:
        """The commit of the issue's last ``closed`` event that names one."""
        found = None
        for item in self.repo().get_issue(number).get_events():
            if item.event == "closed" and item.commit_id:
                found = str(item.commit_id)
        log.info("github: events of issue #%d: closing commit %s", number, (found or "none")[:12])
        return found

    def pull_request_commit(self, number: int) -> str | None:
        """The merge commit of a merged pull request whose body names the issue with a closing keyword."""
        if self._pulls is None:
            self._pulls = [
                (str(pr.merge_commit_sha), pr.body or "")
                for pr in self.repo().get_pulls(state="closed")
                if pr.merged_at is not None and pr.merge_commit_sha
            ]
            log.info("github: %d merged pull requests of %s", len(self._pulls), self.repository)
        closing = closing_pattern(number)
        return next((sha for sha, body in self._pulls if closing.search(body)), None)

    def comment_bodies(self, number: int) -> list[str]:
        """The texts of an issue's first ``MAX_COMMENTS`` comments, oldest first."""
        comments = self.repo().get_issue(number).get_comments()
        return [str(c.body or "") for _, c in zip(range(MAX_COMMENTS), comments, strict=False)]

    def issues(self) -> Iterable[Mapping[str, Any]]:
        """The repository's closed issues (pull requests left out) as REST objects."""
        for issue in self.repo().get_issues(state="closed"):
            if issue.pull_request is None:
                yield issue.raw_data


def find_fix(
    number: int,
    closed_at: datetime | None,
    messages: CommitMessages,
    github: GitHubFixes | None,
    has_commit: Callable[[str], bool],
) -> Fix | None:
    """The fix of a closed issue, the first source that names a commit the checkout has."""
    if github is not None:
        sha = github.closed_event_commit(number)
        if sha and has_commit(sha):
            return Fix(sha, "closed_event")
        sha = github.pull_request_commit(number)
        if sha and has_commit(sha):
            return Fix(sha, "pull_request")
    sha = messages.fix_for(number, closed_at)
    return Fix(sha, "commit_message") if sha else None
