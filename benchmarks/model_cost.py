"""What the fitted model adds to a triage: the time to compute every candidate commit's features, score and
order them and weigh the reasons, on corpus cases after blame (the git calls, which the ranking needed before
the model too, are not counted). The target is under 5 ms per trace.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from pathlib import Path

from benchmarks.checkouts import checkout, clone_once
from benchmarks.features import FEATURE_CLONES, load_corpus
from incidentbot.parse import parse_trace
from incidentbot.pipeline import link
from incidentbot.settings import Settings
from linkers.model import shipped
from linkers.suspect_features import collect, deepest_first, trace_features

CASES = 40
ROUNDS = 20


def measure(repos: Path, cases_limit: int = CASES) -> list[float]:
    """Milliseconds per trace (the median of ``ROUNDS`` runs), one figure per case."""
    corpus = load_corpus()
    cases = corpus[:: max(1, len(corpus) // cases_limit)][:cases_limit]
    model = shipped("suspects")
    out: list[float] = []
    for case in cases:
        clone = clone_once(case["repo"], repos, [case["head"]], into=FEATURE_CLONES)
        checkout(clone, case["head"])
        first_seen = datetime.fromisoformat(case["head_time"])
        settings = Settings(repo=clone, first_seen=first_seen, linkers=("pathmap", "blame"))
        evidence = link(parse_trace(case["trace"], settings.limits), settings)
        if not evidence.blame:
            continue
        commits = {c.sha: c for c in evidence.commits}
        runs = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            candidates, _ = collect(evidence.blame, commits, first_seen)
            trace_features(candidates, first_seen)
            ranked = sorted(candidates.values(), key=lambda c: -model.probability(c.features))
            deepest_first(ranked, lambda c: c.features)
            for cand in ranked[:5]:
                model.contributions(cand.features)  # the reasons
            runs.append((time.perf_counter() - started) * 1000)
        out.append(statistics.median(runs))
    return out


def section(figures: list[float]) -> list[str]:
    ordered = sorted(figures)
    p90 = ordered[int(0.9 * (len(ordered) - 1))] if ordered else 0.0
    return [
        "## What the fitted model costs",
        "",
        f"Features, scores and reasons of every candidate commit, on {len(figures)} corpus cases after blame "
        f"(median of {ROUNDS} runs each; the git calls are not counted): median "
        f"{statistics.median(figures) if figures else 0:.2f} ms per trace, p90 {p90:.2f} ms, max "
        f"{max(figures) if figures else 0:.2f} ms (target: under 5 ms).",
        "",
    ]
