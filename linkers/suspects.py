"""Rank the blamed commits: which one most likely caused the error, and why.

Each blamed commit is described by the features of ``linkers/suspect_features.py`` (where its lines sit
relative to the failing lines, in which frames, whether it wrote the raise or its guard, how recent it is, what
kind of commit it is) and scored by the logistic model in ``linkers/weights/suspects.json``, fitted by
``benchmarks/fit.py`` on the training corpus and judged there by leave-one-project-out cross-validation. The
score is the model's probability that the commit is the culprit, so it means the same in every incident: a low
top score reads as low confidence. The reasons shown are the facts behind the features that raised the score
most, strongest first, then the notes that lowered it.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Self

from incidentbot.durations import span
from incidentbot.models import CommitInfo, Evidence, LineBlame, SuspectCommit
from incidentbot.repo import RepoView
from incidentbot.settings import Ranking, Settings
from linkers import calibration
from linkers.blame_index import BlameIndex, index_or_none
from linkers.model import LinearModel, shipped
from linkers.suspect_features import (
    COMMIT_FACT_FEATURES,
    Candidate,
    T,
    collect,
    commit_features,
    deepest_first,
    trace_features,
)

SHORTLIST = 30  # candidates whose commit facts are read (one ``git log`` for all); the rest keep trace features
MAX_CACHED_FACTS = 32768  # commits whose ``git log`` facts a process keeps (docs/limits.md)

Facts = tuple[tuple[str, ...], int, int, int]  # parents, files, insertions, deletions (``RepoView.commit_facts``)


@dataclass(frozen=True, slots=True)
class Scored:
    candidate: Candidate
    score: float
    contributions: dict[str, float]


class SuspectRanker:
    """Linker: turns ``Evidence.blame`` into ranked ``Evidence.suspects``."""

    name = "suspects"

    def __init__(
        self,
        ranking: Ranking,
        model: LinearModel | None = None,
        calibrations: Settings | None = None,
        stored: BlameIndex | None = None,
    ) -> None:
        """``model``: these weights always; else the repository's calibration in the store of ``calibrations``'
        settings when one is in use (linkers/calibration.py), else the shipped weights. ``stored``: the index
        that keeps commits' facts across processes."""
        self.ranking = ranking
        self.model = model or shipped("suspects")
        self.calibrations = None if model is not None else calibrations
        self.stored = stored

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(settings.ranking, calibrations=settings, stored=index_or_none(settings))

    def link(self, evidence: Evidence, repo: RepoView) -> Evidence:
        if not evidence.blame:
            return evidence
        model = self.model
        if self.calibrations is not None:
            key = calibration.repo_key(evidence.remote_url, self.calibrations.github_repository, repo.root)
            model = calibration.model_for(key, self.calibrations.effective_database_url) or model
        scored, newer, facts = self.rank(evidence, repo, model)
        warnings: tuple[str, ...] = ()
        if newer:
            warnings = (f"{newer} blamed commit(s) newer than first-seen were left out: they cannot be the cause",)
        commits = {c.sha: c for c in evidence.commits}
        for sha, (parents, files, added, deleted) in facts.items():
            if sha in commits:
                commits[sha] = replace(
                    commits[sha], parents=parents, files_changed=files, lines_added=added, lines_deleted=deleted
                )
        reformatted = {(b.path, b.line): b.sha for b in evidence.blame if b.cosmetic}
        suspects = tuple(self._suspect(s, evidence, reformatted) for s in scored[: self.ranking.max_suspects])
        return replace(
            evidence,
            suspects=suspects,
            commits=tuple(commits.values()),
            warnings=evidence.warnings + warnings,
            ranked_by=calibration.ranked_by(model),
        )

    def rank(
        self, evidence: Evidence, repo: RepoView, model: LinearModel | None = None
    ) -> tuple[list[Scored], int, dict[str, Facts]]:
        """Every candidate scored (by ``model``, default this ranker's), best first; the count of commits newer
        than first-seen; the commit facts."""
        model = model or self.model
        first_seen = evidence.trace.first_seen or datetime.now(tz=UTC)
        commits = {c.sha: c for c in evidence.commits}
        candidates, newer = collect(evidence.blame, commits, first_seen)
        trace_features(candidates, first_seen)
        # Commit facts cost a git call: read them for the candidates that can still win.
        shortlist = select_shortlist(list(candidates.values()), lambda c: c.features, model)
        facts = _FACTS.get(repo, [c.commit.sha for c in shortlist], self.stored)
        deploy = repo.commits_in_range(*evidence.release_range) if evidence.release_range else None
        for cand in shortlist:
            commit_features(cand, facts.get(cand.commit.sha), deploy, self.ranking.bulk_files)
        # A calibrated model ranks by its score alone: it was chosen for beating the innermost-line-first order.
        lead = model.name != calibration.CALIBRATED
        ordered = final_order(shortlist, lambda c: c.features, lambda c: c.commit.committed_at.timestamp(), model, lead)
        scored = [Scored(c, score, model.contributions(c.features)) for score, c in ordered]
        return scored, newer, facts

    def _suspect(self, scored: Scored, evidence: Evidence, reformatted: dict[tuple[str, int], str]) -> SuspectCommit:
        commit = scored.candidate.commit
        first_seen = evidence.trace.first_seen or datetime.now(tz=UTC)
        return SuspectCommit(
            sha=commit.sha,
            author=commit.author,
            authored_at=commit.authored_at,
            committed_at=commit.committed_at,
            summary=commit.summary,
            score=round(scored.score, 3),
            reasons=tuple(reasons(scored, commit, first_seen, reformatted)),
            features=tuple(sorted((k, round(v, 4)) for k, v in scored.candidate.features.items())),
        )


class FactsCache:
    """``RepoView.commit_facts`` remembered per commit (a commit's facts never change), the least recently used
    dropped past ``max_commits``: one ``git log`` for the commits not seen before, none when all were."""

    def __init__(self, max_commits: int) -> None:
        self.max_commits = max_commits
        self._facts: OrderedDict[tuple[str, str], Facts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, repo: RepoView, shas: list[str], stored: BlameIndex | None = None) -> dict[str, Facts]:
        """``stored``: the store's index, asked for what this process has not seen before git is."""
        root = str(repo.root)
        found: dict[str, Facts] = {}
        with self._lock:
            for sha in shas:
                known = self._facts.get((root, sha))
                if known is not None:
                    self._facts.move_to_end((root, sha))
                    found[sha] = known
        missing = [sha for sha in shas if sha not in found]
        fresh = _decode_facts(stored.git_facts("commit", missing)) if stored is not None and missing else {}
        asked = [sha for sha in missing if sha not in fresh]
        from_git = repo.commit_facts(asked) if asked else {}
        if stored is not None and from_git:  # the blame linker has flushed already: written now
            stored.save_git_facts("commit", {sha: json.dumps(facts) for sha, facts in from_git.items()})
            stored.flush_git_facts()
        fresh.update(from_git)
        with self._lock:
            for sha, facts in fresh.items():
                self._facts[(root, sha)] = facts
            while len(self._facts) > self.max_commits:
                self._facts.popitem(last=False)
        return {sha: found[sha] if sha in found else fresh[sha] for sha in shas if sha in found or sha in fresh}

    def __len__(self) -> int:
        return len(self._facts)


_FACTS = FactsCache(MAX_CACHED_FACTS)


def _decode_facts(stored: dict[str, str]) -> dict[str, Facts]:
    """(parents, files, insertions, deletions) per commit, as ``RepoView.commit_facts`` gives them."""
    out: dict[str, Facts] = {}
    for sha, text in stored.items():
        try:
            parents, files, added, deleted = json.loads(text)
            out[sha] = (tuple(str(p) for p in parents), int(files), int(added), int(deleted))
        except (ValueError, TypeError):  # a row that does not read (written by hand?): asked of git instead
            continue
    return out


def select_shortlist(items: list[T], features_of: Callable[[T], dict[str, float]], model: LinearModel) -> list[T]:
    """The ``SHORTLIST`` candidates that can still win, by the score without commit facts (those count as the
    corpus mean), the commit of the innermost failing line always among them."""

    def first_pass(item: T) -> float:
        return model.logit({k: v for k, v in features_of(item).items() if k not in COMMIT_FACT_FEATURES})

    return deepest_first(sorted(items, key=lambda item: -first_pass(item)), features_of)[:SHORTLIST]


def final_order(
    items: list[T],
    features_of: Callable[[T], dict[str, float]],
    time_of: Callable[[T], float],
    model: LinearModel,
    lead: bool = True,
) -> list[tuple[float, T]]:
    """(score, candidate) best first: by score, newer first on a tie; with ``lead``, the commit of the innermost
    failing line first (``deepest_first``). A commit that only reformatted every line blamed on it scores 0: a
    change that leaves the same statements in the same places cannot change behaviour (it stays listed, last)."""
    scored = [(0.0 if features_of(i).get("cosmetic_only") else model.probability(features_of(i)), i) for i in items]
    scored.sort(key=lambda pair: (-pair[0], -time_of(pair[1])))
    return deepest_first(scored, lambda pair: features_of(pair[1])) if lead else scored


def reasons(
    scored: Scored, commit: CommitInfo, first_seen: datetime, reformatted: dict[tuple[str, int], str] | None = None
) -> list[str]:
    """The facts behind the features that raised the score, strongest first, then those that lowered it.
    ``reformatted``: (path, line) → the commit that only reformatted that line, which blame went past."""
    cand, contributions = scored.candidate, scored.contributions
    up = sorted((v, k) for k, v in contributions.items() if v > 0.05)[::-1]
    down = sorted((v, k) for k, v in contributions.items() if v < -0.05)
    out: list[str] = []
    for _, name in up + down:
        text = _sentence(name, cand, contributions[name] > 0, reformatted or {})
        if text and text not in out:
            out.append(text)
    age_days = max(0.0, (first_seen - commit.committed_at).total_seconds() / 86400)
    out.append(f"committed {span(age_days)} before first-seen")
    return out[:6]


def _line_ref(line: LineBlame, reformatted: dict[tuple[str, int], str] | None = None) -> str:
    function = f" in `{line.function}`" if line.function else ""
    past = (reformatted or {}).get((line.path, line.line))
    return f"{line.path}:{line.line}{function}" + (f", found past the reformatting in {past[:7]}" if past else "")


def _first(cand: Candidate, test: Callable[[LineBlame], bool]) -> LineBlame | None:
    return next((ln for ln in cand.lines if not ln.cosmetic and test(ln)), None)


def _line_sentence(name: str, cand: Candidate, reformatted: dict[tuple[str, int], str]) -> str | None:
    """The sentences that name one of the commit's lines."""
    line: LineBlame | None = None
    text = ""
    if name == "exact_nearest":
        line = _first(cand, lambda ln: ln.line == ln.frame_line and ln.depth == 0 and ln.role != "test")
        text = "last changed the failing line {} (the frame nearest the raise)"
    elif name == "raise_line":
        line = _first(cand, lambda ln: ln.line == ln.frame_line and ln.statement == "raise")
        text = "wrote the raise at {}: a new check that rejects this input"
    elif name == "guard_condition":
        conditions = [ln for ln in cand.lines if ln.statement == "condition" and 0 < ln.frame_line - ln.line <= 3]
        line = max(conditions, key=lambda ln: ln.line) if conditions else None
        text = "wrote the condition {} that guards the raise"
    elif name == "near_nearest":
        line = _first(cand, lambda ln: ln.depth == 0 and 0 < abs(ln.line - ln.frame_line) <= 3)
        text = "changed {}, " + (f"{abs(line.line - line.frame_line)} line(s) from the failing line" if line else "")
    elif name == "exact_callers":
        line = _first(cand, lambda ln: ln.line == ln.frame_line and ln.depth > 0)
        text = "last changed the failing line of a caller, {}"
    return text.format(_line_ref(line, reformatted)) if line is not None else None


def _sentence(name: str, cand: Candidate, raised: bool, reformatted: dict[tuple[str, int], str]) -> str | None:
    f = cand.features
    if name == "exact_deepest" and f.get(name):
        exact = [ln for ln in cand.lines if ln.line == ln.frame_line and not ln.cosmetic]
        line = max(exact, key=lambda ln: (ln.exception_index, ln.frame_index)) if exact else None
        # Worded as the nearest-frame sentence: when both name the same line, the reasons show it once.
        return (
            f"last changed the failing line {_line_ref(line, reformatted)} (the frame nearest the raise)"
            if line
            else None
        )
    if name in ("exact_nearest", "raise_line", "guard_condition", "near_nearest", "exact_callers"):
        return _line_sentence(name, cand, reformatted) if f.get(name) else None
    if name == "function_share_nearest" and f.get(name):
        return f"wrote {f[name]:.0%} of the blamed lines of the failing function"
    if name in ("newest_rank", "newest_in_nearest") and raised:
        return "the newest of the commits blamed for the failing code"
    if name == "cosmetic_only" and f.get(name):
        line = cand.lines[0]
        return f"only reformatted {line.path}:{line.line}; blame continued past it to the commit that wrote it"
    if name == "test_only" and f.get(name):
        return "changed only test code in the trace"
    if name == "helper_only" and f.get(name):
        return "changed only shared helper code in the trace"
    if name == "merge" and f.get(name):
        return "merge commit: its own changes are usually conflict resolution"
    if name == "revert" and f.get(name):
        return "a revert or backout"
    if name == "formatting_message" and f.get(name):
        return "its message says it is a formatting or lint change"
    if name in ("bulk", "log_files") and not raised and f.get("bulk"):
        return f"bulk change of {round(math.expm1(f['log_files']))} files (mass rename, reformat or vendoring)"
    if name == "deploy" and f.get(name):
        return "in the deploy range" if f[name] > 0 else "not in the deploy range"
    if name == "min_depth" and not raised and f.get(name, 0) >= 1:
        return f"its nearest line is {int(f[name])} application frame(s) above the raise"
    return None
