"""The training rows: for every corpus case, what the ranking knows about each blamed commit, each in-app
frame and each candidate owner, with the truth beside it. ``benchmarks/fit.py`` fits and cross-validates on them.

Runs the same linkers as ``incidentbot triage`` in-process (pathmap and blame at the case's head, first-seen at
its time), then extracts features with the runtime's own code, so what is fitted is what runs. Rows are cached
per case in ``benchmarks/work/features/`` and rebuilt when the linkers' code changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.checkouts import PROJECT_ROOT, WORK_DIR, checkout, clone_once, repos_dir
from benchmarks.choices import location_candidates
from benchmarks.corpus.case import with_corpus_keys
from incidentbot.models import Evidence, Person
from incidentbot.parse import parse_trace
from incidentbot.pipeline import link, open_repo
from incidentbot.settings import Ranking, Settings
from linkers.model import LinearModel
from linkers.suspect_features import FEATURES
from linkers.suspects import SuspectRanker

log = logging.getLogger(__name__)

CORPUS_DIR = PROJECT_ROOT / "benchmarks" / "cases"
CACHE_DIR = WORK_DIR / "features"
FEATURE_CLONES = WORK_DIR / "feature-repos"  # clones of their own: a baseline run may use the others meanwhile
_CODE = ("linkers", "incidentbot/parse", "incidentbot/revision.py", "incidentbot/repo.py", "benchmarks/features.py")


@dataclass(frozen=True)
class CaseRows:
    """One case: its identity and truth, and the candidate rows of the three choices."""

    id: str
    project: str
    language: str
    label_source: str
    head_time: str
    # {"sha", "features", "committed_at", "author", "hit", "hit_refined", "author_hit"}
    suspects: list[dict[str, Any]]
    # {"path", "function", "line", "features", "shas", "exact_sha", "hit_file", "hit"}
    frames: list[dict[str, Any]]
    mapped: bool  # any frame mapped to a repository file
    error: str = ""


def load_corpus(directory: Path = CORPUS_DIR) -> list[dict[str, Any]]:
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no cases in {directory}: run `python -m benchmarks.corpus.build` first")
    return [with_corpus_keys(json.loads(p.read_text())) for p in paths]


def code_version() -> str:
    digest = hashlib.sha256()
    for name in _CODE:
        path = PROJECT_ROOT / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def rows_for_all(cases: list[dict[str, Any]], repos: Path) -> list[CaseRows]:
    version = code_version()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    out: list[CaseRows] = []
    by_repo: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        by_repo.setdefault(case["repo"], []).append(case)
    for repo_name, group in sorted(by_repo.items()):
        pending = [c for c in group if not _cached(c, version)]
        heads = [c["head"] for c in group]
        clone = clone_once(repo_name, repos, heads, into=FEATURE_CLONES) if pending else None
        for case in group:
            cached = _cached(case, version)
            if cached is None:
                assert clone is not None
                log.info("features of %s", case["id"])
                cached = case_rows(case, clone)
                entry = {"version": version, "case": _digest(case), "rows": cached.__dict__}
                (CACHE_DIR / f"{case['id']}.json").write_text(json.dumps(entry))
            out.append(cached)
    return out


def _cached(case: dict[str, Any], version: str) -> CaseRows | None:
    """The rows of an earlier run, while both the linkers' code and the case itself are unchanged."""
    path = CACHE_DIR / f"{case['id']}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    fresh = data.get("version") == version and data.get("case") == _digest(case)
    return CaseRows(**data["rows"]) if fresh else None


def _digest(case: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(case, sort_keys=True).encode()).hexdigest()[:16]


def case_rows(case: dict[str, Any], clone: Path) -> CaseRows:
    checkout(clone, case["head"])
    first_seen = datetime.fromisoformat(case["head_time"])
    settings = Settings(repo=clone, first_seen=first_seen, linkers=("pathmap", "blame"), ranking=Ranking())
    base = CaseRows(
        case["id"],
        case["project"],
        case["language"],
        case.get("label_source", "szz"),
        case["head_time"],
        [],
        [],
        False,
    )
    try:
        trace = parse_trace(case["trace"], settings.limits)
        evidence = link(trace, settings)
    except Exception as exc:  # one unreadable case is a miss, never the end of the run
        return replace(base, error=f"{type(exc).__name__}: {exc}")
    mapped = any(f.repo_path for e in evidence.trace.exceptions for f in e.frames)
    repo = open_repo(clone.resolve())
    suspects = _suspect_rows(evidence, repo, case)
    frames = _frame_rows(evidence, case)
    return replace(base, suspects=suspects, frames=frames, mapped=mapped)


def _suspect_rows(evidence: Evidence, repo: Any, case: dict[str, Any]) -> list[dict[str, Any]]:
    if not evidence.blame:
        return []
    neutral = LinearModel(
        "neutral", "0", FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), (0.0,) * len(FEATURES), 0.0
    )
    ranker = SuspectRanker(Ranking(max_suspects=10_000), neutral)
    import linkers.suspects as module

    saved, module.SHORTLIST = module.SHORTLIST, 10_000  # every candidate, for training
    try:
        scored, _, _ = ranker.rank(evidence, repo)
    finally:
        module.SHORTLIST = saved
    bic, refined = set(case["bic"]), set(case.get("bic_refined") or case["bic"])
    return [
        {
            "sha": s.candidate.commit.sha,
            "committed_at": s.candidate.commit.committed_at.isoformat(),
            "author": [s.candidate.commit.author.name, s.candidate.commit.author.email or ""],
            "features": s.candidate.features,
            "hit": s.candidate.commit.sha in bic,
            "hit_refined": s.candidate.commit.sha in refined,
            "author_hit": _same_person(s.candidate.commit.author, case["bic_authors"]),
        }
        for s in scored
    ]


def _frame_rows(evidence: Evidence, case: dict[str, Any]) -> list[dict[str, Any]]:
    fixes = [(loc["path"], loc.get("function") or "") for loc in case["fix_locations"]]
    rows = []
    for cand in location_candidates(evidence):
        file_hit = any(cand.path == p for p, _ in fixes)
        hit = any(cand.path == p and _same_function(cand.function, f) for p, f in fixes)
        rows.append(
            {
                "path": cand.path,
                "function": cand.function,
                "line": cand.line,
                "features": cand.features,
                "shas": sorted(cand.shas),
                "exact_sha": cand.exact_sha,
                "hit_file": file_hit,
                "hit": hit,
            }
        )
    return rows


def _same_person(person: Person, authors: list[dict[str, str]]) -> bool:
    """As the benchmark scores owner@1: the same e-mail (any case) or exactly the same name."""
    email = (person.email or "").strip().lower()
    return any((email and email == a["email"].strip().lower()) or person.name == a["name"] for a in authors)


def _same_function(found: str | None, expected: str) -> bool:
    if not found:
        return False
    return found == expected or found.split(".")[-1] == expected.split(".")[-1]


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


def section_command(description: str, run: Callable[[Path, Path], list[str]], argv: Sequence[str] | None) -> int:
    """The command line of a script that prints one section of results.md from the corpus: ``--cases DIR``
    (default ``benchmarks/cases``) and ``--repos-dir DIR`` (the local repository copies)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cases", type=Path, default=CORPUS_DIR)
    parser.add_argument("--repos-dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    print("\n".join(run(repos_dir(args.repos_dir), args.cases)))
    return 0
