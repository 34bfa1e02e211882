"""Fit the ranking, location and owner models on the training corpus and judge them by leave-one-project-out
cross-validation: each project is scored by models fitted without any of its cases, so the figures say how the
ranking does on code it has never seen. ``--write`` then fits on the whole corpus and writes the shipped weights
(``linkers/weights/*.json``).

    python -m benchmarks.fit [--cases DIR] [--repos-dir DIR] [--write]

The model is an L2-regularised logistic regression on standardised features (scikit-learn, bench extra only),
one row per candidate, C fixed at 1.0 (not tuned on the folds, so the cross-validated figures carry no
selection bias). The runtime applies it with ``linkers/model.py`` and no dependency.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.checkouts import repos_dir
from benchmarks.choices import LOCATION_FEATURES, OWNER_FEATURES, PersonCandidate, owner_candidates
from benchmarks.features import CORPUS_DIR, CaseRows, load_corpus, rows_for_all
from incidentbot.models import Person
from linkers.model import WEIGHTS_DIR, LinearModel
from linkers.suspect_features import FEATURES
from linkers.suspects import final_order, select_shortlist

log = logging.getLogger(__name__)

C = 1.0
SHOWN = 5  # suspects a report shows (Ranking.max_suspects)
BANDS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0001))


@dataclass
class CaseScore:
    id: str
    project: str
    language: str
    rank: int | None  # of the first culprit among the shown suspects
    rank_refined: int | None
    rank_model: int | None  # the fitted model's order alone, without the innermost line's commit leading
    file_hit: bool  # the runtime's location: the innermost in-app frame, application code first
    function_hit: bool
    owner_hit: bool  # the runtime's first owner: the top suspect's author
    model_function_hit: bool  # the fitted location model's choice, for comparison
    model_owner_hit: bool  # the fitted owner model's choice, for comparison
    shown: list[tuple[float, bool]] = field(default_factory=list)  # (score, is culprit) of the shown suspects
    first: str | None = None  # the sha of the first suspect


def fit(rows: Sequence[tuple[dict[str, float], bool]], features: Sequence[str], name: str, version: str) -> LinearModel:
    """Logistic regression on standardised features → the runtime's LinearModel."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    # A feature a row lacks (commit facts git could not give) counts as the mean, as the runtime reads it.
    x = np.array([[r[0].get(f, np.nan) for f in features] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=int)
    means = np.nan_to_num(np.nanmean(x, axis=0)) if len(x) else np.zeros(len(features))
    x = np.where(np.isnan(x), means, x)
    scales = x.std(axis=0)
    scales[scales == 0] = 1.0
    if y.min() == y.max():
        return LinearModel(name, version, tuple(features), tuple(means), tuple(scales), (0.0,) * len(features), 0.0)
    model = LogisticRegression(C=C, max_iter=2000)
    model.fit((x - means) / scales, y)
    return LinearModel(
        name,
        version,
        tuple(features),
        tuple(round(float(v), 6) for v in means),
        tuple(round(float(v), 6) for v in scales),
        tuple(round(float(v), 6) for v in model.coef_[0]),
        round(float(model.intercept_[0]), 6),
    )


def suspect_rows(cases: Sequence[CaseRows]) -> list[tuple[dict[str, float], bool]]:
    """Every candidate but the reformatting-only ones, which the runtime scores 0 without the model."""
    return [
        (s["features"], bool(s["hit"])) for c in cases for s in c.suspects if not s["features"].get("cosmetic_only")
    ]


def frame_rows(cases: Sequence[CaseRows], suspects: LinearModel) -> list[tuple[dict[str, float], bool]]:
    return [(features, bool(frame["hit"])) for c in cases for features, frame in framed(c, suspects)]


def framed(case: CaseRows, suspects: LinearModel) -> list[tuple[dict[str, float], dict[str, Any]]]:
    """Each frame's features completed with where the top suspect (as ``suspects`` ranks) stands."""
    ranked = ranked_suspects(case, suspects)
    top = ranked[0][1]["sha"] if ranked else None
    return [
        (
            {
                **f["features"],
                "top_suspect_here": float(top is not None and top in f["shas"]),
                "top_suspect_exact": float(top is not None and top == f["exact_sha"]),
            },
            f,
        )
        for f in case.frames
    ]


def owner_rows(cases: Sequence[CaseRows], suspects: LinearModel) -> list[tuple[dict[str, float], bool]]:
    return [(cand.features, hit) for c in cases for cand, hit in people(c, suspects)]


def people(case: CaseRows, suspects: LinearModel) -> list[tuple[PersonCandidate, bool]]:
    """The authors of the suspects a report shows, as the runtime's owner linker sees them."""
    shown = ranked_suspects(case, suspects)[:SHOWN]
    hits = {s["sha"]: bool(s["author_hit"]) for _, s in shown}
    ranked = [(Person(*s["author"]), s["sha"], round(p, 3), s["features"]) for p, s in shown]
    return [(cand, any(hits[sha] for sha in cand.shas)) for cand in owner_candidates(ranked)]


def ranked_suspects(case: CaseRows, model: LinearModel, lead: bool = True) -> list[tuple[float, dict[str, Any]]]:
    """As the runtime ranks (``linkers.suspects``): the shortlist without commit facts, then the final order."""
    shortlist = select_shortlist(case.suspects, lambda s: s["features"], model)
    return final_order(
        shortlist, lambda s: s["features"], lambda s: datetime.fromisoformat(s["committed_at"]).timestamp(), model, lead
    )


def score_case(case: CaseRows, models: dict[str, LinearModel]) -> CaseScore:
    scored = ranked_suspects(case, models["suspects"])[:SHOWN]
    rank = next((i + 1 for i, (_, s) in enumerate(scored) if s["hit"]), None)
    rank_refined = next((i + 1 for i, (_, s) in enumerate(scored) if s["hit_refined"]), None)
    alone = ranked_suspects(case, models["suspects"], lead=False)[:SHOWN]
    rank_model = next((i + 1 for i, (_, s) in enumerate(alone) if s["hit"]), None)
    frame = _best(framed(case, models["suspects"]), models["location"])
    owner = _best([(c.features, hit) for c, hit in people(case, models["suspects"])], models["owners"])
    nearest = next((f for f in case.frames if not f["features"].get("test")), case.frames[0] if case.frames else None)
    return CaseScore(
        case.id,
        case.project,
        case.language,
        rank,
        rank_refined,
        rank_model,
        bool(nearest and nearest["hit_file"]),
        bool(nearest and nearest["hit"]),
        bool(scored and scored[0][1]["author_hit"]),
        bool(frame and frame[1]["hit"]),
        bool(owner and owner[1]),
        [(p, bool(s["hit"])) for p, s in scored],
        scored[0][1]["sha"] if scored else None,
    )


def _best(rows: Sequence[tuple[dict[str, float], Any]], model: LinearModel) -> tuple[dict[str, float], Any] | None:
    """The candidate the model scores highest; ties go to the first (nearest the raise, or best suspect)."""
    if not rows:
        return None
    return max(enumerate(rows), key=lambda item: (model.probability(item[1][0]), -item[0]))[1]


def calibrate(model: LinearModel, cases: Sequence[CaseRows], version: str) -> LinearModel:
    """Rescale the model's log-odds so its scores hold on projects it has not seen (Platt scaling).

    A model fitted on some projects is over-confident on others. The scale comes from out-of-fold scores: each
    project's candidates scored by a model fitted without that project, then a one-feature logistic regression
    of the truth on those log-odds. Being a linear map of the log-odds, it folds into the model's weights, and
    the order of the suspects is unchanged.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    projects = sorted({c.project for c in cases})
    if len(projects) < 3:
        return model
    logits: list[float] = []
    truth: list[bool] = []
    for project in projects:
        inner = fit(suspect_rows([c for c in cases if c.project != project]), FEATURES, "inner", version)
        for features, hit in suspect_rows([c for c in cases if c.project == project]):
            logits.append(inner.logit(features))
            truth.append(hit)
    if len(set(truth)) < 2:
        return model
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(np.array(logits).reshape(-1, 1), np.array(truth))
    scale, shift = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return LinearModel(
        model.name,
        model.version,
        model.features,
        model.means,
        model.scales,
        tuple(round(c * scale, 6) for c in model.coefficients),
        round(model.intercept * scale + shift, 6),
    )


def fit_all(cases: Sequence[CaseRows], version: str) -> dict[str, LinearModel]:
    """The suspect model first (calibrated out of fold); location and owner models are fitted on features that
    include its ranking."""
    suspects = calibrate(fit(suspect_rows(cases), FEATURES, "suspects", version), cases, version)
    return {
        "suspects": suspects,
        "location": fit(frame_rows(cases, suspects), LOCATION_FEATURES, "location", version),
        "owners": fit(owner_rows(cases, suspects), OWNER_FEATURES, "owners", version),
    }


def cross_validate(
    cases: Sequence[CaseRows], fold_of: Callable[[CaseRows], str] = lambda c: c.project
) -> list[CaseScore]:
    """Leave one project out: every case is scored by models fitted on the other projects only."""
    folds = sorted({fold_of(c) for c in cases})
    out: list[CaseScore] = []
    for fold in folds:
        train = [c for c in cases if fold_of(c) != fold]
        models = fit_all(train, f"cv-{fold}")
        out += [score_case(c, models) for c in cases if fold_of(c) == fold]
    return out


def in_sample(cases: Sequence[CaseRows]) -> list[CaseScore]:
    models = fit_all(cases, "in-sample")
    return [score_case(c, models) for c in cases]


def summary(scores: Sequence[CaseScore], refined: bool = False, model_order: bool = False) -> dict[str, float]:
    """``model_order``: the fitted models alone (suspect order, location model, owner model)."""
    n = len(scores) or 1
    ranks = [s.rank_model if model_order else s.rank_refined if refined else s.rank for s in scores]
    functions = [s.model_function_hit if model_order else s.function_hit for s in scores]
    owners = [s.model_owner_hit if model_order else s.owner_hit for s in scores]
    return {
        "cases": len(scores),
        "top1": sum(1 for r in ranks if r == 1) / n,
        "top3": sum(1 for r in ranks if r is not None and r <= 3) / n,
        "top5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr": sum(1 / r for r in ranks if r) / n,
        "file1": sum(s.file_hit for s in scores) / n,
        "function1": sum(functions) / n,
        "owner1": sum(owners) / n,
    }


def calibration(scores: Sequence[CaseScore]) -> list[tuple[tuple[float, float], int, float, float]]:
    """Per score band: suspects shown, their mean score, the share that were the culprit."""
    out = []
    for lo, hi in BANDS:
        inside = [(p, hit) for s in scores for p, hit in s.shown if lo <= p < hi]
        if inside:
            out.append(
                (
                    (lo, min(hi, 1.0)),
                    len(inside),
                    sum(p for p, _ in inside) / len(inside),
                    sum(hit for _, hit in inside) / len(inside),
                )
            )
        else:
            out.append(((lo, min(hi, 1.0)), 0, 0.0, 0.0))
    return out


def plot_calibration(bands: list[tuple[tuple[float, float], int, float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    used = [b for b in bands if b[1]]
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot([b[2] for b in used], [b[3] for b in used], marker="o", label="incidentbot (cross-validated)")
    for b in used:
        ax.annotate(str(b[1]), (b[2], b[3]), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xlabel("suspect score (band mean)")
    ax.set_ylabel("share that was the culprit")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Reliability of suspect scores\n(leave-one-project-out; n per point)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_weights(models: dict[str, LinearModel]) -> None:
    """The suspect model ships; the location and owner models are fitted for comparison only (the runtime uses
    the simpler rules that matched or beat them under cross-validation)."""
    model = models["suspects"]
    (WEIGHTS_DIR / "suspects.json").write_text(json.dumps(model.to_json(), indent=1) + "\n")


def corpus_rows(cases_dir: Path, repos: Path) -> list[CaseRows]:
    return rows_for_all(load_corpus(cases_dir), repos)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=CORPUS_DIR)
    parser.add_argument("--repos-dir", type=Path)
    parser.add_argument("--write", action="store_true", help="fit on the whole corpus and write linkers/weights/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    rows = corpus_rows(args.cases, repos_dir(args.repos_dir))
    scores = cross_validate(rows)
    by_language: dict[str, list[CaseScore]] = defaultdict(list)
    for s in scores:
        by_language[s.language].append(s)
    for language, group in sorted(by_language.items()):
        print(language, json.dumps({k: round(v, 3) for k, v in summary(group).items()}))
        print(language, "refined", json.dumps({k: round(v, 3) for k, v in summary(group, refined=True).items()}))
        print(
            language, "model order", json.dumps({k: round(v, 3) for k, v in summary(group, model_order=True).items()})
        )
    print("in-sample", json.dumps({k: round(v, 3) for k, v in summary(in_sample(rows)).items()}))
    for band in calibration(scores):
        print(band)
    if args.write:
        projects = sorted({c.project for c in rows})
        version = f"{len(rows)} cases, {len(projects)} projects, {datetime.now(tz=UTC):%Y-%m-%d}"
        write_weights(fit_all(rows, version))
        print("wrote", WEIGHTS_DIR, version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
