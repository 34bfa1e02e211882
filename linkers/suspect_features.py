"""What the ranking knows about each blamed commit, as numbers a fitted model can weigh.

Every feature is a fact git gives or a fact about the trace, never a constant chosen by hand: where the
commit's lines sit relative to the failing lines (the same line, near it, elsewhere in the function), in which
frames (nearest the raise, callers, helpers, tests), whether it wrote the raise or the condition that guards
it, whether it only reformatted, how recent it is (absolutely and among the candidates), and what kind of commit
it is. ``benchmarks/fit.py`` fits the weights; ``linkers/suspects.py`` applies them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from incidentbot.models import CommitInfo, LineBlame

T = TypeVar("T")
NEAR = 3  # lines above or below a failing line that count as "near" it
MAX_DEPTH = 6  # frames deeper than this count as this deep
_FORMATTING_MESSAGE = re.compile(
    r"\b(reformat\w*|format(ting)?|black|isort|prettier|autopep8|yapf|gofmt|rubocop|pep ?8|flake8|lint(ing)?|"
    r"whitespace|white space|code style|trailing spaces?|pyupgrade|ruff|checkstyle|spotless)\b",
    re.IGNORECASE,
)
_REVERT_MESSAGE = re.compile(r"^(revert|back(ed)? ?out)\b", re.IGNORECASE)

FEATURES = (
    "exact_deepest",  # wrote the failing line of the innermost blamed frame (what plain deepest-frame blame names)
    "exact_nearest",  # wrote the failing line of an in-app frame nearest the raise (depth 0)
    "exact_callers",  # log(1 + callers whose failing line it wrote)
    "near_nearest",  # wrote a line next to the nearest failing line: 1 at distance 1 .. 1/3 at distance 3
    "function_share_nearest",  # its share of the blamed lines of the nearest frame's function
    "function_share_callers",  # its share of the blamed lines of the callers' functions
    "line_share",  # its share of every blamed line
    "min_depth",  # application frames between its nearest line and the raise
    "frames",  # log(1 + frames it has lines in)
    "raise_line",  # wrote the deliberate raise/throw that failed
    "guard_condition",  # wrote the condition just above that raise
    "test_only",  # every line of it is in test code
    "helper_only",  # every line of it is in shared helper code
    "cosmetic_only",  # it only reformatted the lines blamed on it
    "newest_rank",  # log(1 + its place by commit time among the candidates, 0 = newest)
    "newest_exact",  # the newest of the commits that wrote a failing line (what Sentry's rule names)
    "newest_in_nearest",  # the newest commit among the lines of the nearest frame's function
    "log_age_days",  # log(1 + days from commit to first-seen)
    "log_lines_changed",  # log(1 + lines it added and deleted, whitespace ignored)
    "log_files",  # log(1 + files it touched)
    "bulk",  # it touched more files than the ``ranking.bulk_files`` setting (mass rename, reformat, vendoring)
    "merge",
    "revert",
    "formatting_message",
    "deploy",  # +1 inside the deploy range, -1 outside it, 0 when no range is known
)

#: Features that need the ``git log`` facts: the first pass that picks the shortlist scores without them.
COMMIT_FACT_FEATURES = ("merge", "log_lines_changed", "log_files", "bulk", "deploy")


@dataclass(slots=True)
class Candidate:
    """One blamed commit: its lines and, once computed, its features."""

    commit: CommitInfo
    lines: list[LineBlame] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)


def _nearest(line: LineBlame) -> bool:
    return line.depth == 0 and line.role != "test"


def collect(
    blame: Iterable[LineBlame], commits: dict[str, CommitInfo], first_seen: datetime
) -> tuple[dict[str, Candidate], int]:
    """Blamed lines grouped by commit; commits newer than first-seen are left out (and counted)."""
    candidates: dict[str, Candidate] = {}
    newer: set[str] = set()
    for line in blame:
        commit = commits.get(line.sha)
        if commit is None:
            continue
        if commit.committed_at > first_seen and commit.authored_at > first_seen:
            newer.add(line.sha)
            continue
        candidates.setdefault(line.sha, Candidate(commit)).lines.append(line)
    return candidates, len(newer)


def trace_features(candidates: dict[str, Candidate], first_seen: datetime) -> None:
    """The features that need only the blame: fill ``Candidate.features`` for every candidate."""
    everything = [line for c in candidates.values() for line in c.lines if not line.cosmetic]
    total = len(everything) or 1
    nearest_fn = [ln for ln in everything if _nearest(ln) and ln.in_function]
    caller_fn = [ln for ln in everything if not _nearest(ln) and ln.role != "test" and ln.in_function]
    guards = _guard_lines(everything)
    deepest = max(((ln.exception_index, ln.frame_index) for ln in everything), default=None)
    by_time = sorted(candidates.values(), key=lambda c: -c.commit.committed_at.timestamp())
    exact_commits = [c for c in by_time if any(ln.line == ln.frame_line for ln in c.lines if not ln.cosmetic)]
    newest_exact = exact_commits[0].commit.sha if exact_commits else None
    rank = {c.commit.sha: index for index, c in enumerate(by_time)}
    nearest_commits = [c for c in by_time if any(_nearest(ln) for ln in c.lines if not ln.cosmetic)]
    newest_nearest = nearest_commits[0].commit.sha if nearest_commits else None
    for sha, cand in candidates.items():
        own = [ln for ln in cand.lines if not ln.cosmetic]
        # Every trace feature is set (0 when absent): a missing key would read as the corpus mean.
        f: dict[str, float] = {name: 0.0 for name in FEATURES if name not in COMMIT_FACT_FEATURES}
        exact_callers: set[tuple[int, int]] = set()
        frames: set[tuple[int, int]] = set()
        for ln in own:
            distance = abs(ln.line - ln.frame_line)
            frames.add((ln.exception_index, ln.frame_index))
            if distance == 0 and (ln.exception_index, ln.frame_index) == deepest:
                f["exact_deepest"] = 1.0
            if distance == 0 and _nearest(ln):
                f["exact_nearest"] = 1.0
                if ln.statement == "raise":
                    f["raise_line"] = 1.0
            elif distance == 0 and ln.role != "test":
                exact_callers.add((ln.exception_index, ln.frame_index))
            elif 0 < distance <= NEAR and _nearest(ln):
                f["near_nearest"] = max(f["near_nearest"], (NEAR + 1 - distance) / NEAR)
            if (ln.path, ln.line) in guards:
                f["guard_condition"] = 1.0
        f["exact_callers"] = math.log1p(len(exact_callers))
        f["function_share_nearest"] = _share(own, nearest_fn, lambda ln: _nearest(ln) and ln.in_function)
        f["function_share_callers"] = _share(
            own, caller_fn, lambda ln: not _nearest(ln) and ln.role != "test" and ln.in_function
        )
        f["line_share"] = len(own) / total
        depths = [ln.depth for ln in own if ln.role != "test"]
        f["min_depth"] = float(min(min(depths), MAX_DEPTH)) if depths else float(MAX_DEPTH)
        f["frames"] = math.log1p(len(frames))
        f["test_only"] = float(bool(cand.lines) and all(ln.role == "test" for ln in cand.lines))
        f["helper_only"] = float(bool(cand.lines) and all(ln.role == "helper" for ln in cand.lines))
        f["cosmetic_only"] = float(bool(cand.lines) and not own)
        f["newest_rank"] = math.log1p(rank[sha])
        f["newest_in_nearest"] = float(sha == newest_nearest)
        f["newest_exact"] = float(sha == newest_exact)
        age_days = max(0.0, (first_seen - cand.commit.committed_at).total_seconds() / 86400)
        f["log_age_days"] = math.log1p(age_days)
        f["revert"] = float(bool(_REVERT_MESSAGE.match(cand.commit.summary)))
        f["formatting_message"] = float(bool(_FORMATTING_MESSAGE.search(cand.commit.summary)))
        cand.features = dict(f)


def deepest_first(ranked: list[T], features_of: Callable[[T], dict[str, float]]) -> list[T]:
    """The commit that last changed the innermost failing line first, then the rest in the given order.

    The fitted model's order alone names the culprit first less often than this on projects it never saw
    (``make bench`` shows both, cross-validated); a refit that beats it makes this step removable. A commit that
    only reformatted that line does not lead.
    """
    lead = next(
        (
            i
            for i, item in enumerate(ranked)
            if features_of(item).get("exact_deepest") and not features_of(item).get("cosmetic_only")
        ),
        None,
    )
    return ranked if lead is None else [ranked[lead], *ranked[:lead], *ranked[lead + 1 :]]


def _guard_lines(lines: list[LineBlame]) -> set[tuple[str, int]]:
    """The condition just above each failing raise (within ``NEAR`` lines): the check that decided to raise."""
    raising = {
        (ln.exception_index, ln.frame_index, ln.frame_line)
        for ln in lines
        if ln.line == ln.frame_line and ln.statement == "raise"
    }
    guards: set[tuple[str, int]] = set()
    for ei, fi, frame_line in raising:
        above = [
            ln
            for ln in lines
            if (ln.exception_index, ln.frame_index) == (ei, fi)
            and ln.statement == "condition"
            and 0 < frame_line - ln.line <= NEAR
        ]
        if above:
            nearest = max(above, key=lambda ln: ln.line)
            guards.add((nearest.path, nearest.line))
    return guards


def commit_features(
    cand: Candidate,
    facts: tuple[tuple[str, ...], int, int, int] | None,
    deploy: frozenset[str] | None,
    bulk_files: int,
) -> None:
    """The features that need ``git log`` facts and the deploy range."""
    f = cand.features
    if facts is not None:
        parents, files, added, deleted = facts
        f["merge"] = float(len(parents) > 1)
        f["log_lines_changed"] = math.log1p(added + deleted)
        f["log_files"] = math.log1p(files)
        f["bulk"] = float(files > bulk_files)
    f["deploy"] = 0.0 if deploy is None else (1.0 if cand.commit.sha in deploy else -1.0)


def _share(own: list[LineBlame], pool: list[LineBlame], member: Callable[[LineBlame], bool]) -> float:
    return sum(1 for ln in own if member(ln)) / len(pool) if pool else 0.0
