"""Accuracy on real crashes: run ``incidentbot triage`` as a user would on each case's checkout, run the
plain-git baselines on the same checkout, and score both against the SZZ truth (see the cases' README).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.baselines import BASELINES, Answer, Author, TraceInput
from benchmarks.checkouts import PROJECT_ROOT, checkout, clone_once

log = logging.getLogger(__name__)

DEFAULT_CASES_DIR = PROJECT_ROOT.parent / "shared" / "bench" / "accuracy" / "cases"
TOOL = "incidentbot"
TOOL_TIMEOUT = 60.0
KS = (1, 3, 5)


@dataclass(frozen=True)
class Case:
    id: str
    repo: str
    head: str
    head_time: str
    trace: str
    bic: tuple[str, ...]
    bic_authors: tuple[Author, ...]
    fix_locations: tuple[tuple[str, str], ...]  # (path, function)
    szz_kind: str

    @classmethod
    def load(cls, path: Path) -> Case:
        data = json.loads(path.read_text())
        return cls(
            id=data["id"],
            repo=data["repo"],
            head=data["head"],
            head_time=data["head_time"],
            trace=data["trace"],
            bic=tuple(data["bic"]),
            bic_authors=tuple(Author(a["name"], a["email"]) for a in data["bic_authors"]),
            fix_locations=tuple((loc["path"], loc["function"]) for loc in data["fix_locations"]),
            szz_kind=data.get("szz_kind", ""),
        )

    @property
    def first_seen(self) -> datetime:
        return datetime.fromisoformat(self.head_time)


@dataclass(frozen=True)
class Score:
    """One method on one case: the rank of the first culprit among its commits (None: not named)."""

    rank: int | None
    file_hit: bool
    function_hit: bool
    owner_hit: bool


@dataclass
class CaseResult:
    case: Case
    answers: dict[str, Answer] = field(default_factory=dict)
    scores: dict[str, Score] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    stderr: str = ""


def load_cases(cases_dir: Path) -> list[Case]:
    """Every ``*.json`` case in the folder, by id."""
    paths = sorted(cases_dir.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no *.json cases in {cases_dir}; pass --cases DIR")
    return sorted((Case.load(path) for path in paths), key=lambda case: case.id)


def score(answer: Answer, case: Case) -> Score:
    """Score one answer per the README: culprit rank, location file and function, first owner."""
    rank = next((index + 1 for index, sha in enumerate(answer.commits) if sha in case.bic), None)
    file_hit = function_hit = False
    if answer.location is not None:
        path, function = answer.location
        file_hit = any(path == fix_path for fix_path, _ in case.fix_locations)
        function_hit = any(
            path == fix_path and _same_function(function, fix_function) for fix_path, fix_function in case.fix_locations
        )
    owner_hit = bool(answer.owners) and _same_person(answer.owners[0], case.bic_authors)
    return Score(rank, file_hit, function_hit, owner_hit)


def _same_function(found: str | None, expected: str) -> bool:
    if not found:
        return False
    return found == expected or found.split(".")[-1] == expected.split(".")[-1]


def _same_person(owner: Author, authors: tuple[Author, ...]) -> bool:
    email = owner.email.strip().lower()
    return any((email and email == a.email.strip().lower()) or owner.name == a.name for a in authors)


def run_tool(case: Case, clone: Path) -> tuple[Answer, str]:
    """``python -m incidentbot triage TRACE --repo CLONE --first-seen HEAD_TIME --json``; a failure is a miss."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(case.trace)
    command = [sys.executable, "-m", "incidentbot", "triage", handle.name, "--repo", str(clone)]
    command += ["--first-seen", case.head_time, "--json"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, errors="replace", timeout=TOOL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return Answer(note=f"timeout after {TOOL_TIMEOUT:.0f} s"), ""
    finally:
        Path(handle.name).unlink(missing_ok=True)
    if done.returncode != 0:
        return Answer(note=f"exit {done.returncode}"), done.stderr
    try:
        return answer_from_json(json.loads(done.stdout)), done.stderr
    except (ValueError, KeyError, TypeError) as exc:
        return Answer(note=f"invalid JSON: {type(exc).__name__}: {exc}"), done.stderr


def answer_from_json(report: dict[str, Any]) -> Answer:
    """The triage JSON → an Answer: suspects' commits, owners, location (path, function)."""
    suspects = report.get("suspects") or []
    owners = report.get("owners") or []
    location = report.get("location")
    return Answer(
        commits=tuple(str(s["commit"]) for s in suspects),
        owners=tuple(Author(str(o.get("name") or ""), str(o.get("email") or "")) for o in owners),
        location=(str(location["path"]), location.get("function")) if location else None,
    )


def run_case(case: Case, clone: Path, with_tool: bool = True) -> CaseResult:
    """Check out the case, run our tool (unless told not to) and every baseline, and score them."""
    checkout(clone, case.head)
    result = CaseResult(case)
    if with_tool:
        started = time.perf_counter()
        result.answers[TOOL], result.stderr = run_tool(case, clone)
        result.seconds[TOOL] = time.perf_counter() - started
    trace = TraceInput.read(clone, case.trace, case.first_seen)
    for name, baseline in BASELINES.items():
        started = time.perf_counter()
        result.answers[name] = baseline(trace)
        result.seconds[name] = time.perf_counter() - started
    result.scores = {name: score(answer, case) for name, answer in result.answers.items()}
    return result


def run_accuracy(cases: list[Case], repos: Path, with_tool: bool = True) -> list[CaseResult]:
    """All cases, one isolated clone per repository."""
    clones = {
        repo: clone_once(repo, repos, [c.head for c in cases if c.repo == repo])
        for repo in sorted({case.repo for case in cases})
    }
    results = []
    for case in cases:
        log.info("case %s", case.id)
        results.append(run_case(case, clones[case.repo], with_tool))
    return results


@dataclass(frozen=True)
class Summary:
    method: str
    top: dict[int, float]
    mrr: float
    file_at_1: float
    function_at_1: float
    owner_at_1: float
    median_seconds: float


def summarise(results: list[CaseResult], method: str) -> Summary:
    """Aggregate one method's scores over all cases."""
    scores = [r.scores[method] for r in results]
    count = len(scores) or 1
    times = sorted(r.seconds[method] for r in results)
    return Summary(
        method=method,
        top={k: sum(1 for s in scores if s.rank is not None and s.rank <= k) / count for k in KS},
        mrr=sum(1 / s.rank for s in scores if s.rank is not None) / count,
        file_at_1=sum(s.file_hit for s in scores) / count,
        function_at_1=sum(s.function_hit for s in scores) / count,
        owner_at_1=sum(s.owner_hit for s in scores) / count,
        median_seconds=times[len(times) // 2] if times else 0.0,
    )
