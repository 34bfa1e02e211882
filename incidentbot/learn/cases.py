"""A resolved incident as a labelled case: what the ranking saw for its trace, and which commits were guilty.

The trace is ranked with the shipped weights at the incident's recorded revision (else the fix's parent), as
it would have been during the incident; the truth is SZZ on the fix (linkers/szz.py, the benchmark corpus's
procedure). Kept: commit hashes, features, commit times, hashed author e-mails and the redacted trace only.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import git as gitpython

from incidentbot.draft.template import trace_text
from incidentbot.errors import IncidentbotError
from incidentbot.memory import signature
from incidentbot.models import LineBlame, Trace
from incidentbot.parse import parse_trace
from incidentbot.pipeline import link, open_repo
from incidentbot.repo import RepoView
from incidentbot.settings import Settings
from linkers.model import shipped
from linkers.suspects import SuspectRanker
from linkers.szz import git, szz

log = logging.getLogger(__name__)

_RECORDED_REVISION = re.compile(r"revision `([0-9a-f]{7,40})`")
LINKERS_BEFORE_RANKING = ("pathmap", "blame")


@dataclass(frozen=True, slots=True)
class Built:
    """A labelled case, or why there is none."""

    case: dict[str, Any] | None
    skipped: str | None = None


def author_key(email: str | None) -> str:
    """A stable stand-in for an author: the e-mail's hash (owner@1 compares these, never addresses)."""
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:16]


def issue_trace(body: str, settings: Settings) -> Trace | None:
    """The stack trace an issue body carries (incidentbot's own issue, or a pasted traceback), or None."""
    own = _own_trace(body)
    for text in ([own] if own else []) + [body]:
        try:
            trace = parse_trace(text, settings.limits)
        except IncidentbotError:
            continue
        if trace.frames:
            return trace
    return None


_OWN_TRACE = re.compile(r"### Trace\n```[^\n]*\n(.*?)\n```", re.DOTALL)
_OWN_FRAME = re.compile(r"^  at (?P<function>.+?) \((?P<path>.+):(?P<line>\d+|\?)\)$")
_CHAINED = {
    "-- which caused --": "\nThe above exception was the direct cause of the following exception:\n",
    "-- during whose handling --": "\nDuring handling of the above exception, another exception occurred:\n",
}


def _own_trace(body: str) -> str | None:
    """The compact trace incidentbot writes in its issues (``at function (path:line)``, draft/template.py's
    ``trace_text``) as the Python traceback it came from; None when the body has none, or not of Python."""
    match = _OWN_TRACE.search(body)
    if match is None:
        return None
    out = ["Traceback (most recent call last):"]
    python = False
    for line in match[1].splitlines():
        frame = _OWN_FRAME.match(line)
        if frame:
            python = python or frame["path"].endswith(".py")
            out.append(f'  File "{frame["path"]}", line {frame["line"]}, in {frame["function"]}')
        elif line.startswith("      "):
            out.append(f"    {line.strip()}")
        elif line in _CHAINED:
            out += [_CHAINED[line], "Traceback (most recent call last):"]
        elif line.strip() and not line.startswith(" "):
            out.append(line)
    return "\n".join(out) + "\n" if python else None


def recorded_revision(body: str, repo: RepoView) -> str | None:
    """The revision incidentbot's own issue footer recorded, when the checkout has it."""
    match = _RECORDED_REVISION.search(body)
    return repo.resolve(match[1]) if match else None


def build_case(
    trace: Trace,
    settings: Settings,
    issue: int,
    fix: str,
    found_by: str,
    revision: str | None = None,
    first_seen: datetime | None = None,
) -> Built:
    """Rank ``trace`` at ``revision`` (default: the fix's parent) with the shipped weights; label with SZZ."""
    repo = open_repo(settings.repo.resolve())
    git_dir = Path(repo.git_repo.git_dir)
    result = szz(git_dir, fix)
    if result is None:
        return Built(None, "its fix changed no source line")
    at = revision or git(git_dir, "rev-parse", f"{fix}^").strip()
    when = first_seen or repo.commit_time(at)
    conf = settings.model_copy(update={"rev": at, "first_seen": when, "linkers": LINKERS_BEFORE_RANKING})
    evidence = link(trace, conf, now=when)
    if not evidence.blame:
        return Built(None, "no frame of its trace maps to the repository")
    scored, _, _ = SuspectRanker(settings.ranking, shipped("suspects")).rank(evidence, repo)
    authors = _authors(repo, result.bic)
    case = {
        "issue": issue,
        "fix": fix,
        "found_by": found_by,
        "revision": at,
        "culprits": list(result.bic),
        "culprit_authors": sorted(authors),
        "deepest": deepest_commit(evidence.blame),
        "candidates": [
            {
                "sha": s.candidate.commit.sha,
                "time": s.candidate.commit.committed_at.timestamp(),
                "author": author_key(s.candidate.commit.author.email),
                "features": {k: round(v, 6) for k, v in sorted(s.candidate.features.items())},
            }
            for s in scored
        ],
        "trace": trace_text(evidence.trace),  # scrubbed by link()
        "fingerprint": evidence.fingerprint,
        "signature": asdict(sig) if (sig := signature(evidence)) else None,  # for "Seen before" (memory.py)
    }
    return Built(case)


def deepest_commit(blame: tuple[LineBlame, ...]) -> str | None:
    """The commit that last changed the innermost failing line (plain deepest-frame blame's answer)."""
    exact = [ln for ln in blame if ln.line == ln.frame_line and not ln.cosmetic]
    return max(exact, key=lambda ln: (ln.exception_index, ln.frame_index)).sha if exact else None


def _authors(repo: RepoView, shas: list[str]) -> set[str]:
    found = set()
    for sha in shas:
        try:
            found.add(author_key(str(repo.git.log("-1", "--format=%ae", sha)).strip()))
        except gitpython.GitCommandError:  # a culprit the checkout lacks: no author to compare
            continue
    return found
