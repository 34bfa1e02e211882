"""Rank the blamed commits: which one most likely caused the error, and why.

Every blamed line is a piece of evidence against the commit that last changed it. Its weight is the product of
where the line sits (the failing line itself, a line near it, elsewhere in the same function) and which frame it
belongs to (the frame nearest the raise counts most, each caller less, test code little). A commit's strength
is its strongest frame, reinforced a little by its other frames (a scaled noisy-OR), so it never passes 1 and an
old commit that wrote every caller's line does not outweigh the one that changed the failing line. The strength
is then scaled by how recently before first-seen the commit landed and by what kind of commit it is (merges,
reverts, bulk and formatting changes are rarely the culprit). The result is a score in 0..1 that means the same
thing in every incident: a low top score reads as low confidence.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Self

from incidentbot.models import CommitInfo, Evidence, LineBlame, SuspectCommit
from incidentbot.prompting import span
from incidentbot.repo import RepoView
from incidentbot.settings import Ranking, Settings
from linkers.codekind import frame_weight

# Where a blamed line sits relative to its frame's line.
EXACT_LINE = 1.0
NEAR_LINE = 0.45  # at distance 1, falling linearly to about a third of it at the window's edge
IN_FUNCTION = 0.22  # elsewhere in the frame's enclosing function
_ROLE_NOTE = {
    "guard": " (a deliberate raise: the bad value more likely came from a caller)",
    "wrapper": " (a small wrapper that hands its arguments on)",
    "helper": " (shared helper code)",
    "test": " [test code]",
}
BASE = 0.9  # no single line makes a commit certain
OTHER_FRAMES = 0.3  # how much the frames beyond a commit's strongest one add (noisy-OR, scaled)
EXTRA_LINES = 0.08  # each further blamed line in one frame adds this share of the remaining doubt (≤ 3)
COSMETIC_LINE = 0.1  # the commit only reformatted the line (blame went on past it)
# What kind of commit it is.
MERGE = 0.3
REVERT = 0.6
BULK = 0.35
FORMATTING = 0.3
WHITESPACE_ONLY = 0.05
IN_DEPLOY = 1.25
OUTSIDE_DEPLOY = 0.6
# Recency: a commit that landed just before the error counts fully; old ones keep RECENCY_FLOOR.
RECENCY_FLOOR = 0.7
RECENCY_HALF_LIFE_DAYS = 30.0

_FORMATTING_MESSAGE = re.compile(
    r"\b(reformat\w*|format(ting)?|black|isort|prettier|autopep8|yapf|gofmt|rubocop|pep ?8|flake8|lint(ing)?|"
    r"whitespace|white space|code style|trailing spaces?|pyupgrade|ruff)\b",
    re.IGNORECASE,
)
_REVERT_MESSAGE = re.compile(r"^(revert|back(ed)? ?out)\b", re.IGNORECASE)


@dataclass(slots=True)
class _Case:
    """The evidence collected against one commit."""

    commit: CommitInfo
    frames: dict[tuple[int, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    reasons: list[tuple[float, str]] = field(default_factory=list)
    cosmetic_lines: int = 0

    def strength(self) -> float:
        per_frame = sorted(
            (max(w) + (1.0 - max(w)) * min(len(w) - 1, 3) * EXTRA_LINES * max(w) for w in self.frames.values()),
            reverse=True,
        )
        # The strongest frame counts fully; the others only reinforce it: an old commit that wrote every caller's
        # line is not more suspect than the one that changed the failing line.
        doubt = 1.0
        for share in per_frame[1:]:
            doubt *= 1.0 - share * OTHER_FRAMES
        return per_frame[0] + (1.0 - per_frame[0]) * (1.0 - doubt)


class SuspectRanker:
    """Linker: turns ``Evidence.blame`` into ranked ``Evidence.suspects``."""

    name = "suspects"

    def __init__(self, ranking: Ranking) -> None:
        self.ranking = ranking

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(settings.ranking)

    def link(self, evidence: Evidence, repo: RepoView) -> Evidence:
        if not evidence.blame:
            return evidence
        first_seen = evidence.trace.first_seen or datetime.now(tz=UTC)
        commits = {c.sha: c for c in evidence.commits}
        cases, newer = _collect(evidence.blame, commits, first_seen)
        shortlist = sorted(cases.values(), key=lambda c: -c.strength())[: max(12, self.ranking.max_suspects * 2)]
        facts = repo.commit_facts([case.commit.sha for case in shortlist])
        deploy = _deploy_commits(evidence, repo)
        scored = [_score(case, facts.get(case.commit.sha), first_seen, deploy, self.ranking) for case in shortlist]
        scored.sort(key=lambda s: (-s.score, -s.committed_at.timestamp()))
        warnings: tuple[str, ...] = ()
        if newer:
            warnings = (f"{newer} blamed commit(s) newer than first-seen were left out: they cannot be the cause",)
        enriched = tuple(_with_facts(commits, facts).values())
        return replace(
            evidence,
            suspects=tuple(scored[: self.ranking.max_suspects]),
            commits=enriched,
            warnings=evidence.warnings + warnings,
        )


def _collect(
    blame: tuple[LineBlame, ...], commits: dict[str, CommitInfo], first_seen: datetime
) -> tuple[dict[str, _Case], int]:
    cases: dict[str, _Case] = {}
    newer: set[str] = set()
    reformatted = {(b.path, b.line): b.sha for b in blame if b.cosmetic}
    for line in blame:
        commit = commits.get(line.sha)
        if commit is None:
            continue
        if commit.committed_at > first_seen and commit.authored_at > first_seen:
            newer.add(line.sha)
            continue
        case = cases.setdefault(line.sha, _Case(commit))
        weight, reason = _line_weight(line)
        formatter = reformatted.get((line.path, line.line))
        if formatter and not line.cosmetic:
            reason += f", found past the reformatting in {formatter[:7]}"
        case.frames[(line.exception_index, line.frame_index)].append(weight)
        case.reasons.append((weight, reason))
        case.cosmetic_lines += line.cosmetic
    return cases, len(newer)


def _line_weight(line: LineBlame) -> tuple[float, str]:
    """How strongly one blamed line implicates its commit, and the sentence that says why."""
    distance = abs(line.line - line.frame_line)
    where = f"{line.path}:{line.line}"
    function = f" in `{line.function}`" if line.function else ""
    if distance == 0:
        position, text = EXACT_LINE, f"last changed the failing line {where}{function}"
    elif distance <= 3:
        position, text = (
            NEAR_LINE * (1.0 - (distance - 1) / 4.5),
            f"changed {where}, {distance} line(s) from the failing line",
        )
    elif line.in_function:
        position, text = IN_FUNCTION, f"changed {where}{function}, the failing function"
    else:
        position, text = NEAR_LINE / 3, f"changed {where} near the failing line"
    frame = frame_weight(line.depth, line.role)
    if line.role in _ROLE_NOTE:
        text += _ROLE_NOTE[line.role]
    elif line.depth == 0:
        text += " (the application frame nearest the raise)"
    else:
        text += f" (caller, {line.depth} application frame(s) above the raise)"
    if line.cosmetic:
        position *= COSMETIC_LINE
        text = f"only reformatted {where}; blame continued past it to the commit that wrote it"
    return BASE * position * frame, text


def _score(
    case: _Case,
    facts: tuple[tuple[str, ...], int, int, int] | None,
    first_seen: datetime,
    deploy: frozenset[str] | None,
    ranking: Ranking,
) -> SuspectCommit:
    commit = case.commit
    factor, notes = 1.0, []
    age_days = max(0.0, (first_seen - commit.committed_at).total_seconds() / 86400)
    recency = RECENCY_FLOOR + (1 - RECENCY_FLOOR) * math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)
    factor *= recency
    notes.append(f"committed {span(age_days)} before first-seen")
    kind_factor, kind_notes = _kind(commit, facts, ranking)
    factor *= kind_factor
    notes += kind_notes
    if deploy is not None:
        inside = commit.sha in deploy
        factor *= IN_DEPLOY if inside else OUTSIDE_DEPLOY
        notes.append("in the deploy range" if inside else "not in the deploy range")
    if case.cosmetic_lines and not any(w > COSMETIC_LINE * BASE for w, _ in case.reasons):
        notes.append("formatting-only change of the blamed lines")
    score = min(1.0, case.strength() * factor)
    reasons = [text for _, text in sorted(case.reasons, key=lambda r: -r[0])]
    return SuspectCommit(
        sha=commit.sha,
        author=commit.author,
        authored_at=commit.authored_at,
        committed_at=commit.committed_at,
        summary=commit.summary,
        score=round(score, 3),
        reasons=tuple(_dedupe(reasons)[:4] + notes),
    )


def _kind(
    commit: CommitInfo, facts: tuple[tuple[str, ...], int, int, int] | None, ranking: Ranking
) -> tuple[float, list[str]]:
    factor, notes = 1.0, []
    if facts is not None:
        parents, files, _, _ = facts
        if len(parents) > 1:
            factor *= MERGE
            notes.append("merge commit: its own changes are usually conflict resolution")
        elif files == 0 and parents:
            factor *= WHITESPACE_ONLY
            notes.append("whitespace-only commit")
        elif files > ranking.bulk_files:
            factor *= BULK
            notes.append(f"bulk change of {files} files (mass rename, reformat or vendoring)")
    if _REVERT_MESSAGE.match(commit.summary):
        factor *= REVERT
        notes.append("a revert or backout")
    if _FORMATTING_MESSAGE.search(commit.summary):
        factor *= FORMATTING
        notes.append("its message says it is a formatting or lint change")
    return factor, notes


def _deploy_commits(evidence: Evidence, repo: RepoView) -> frozenset[str] | None:
    if evidence.release_range is None:
        return None
    return repo.commits_in_range(*evidence.release_range)


def _with_facts(
    commits: dict[str, CommitInfo], facts: dict[str, tuple[tuple[str, ...], int, int, int]]
) -> dict[str, CommitInfo]:
    out = dict(commits)
    for sha, (parents, files, added, deleted) in facts.items():
        if sha in out:
            out[sha] = replace(out[sha], parents=parents, files_changed=files, lines_added=added, lines_deleted=deleted)
    return out


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if not (x in seen or seen.add(x))]  # type: ignore[func-returns-value]
