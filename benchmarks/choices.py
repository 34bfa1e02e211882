"""The candidates for the report's location (in-app frames) and first owner (people), with their features.

Like the suspects, both are chosen by a fitted logistic model (``linkers/weights/location.json`` and
``owners.json``, fitted by ``benchmarks/fit.py``): the location is the frame most likely to hold the code the fix
will change, the first owner the person most likely to have written the culprit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incidentbot.models import Evidence, LineBlame, Person
from linkers.codekind import is_helper_path, is_test_path

MAX_DEPTH = 6

LOCATION_FEATURES = (
    "nearest",  # the application frame nearest the raise
    "depth",  # application frames between it and the raise
    "order",  # log(1 + in-app frames between it and the raise, any role)
    "raised_exception",  # in the exception finally raised (not a cause)
    "deliberate_raise",  # its failing line is a raise/throw
    "test",
    "helper",
    "line_age",  # log(1 + days since its failing line last changed)
    "newest_line_here",  # the newest blamed line of the trace is in this frame's function
    "function_lines",  # log(1 + blamed lines of its function)
    "top_suspect_here",  # the top suspect changed lines of this frame's function
    "top_suspect_exact",  # the top suspect last changed this frame's failing line
)
OWNER_FEATURES = (
    "top_suspect",  # wrote the top suspect
    "best_score",  # the highest score among their suspects
    "score_sum",  # their suspects' scores added up
    "exact_deepest",  # wrote the failing line of the innermost frame
    "exact_nearest",
    "line_share",  # share of every blamed line
    "newest_rank",  # log(1 + place of their newest suspect by commit time)
    "commits",  # log(1 + their suspects)
)


@dataclass(slots=True)
class FrameCandidate:
    path: str
    line: int
    function: str | None
    exception_index: int
    frame_index: int
    features: dict[str, float] = field(default_factory=dict)
    shas: frozenset[str] = frozenset()  # commits with lines in its blamed window
    exact_sha: str | None = None  # the commit that last changed its failing line

    def with_top_suspect(self, top: str | None) -> dict[str, float]:
        """The features, completed with where the top suspect stands (known only after the ranking)."""
        return {
            **self.features,
            "top_suspect_here": float(top is not None and top in self.shas),
            "top_suspect_exact": float(top is not None and top == self.exact_sha),
        }


@dataclass(slots=True)
class PersonCandidate:
    person: Person
    shas: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.person.name or ""

    @property
    def email(self) -> str:
        return self.person.email or ""


def location_candidates(evidence: Evidence) -> list[FrameCandidate]:
    """Every in-app frame mapped to a repository line, nearest the raise first, with its features."""
    first_seen = evidence.trace.first_seen or datetime.now(tz=UTC)
    commits = {c.sha: c for c in evidence.commits}
    blame_by_frame: dict[tuple[int, int], list[LineBlame]] = defaultdict(list)
    for line in evidence.blame:
        if not line.cosmetic:
            blame_by_frame[(line.exception_index, line.frame_index)].append(line)
    newest_frame = None
    newest_time = None
    for key, lines in blame_by_frame.items():
        for line in lines:
            commit = commits.get(line.sha)
            if (
                commit
                and commit.committed_at <= first_seen
                and (newest_time is None or commit.committed_at > newest_time)
            ):
                newest_time, newest_frame = commit.committed_at, key
    out: list[FrameCandidate] = []
    exceptions = evidence.trace.exceptions
    for ei in range(len(exceptions) - 1, -1, -1):
        order = 0
        for fi in range(len(exceptions[ei].frames) - 1, -1, -1):
            frame = exceptions[ei].frames[fi]
            if not (frame.in_app and frame.repo_path and frame.repo_line):
                continue
            lines = blame_by_frame.get((ei, fi), [])
            own = next((ln for ln in lines if ln.line == ln.frame_line), None)
            depth = min(lines[0].depth, MAX_DEPTH) if lines else MAX_DEPTH
            role = lines[0].role if lines else ("test" if is_test_path(frame.repo_path) else "app")
            commit = commits.get(own.sha) if own else None
            age = (first_seen - commit.committed_at).total_seconds() / 86400 if commit else 3650.0
            features = {
                "nearest": float(bool(lines) and depth == 0 and role != "test"),
                "depth": float(depth),
                "order": math.log1p(order),
                "raised_exception": float(ei == len(exceptions) - 1),
                "deliberate_raise": float(own is not None and own.statement == "raise"),
                "test": float(role == "test" or is_test_path(frame.repo_path)),
                "helper": float(role == "helper" or is_helper_path(frame.repo_path)),
                "line_age": math.log1p(max(0.0, age)),
                "newest_line_here": float(newest_frame == (ei, fi)),
                "function_lines": math.log1p(len(lines)),
            }
            shas = frozenset(ln.sha for ln in lines)
            out.append(
                FrameCandidate(
                    frame.repo_path, frame.repo_line, frame.function, ei, fi, features, shas, own.sha if own else None
                )
            )
            order += 1
    return out


def owner_candidates(ranked: Iterable[tuple[Person, str, float, Mapping[str, float]]]) -> list[PersonCandidate]:
    """The authors of the ranked suspects (best first: author, sha, score, features), one candidate per person."""
    people: dict[str, PersonCandidate] = {}
    for index, (author, sha, score, features) in enumerate(ranked):
        key = (author.email or author.name or "").lower()
        cand = people.setdefault(key, PersonCandidate(author))
        cand.shas.append(sha)
        f = cand.features
        f["top_suspect"] = max(f.get("top_suspect", 0.0), float(index == 0))
        f["best_score"] = max(f.get("best_score", 0.0), score)
        f["score_sum"] = f.get("score_sum", 0.0) + score
        for name in ("exact_deepest", "exact_nearest"):
            f[name] = max(f.get(name, 0.0), features.get(name, 0.0))
        f["line_share"] = f.get("line_share", 0.0) + features.get("line_share", 0.0)
        f["newest_rank"] = min(f.get("newest_rank", 99.0), features.get("newest_rank", 99.0))
    for cand in people.values():
        cand.features["commits"] = math.log1p(len(cand.shas))
    return list(people.values())
