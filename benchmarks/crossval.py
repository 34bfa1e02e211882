"""The headline accuracy of ``make bench``: the corpus (``benchmarks/cases/``) scored by leave-one-project-out
cross-validation beside the plain-git baselines run on the same checkouts, per language and per project, on
both label sets, with a reliability table and ``benchmarks/calibration.png``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.accuracy import Case, CaseResult, Score, run_case, score
from benchmarks.baselines import BASELINES, Answer, Author
from benchmarks.checkouts import PROJECT_ROOT, WORK_DIR, clone_once
from benchmarks.disagreements import section_for as disagreements
from benchmarks.features import CORPUS_DIR, CaseRows, load_corpus, rows_for_all
from benchmarks.fit import CaseScore, calibration, cross_validate, in_sample, plot_calibration

log = logging.getLogger(__name__)

CALIBRATION_PNG = PROJECT_ROOT / "benchmarks" / "calibration.png"
BASELINE_CACHE = WORK_DIR / "baselines"
OURS = "incidentbot (cross-validated)"
MODEL_ORDER = "fitted models alone: suspect order, location, owner (cross-validated)"
IN_SAMPLE = "incidentbot in-sample (not a result)"
KS = (1, 3, 5)


@dataclass(frozen=True)
class Row:
    """One method on one case, reduced to what the tables show."""

    rank: int | None
    rank_refined: int | None
    file_hit: bool | None  # None: the method names no location
    function_hit: bool | None
    owner_hit: bool


def run(repos: Path, cases_dir: Path = CORPUS_DIR) -> list[str]:
    cases = [Case.load(p) for p in sorted(cases_dir.glob("*.json"))]
    raw = {str(c["id"]): c for c in load_corpus(cases_dir)}
    rows = rows_for_all(list(raw.values()), repos)
    cv = {s.id: s for s in cross_validate(rows)}
    fitted = {s.id: s for s in in_sample(rows)}
    baselines = baseline_results(cases, repos)
    table: dict[str, dict[str, Row]] = {OURS: {}, MODEL_ORDER: {}, IN_SAMPLE: {}}
    for case in cases:
        table[OURS][case.id] = _ours(cv[case.id])
        alone = cv[case.id]
        table[MODEL_ORDER][case.id] = Row(alone.rank_model, None, None, alone.model_function_hit, alone.model_owner_hit)
        table[IN_SAMPLE][case.id] = _ours(fitted[case.id])
        refined = set(raw[case.id].get("bic_refined") or case.bic)
        for name in BASELINES:
            table.setdefault(name, {})[case.id] = _theirs(baselines[case.id], name, refined)
    bands = calibration(list(cv.values()))
    plot_calibration(bands, CALIBRATION_PNG)
    deepest = {i: (r.answers["deepest-frame blame"].commits or (None,))[0] for i, r in baselines.items()}
    return _render(rows, table, bands) + disagreements(list(raw.values()), rows, cv, deepest, repos)


def baseline_results(cases: list[Case], repos: Path) -> dict[str, CaseResult]:
    """The baselines on every case, cached per case in ``benchmarks/work/baselines/`` (git-stacktrace alone takes
    seconds to minutes a case): a case's answers depend only on its checkout and trace, which never change."""
    BASELINE_CACHE.mkdir(parents=True, exist_ok=True)
    out: dict[str, CaseResult] = {}
    pending = []
    for case in cases:
        path = BASELINE_CACHE / f"{case.id}.json"
        cached = json.loads(path.read_text()) if path.exists() else None
        if cached and cached.get("head") == case.head and sorted(cached["answers"]) == sorted(BASELINES):
            result = CaseResult(case)
            result.answers = {name: _answer(data) for name, data in cached["answers"].items()}
            result.scores = {name: score(answer, case) for name, answer in result.answers.items()}
            out[case.id] = result
        else:
            pending.append(case)
    clones: dict[str, Path] = {}
    for case in pending:  # one at a time, each saved at once: an interrupted run keeps what it did
        if case.repo not in clones:
            clones[case.repo] = clone_once(case.repo, repos, [c.head for c in cases if c.repo == case.repo])
        result = run_case(case, clones[case.repo], with_tool=False)
        answers = {name: dataclasses.asdict(answer) for name, answer in result.answers.items()}
        path = BASELINE_CACHE / f"{result.case.id}.json"
        path.write_text(json.dumps({"head": result.case.head, "answers": answers}))
        out[result.case.id] = result
    return out


def _answer(data: dict[str, Any]) -> Answer:
    return Answer(
        commits=tuple(data["commits"]),
        owners=tuple(Author(**o) for o in data["owners"]),
        location=tuple(data["location"]) if data["location"] else None,  # type: ignore[arg-type]
        note=data["note"],
    )


def _ours(s: CaseScore) -> Row:
    return Row(s.rank, s.rank_refined, s.file_hit, s.function_hit, s.owner_hit)


def _theirs(result: CaseResult, name: str, refined: set[str]) -> Row:
    score: Score = result.scores[name]
    answer = result.answers[name]
    rank_refined = next((i + 1 for i, sha in enumerate(answer.commits) if sha in refined), None)
    has_location = answer.location is not None or name == "deepest-frame blame"
    return Row(
        score.rank,
        rank_refined,
        score.file_hit if has_location else None,
        score.function_hit if has_location else None,
        score.owner_hit,
    )


def _metrics(rows: Sequence[Row], refined: bool = False) -> dict[str, float | None]:
    n = len(rows) or 1
    ranks = [r.rank_refined if refined else r.rank for r in rows]
    located = [r for r in rows if r.file_hit is not None]
    return {
        **{f"top{k}": sum(1 for x in ranks if x is not None and x <= k) / n for k in KS},
        "mrr": sum(1 / x for x in ranks if x) / n,
        "file1": sum(bool(r.file_hit) for r in rows) / n if located else None,
        "function1": sum(bool(r.function_hit) for r in rows) / n if located else None,
        "owner1": sum(r.owner_hit for r in rows) / n,
    }


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _by_label_source(rows: Sequence[CaseRows], table: dict[str, dict[str, Row]]) -> list[str]:
    """Every method on the cases of each label source, both languages together. A bisected culprit is exact;
    an SZZ one comes from ``git blame -w`` of the fixed lines, the same tool as the deepest-frame baseline, so the
    two sources say how far that shared blind spot flatters blame."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_source[r.label_source].append(r.id)
    sources = sorted(by_source)
    out = [
        "### By label source (top-1 / top-3, both languages, `bic`)",
        "",
        "| method | " + " | ".join(f"{s} ({len(by_source[s])} cases)" for s in sources) + " |",
        "|---|" + "---|" * len(sources),
    ]
    for method, by_case in table.items():
        cells = []
        for source in sources:
            m = _metrics([by_case[i] for i in by_source[source]])
            cells.append(f"{_fmt(m['top1'])} / {_fmt(m['top3'])}")
        out.append(f"| {method} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _render(
    rows: Sequence[CaseRows],
    table: dict[str, dict[str, Row]],
    bands: list[tuple[tuple[float, float], int, float, float]],
) -> list[str]:
    projects: dict[str, list[CaseRows]] = defaultdict(list)
    for r in rows:
        projects[r.project].append(r)
    languages = sorted({r.language for r in rows})
    sources = defaultdict(int)
    for r in rows:
        sources[r.label_source] += 1
    out = [
        "## Accuracy (cross-validated)",
        "",
        f"{len(rows)} cases from {len(projects)} projects (`benchmarks/cases/`, rebuilt by "
        "`python -m benchmarks.corpus.build`); labels: "
        + ", ".join(f"{n} {k}" for k, n in sorted(sources.items()))
        + ". incidentbot's figures are leave-one-project-out: every project is scored by models fitted "
        "without any of its cases (`python -m benchmarks.fit`). The in-sample row is shown only to size the "
        "overfitting. Baselines: plain git on the same checkouts.",
        "",
    ]
    for language in languages:
        ids = [r.id for r in rows if r.language == language]
        for refined in (False, True):
            label = "bic_refined" if refined else "SZZ/bisect labels (`bic`)"
            out += [
                f"### {language.capitalize()}, {len(ids)} cases, {label}",
                "",
                "| method | top-1 | top-3 | top-5 | MRR | file@1 | function@1 | owner@1 |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for method, by_case in table.items():
                if refined and method == MODEL_ORDER:
                    continue
                m = _metrics([by_case[i] for i in ids], refined)
                out.append(
                    f"| {method} | {_fmt(m['top1'])} | {_fmt(m['top3'])} | {_fmt(m['top5'])} | {_fmt(m['mrr'])} | "
                    f"{_fmt(m['file1'])} | {_fmt(m['function1'])} | {_fmt(m['owner1'])} |"
                )
            out.append("")
    out += _by_label_source(rows, table)
    out += [
        "### Per project (top-1, `bic`)",
        "",
        "| project | language | cases | incidentbot (CV) | deepest-frame blame | Sentry's rule | git-stacktrace | "
        "function@1 ours / deepest | owner@1 ours / deepest |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for project, group in sorted(projects.items()):
        ids = [r.id for r in group]
        ours = _metrics([table[OURS][i] for i in ids])
        deep = _metrics([table["deepest-frame blame"][i] for i in ids])
        sentry = _metrics([table["Sentry's rule (365 d)"][i] for i in ids])
        gst = _metrics([table["git-stacktrace"][i] for i in ids])
        out.append(
            f"| {project} | {group[0].language} | {len(ids)} | {_fmt(ours['top1'])} | {_fmt(deep['top1'])} | "
            f"{_fmt(sentry['top1'])} | {_fmt(gst['top1'])} | {_fmt(ours['function1'])} / {_fmt(deep['function1'])} | "
            f"{_fmt(ours['owner1'])} / {_fmt(deep['owner1'])} |"
        )
    out += [
        "",
        "### Reliability of the suspect scores (cross-validated)",
        "",
        "Every suspect a report would show (the first five), by the score the held-out model gave it.",
        "",
        "| score band | suspects | mean score | share that was the culprit | difference |",
        "|---|---|---|---|---|",
    ]
    for (lo, hi), count, mean, share in bands:
        shown = (_fmt(mean), _fmt(share), f"{share - mean:+.2f}") if count else ("–", "–", "–")
        out.append(f"| {lo:.1f}–{hi:.1f} | {count} | " + " | ".join(shown) + " |")
    out += ["", f"![calibration]({CALIBRATION_PNG.name})", ""]
    return out
