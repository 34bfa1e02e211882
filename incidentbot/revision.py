"""Choose the revision a trace's line numbers refer to: the code that was running, not HEAD.

Order: ``--rev`` if given; else the trace's release when it names a commit or tag; else the last commit on the
current branch before first-seen (default: now), which path mapping may move back to the commit whose files hold
the trace's source lines (linkers/running_revision.py). A deploy range comes from ``--release-range A..B`` or, when the
release is a tag, from the previous tag to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incidentbot.errors import LinkError
from incidentbot.models import Trace
from incidentbot.repo import RepoView


@dataclass(frozen=True, slots=True)
class Revision:
    sha: str
    reason: str
    release_range: tuple[str, str] | None = None
    warnings: tuple[str, ...] = ()
    pinned: bool = False  # --rev or the release named it; otherwise it is a guess by time


def choose_revision(
    repo: RepoView, trace: Trace, rev: str | None, now: datetime, release_range: str | None = None
) -> Revision:
    """The triage revision, or LinkError with the fix when the repository cannot answer."""
    if repo.is_shallow():
        boundary = (repo.shallow_boundary() or "?")[:7]
        raise LinkError(
            f"shallow clone: history ends at {boundary}, so blame would be wrong",
            "run git fetch --unshallow (in GitHub Actions: actions/checkout with fetch-depth: 0)",
        )
    # HEAD is asked only where no other answer says the repository has commits: each ask is a git process,
    # and the daemon chooses a revision for every event.
    if release_range:
        _head(repo)  # an empty repository is named as such, not as a range not found
    deploy = _parse_range(repo, release_range)
    if rev:
        sha = repo.resolve(rev)
        if sha is None:
            _head(repo)
            raise LinkError(f"revision not found: {rev}", "pass --rev with a commit, tag or branch of this repository")
        return Revision(sha, f"--rev {rev}", deploy, pinned=True)
    if trace.release:
        found = _resolve_release(repo, trace.release)
        if found is not None:
            reason = f"the trace's release {trace.release}"
            return Revision(found, reason, deploy or _previous_tag_range(repo, found), pinned=True)
    when = trace.first_seen or now
    sha = repo.commit_before(when)
    if sha is None:
        return Revision(
            _head(repo),
            "HEAD (no commit on the branch is older than first-seen)",
            deploy,
            (f"no commit on the current branch is older than first-seen {when.isoformat()}; used HEAD",),
        )
    reason = f"last commit on the current branch before {'first-seen' if trace.first_seen else 'now'}"
    return Revision(sha, f"{reason} ({when.isoformat()})", deploy)


def _head(repo: RepoView) -> str:
    """HEAD's commit, or LinkError when the repository has none."""
    head = repo.head()
    if head is None:
        raise LinkError(f"the repository at {repo.root} has no commits", "pass --repo PATH to a checkout with history")
    return head


def _resolve_release(repo: RepoView, release: str) -> str | None:
    """A Sentry release is often ``name@version`` or a sha; try the likely spellings of a ref."""
    version = release.rsplit("@", 1)[-1].strip()
    for candidate in (release.strip(), version, f"v{version}"):
        if candidate and len(candidate) >= 4:
            sha = repo.resolve(candidate)
            if sha is not None:
                return sha
    return None


def _parse_range(repo: RepoView, text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    old, sep, new = text.partition("..")
    old_sha, new_sha = repo.resolve(old.strip()), repo.resolve(new.strip() or "HEAD")
    if not sep or old_sha is None or new_sha is None:
        raise LinkError(
            f"release range not found: {text}",
            "pass --release-range OLD..NEW with two refs of this repository",
        )
    return old_sha, new_sha


def _previous_tag_range(repo: RepoView, sha: str) -> tuple[str, str] | None:
    """(previous tag, release) when the release commit carries a tag and an older tag exists."""
    try:
        repo.git.describe("--tags", "--exact-match", sha)
        previous = str(repo.git.describe("--tags", "--abbrev=0", f"{sha}^")).strip()
    except Exception:  # noqa: BLE001 - no tag here is the common case, not an error
        return None
    old = repo.resolve(previous)
    return (old, sha) if old else None
