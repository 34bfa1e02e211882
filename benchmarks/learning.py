"""Does per-repository calibration (``linkers/calibration.py``, fed by ``incidentbot learn``) help on real
projects? For each corpus project with at least ``MIN_PROJECT_CASES`` cases, in time order (rolling origin):
every case after the first ``calibration.MIN_CASES`` is ranked by

- the shipped weights: the suspect model fitted without any case of this project (as leave-one-project-out
  cross-validation does: a new user's repository was never in the training corpus);
- calibrated: those weights calibrated on this project's earlier cases only (everything before the case's
  date), used as the runtime uses them: only when the calibration's own held-out top-1 on those earlier cases
  beats the shipped weights', else the shipped weights;
- calibrated always: the calibration applied whatever its held-out figure, to size what the rule guards.

The same is shown for the projects with at least ``MIN_SHOWN_CASES`` cases, and, over those, for other values of
the threshold (``SENSITIVITY``), which is how ``calibration.MIN_CASES`` was chosen.

    python -m benchmarks.learning [--cases DIR] [--repos-dir DIR]
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from benchmarks.features import CORPUS_DIR, CaseRows, load_corpus, rows_for_all, section_command
from benchmarks.fit import fit_all
from linkers import calibration
from linkers.calibration import CaseCandidate, LabelledCase, ranked, scores
from linkers.model import LinearModel
from linkers.suspects import final_order

log = logging.getLogger(__name__)

MIN_PROJECT_CASES = 20  # the projects the issue measures on
MIN_SHOWN_CASES = 10  # a broader view: more projects, fewer scored cases each
SENSITIVITY = (5, 8, 10, 12, 15, 20)  # thresholds of labelled cases tried


def labelled(case: CaseRows) -> LabelledCase:
    """A corpus case as ``incidentbot learn`` stores one: candidates, culprits, culprit authors, deepest."""

    def who(author: list[str]) -> str:
        return hashlib.sha256((author[1] or author[0]).strip().lower().encode()).hexdigest()[:16]

    exact = [s for s in case.suspects if s["features"].get("exact_deepest") and not s["features"].get("cosmetic_only")]
    return LabelledCase(
        issue=0,
        culprits=frozenset(s["sha"] for s in case.suspects if s["hit"]),
        culprit_authors=frozenset(who(s["author"]) for s in case.suspects if s["author_hit"]),
        deepest=exact[0]["sha"] if exact else None,
        candidates=tuple(
            CaseCandidate(
                s["sha"], datetime.fromisoformat(s["committed_at"]).timestamp(), who(s["author"]), s["features"]
            )
            for s in case.suspects
        ),
    )


def project_figures(
    project: list[CaseRows], shipped: LinearModel, min_cases: int = calibration.MIN_CASES
) -> dict[str, float]:
    """Rolling origin over one project's cases in time order: each case after the first ``min_cases``."""
    ordered = sorted(project, key=lambda c: datetime.fromisoformat(c.head_time))
    cases = [labelled(c) for c in ordered]
    plain, used, always = [], [], []
    chosen = 0
    for k in range(min_cases, len(cases)):
        earlier, case = cases[:k], cases[k]
        result = calibration.calibrate("bench", shipped, earlier, final_order, min_cases)
        assert result.model is not None
        shipped_order = ranked(case, shipped, final_order, True)
        calibrated_order = ranked(case, result.model, final_order, False)
        plain.append((case, shipped_order))
        always.append((case, calibrated_order))
        used.append((case, calibrated_order if result.in_use else shipped_order))
        chosen += result.in_use
    return {
        "cases": len(cases),
        "scored": len(plain),
        "shipped": scores(plain).top1,
        "calibrated": scores(used).top1,
        "always": scores(always).top1,
        "in_use": chosen,
    }


def run(repos: Path, cases_dir: Path = CORPUS_DIR) -> list[str]:
    rows = rows_for_all(load_corpus(cases_dir), repos)
    by_project: dict[str, list[CaseRows]] = defaultdict(list)
    for case in rows:
        by_project[case.project].append(case)
    shown = sorted(p for p, cases in by_project.items() if len(cases) >= MIN_SHOWN_CASES)
    shipped = {p: fit_all([c for c in rows if c.project != p], f"cv-{p}")["suspects"] for p in shown}
    by_threshold = {
        m: {p: project_figures(by_project[p], shipped[p], m) for p in shown if len(by_project[p]) > m}
        for m in sorted({*SENSITIVITY, calibration.MIN_CASES})
    }
    figures = by_threshold[calibration.MIN_CASES]
    big = {p: f for p, f in figures.items() if len(by_project[p]) >= MIN_PROJECT_CASES}
    return section(big, figures, by_threshold)


def section(
    big: dict[str, dict[str, float]],
    shown: dict[str, dict[str, float]],
    by_threshold: dict[int, dict[str, dict[str, float]]],
) -> list[str]:
    lines = [
        "## Learning from resolved incidents: per-repository calibration (time-ordered)",
        "",
        f"Corpus projects with at least {MIN_PROJECT_CASES} cases (`python -m benchmarks.learning`). In time order,"
        f" every case after the first {calibration.MIN_CASES} (`calibration.MIN_CASES`) is ranked by the shipped"
        " weights (fitted without this project) and by those weights calibrated on the project's earlier cases"
        " only, as `incidentbot learn` would have by then; the runtime uses a calibration only when its held-out"
        ' top-1 on those earlier cases beats the shipped weights\' ("calibrated"); "calibrated always" ignores that'
        " rule.",
        "",
        *_table(big),
        "",
        f"The same on every corpus project with at least {MIN_SHOWN_CASES} cases:",
        "",
        *_table(shown),
        "",
        "How many earlier cases a calibration needs: the same, over those projects, for other thresholds (a"
        " project counts once it has a case after the threshold). `calibration.MIN_CASES` was chosen on this"
        " table, so its own row is not a held-out figure.",
        "",
        "| earlier cases needed | projects | scored | top-1 shipped | top-1 calibrated | difference | worst project |",
        "|---|---|---|---|---|---|---|",
    ]
    for threshold, figures in by_threshold.items():
        pooled = _pooled(figures)
        worst = min((f["calibrated"] - f["shipped"], p) for p, f in figures.items()) if figures else (0.0, "–")
        lines.append(
            f"| {threshold} | {len(figures)} | {pooled['scored']} | {pooled['shipped']:.2f} |"
            f" {pooled['calibrated']:.2f} | {pooled['calibrated'] - pooled['shipped']:+.2f} |"
            f" {worst[1]} {worst[0]:+.2f} |"
        )
    return [*lines, ""]


def _pooled(figures: dict[str, dict[str, float]]) -> dict[str, float]:
    scored = sum(f["scored"] for f in figures.values())
    out = {k: sum(f[k] * f["scored"] for f in figures.values()) / (scored or 1) for k in ("shipped", "calibrated")}
    return {**out, "scored": scored}


def _table(figures: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "| project | cases | scored | top-1 shipped | top-1 calibrated | difference | calibrated always"
        " | calibration in use |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for project, f in figures.items():
        lines.append(
            f"| {project} | {f['cases']} | {f['scored']} | {f['shipped']:.2f} | {f['calibrated']:.2f} | "
            f"{f['calibrated'] - f['shipped']:+.2f} | {f['always']:.2f} | {f['in_use']} of {f['scored']} |"
        )
    pooled = _pooled(figures)
    lines += [
        "",
        f"Pooled over the {int(pooled['scored'])} scored cases: top-1 {pooled['shipped']:.2f} with the shipped"
        f" weights, {pooled['calibrated']:.2f} calibrated ({pooled['calibrated'] - pooled['shipped']:+.2f}).",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    return section_command(__doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
