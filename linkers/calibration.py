"""Per-repository calibration: the shipped suspect model adjusted on a repository's own resolved incidents.

A labelled case is what the ranking saw for one resolved incident (every scored candidate's features, its
commit time and a hashed author) and the true culprits (SZZ on the fix). With at least ``MIN_CASES`` cases a
logistic regression is refitted on them, standardised as the shipped model is, with an L2 penalty that pulls each
coefficient toward the shipped one (``PRIOR`` per case: a few cases move it only a little). The fit is Newton's
method on a strictly convex loss, so it is deterministic and needs no numpy. The calibrated model ranks by its
score alone (the shipped ranking's "innermost failing line first" step is what a refit replaces), and is used
for the repository only when its held-out top-1 (leave one case out; ``FOLDS`` folds past ``LOO_MAX`` cases)
beats the shipped ranking's on the same cases. docs/learning.md lists every limit.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from incidentbot.sqlite_readonly import read_only
from incidentbot.timed_cache import TimedCache
from linkers.model import LinearModel

# Labelled cases a repository needs before a calibration is fitted. Measured in time order on the corpus
# projects with at least 10 cases (benchmarks/learning.py): from 8 to 12 earlier cases a calibration gains and
# loses nowhere; from 5 it loses on two projects, because a held-out top-1 over so few cases is mostly luck.
MIN_CASES = 10
PRIOR = 0.5  # L2 strength toward the shipped coefficients, divided by the number of cases
NEWTON_STEPS = 30
LOO_MAX = 40  # up to this many cases, leave-one-out; above, FOLDS folds (each fit costs the same)
FOLDS = 10
CALIBRATED = "suspects-calibrated"  # the name a calibrated model carries
SHIPPED_LABEL = "shipped weights"
CACHE_SECONDS = 60.0  # a running daemon sees a new calibration within this
_RIDGE = 1e-6

T = TypeVar("T")
Order = Callable[
    [list[T], Callable[[T], dict[str, float]], Callable[[T], float], LinearModel, bool], list[tuple[float, T]]
]


@dataclass(frozen=True, slots=True)
class CaseCandidate:
    sha: str
    time: float  # commit time, epoch seconds (ties go to the newer)
    author: str  # a hash of the author's e-mail: owner@1 without keeping the address
    features: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class LabelledCase:
    issue: int
    culprits: frozenset[str]
    culprit_authors: frozenset[str]
    deepest: str | None  # the commit plain blame of the innermost failing line names
    candidates: tuple[CaseCandidate, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabelledCase:
        return cls(
            issue=int(data["issue"]),
            culprits=frozenset(data["culprits"]),
            culprit_authors=frozenset(data.get("culprit_authors", ())),
            deepest=data.get("deepest"),
            candidates=tuple(
                CaseCandidate(str(c["sha"]), float(c["time"]), str(c["author"]), dict(c["features"]))
                for c in data["candidates"]
            ),
        )


@dataclass(frozen=True, slots=True)
class Scores:
    top1: float
    top3: float
    owner1: float

    def as_json(self) -> dict[str, float]:
        return {"top1": round(self.top1, 4), "top3": round(self.top3, 4), "owner1": round(self.owner1, 4)}


@dataclass(frozen=True, slots=True)
class Calibration:
    repo: str
    cases: int
    model: LinearModel | None  # None: too few cases
    shipped: Scores  # the shipped ranking on the cases
    held_out: Scores | None  # the calibrated ranking, each case scored by a fit that never saw it
    in_use: bool  # held-out top-1 beats the shipped ranking's


def scores(rankings: Sequence[tuple[LabelledCase, Sequence[CaseCandidate]]]) -> Scores:
    """top-1, top-3 and owner@1 (the first suspect's author wrote a culprit) over ranked cases."""
    n = len(rankings) or 1
    top1 = sum(1 for case, ranked in rankings if ranked and ranked[0].sha in case.culprits)
    top3 = sum(1 for case, ranked in rankings if any(c.sha in case.culprits for c in ranked[:3]))
    owner1 = sum(1 for case, ranked in rankings if ranked and ranked[0].author in case.culprit_authors)
    return Scores(top1 / n, top3 / n, owner1 / n)


def ranked(case: LabelledCase, model: LinearModel, order: Order[CaseCandidate], lead: bool) -> list[CaseCandidate]:
    """The case's candidates in the order the ranking (``order``: linkers.suspects.final_order) gives them."""
    pairs = order(list(case.candidates), lambda c: dict(c.features), lambda c: c.time, model, lead)
    return [c for _, c in pairs]


def blame_scores(cases: Sequence[LabelledCase]) -> Scores:
    """Plain blame of the innermost failing line: its commit is the only suspect."""
    by_sha = [(case, [c for c in case.candidates if c.sha == case.deepest][:1]) for case in cases]
    return scores(by_sha)


def fit(shipped: LinearModel, cases: Sequence[LabelledCase], label: str) -> LinearModel:
    """The shipped model refitted on ``cases`` with a pull toward its coefficients; same features and scaling."""
    rows, labels = _design(shipped, cases)
    prior = [shipped.intercept, *shipped.coefficients]
    strength = PRIOR / max(len(cases), 1)
    weights = list(prior)
    loss = _loss(weights, rows, labels, prior, strength)
    for _ in range(NEWTON_STEPS):
        gradient, hessian = _derivatives(weights, rows, labels, prior, strength)
        step = _solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-4:  # damped: the loss must go down
            trial = [w - scale * s for w, s in zip(weights, step, strict=True)]
            trial_loss = _loss(trial, rows, labels, prior, strength)
            if trial_loss <= loss:
                break
            scale /= 2
        else:
            break
        converged = loss - trial_loss < 1e-10
        weights, loss = trial, trial_loss
        if converged:
            break
    return replace(
        shipped,
        name=CALIBRATED,
        version=label,
        intercept=weights[0],
        coefficients=tuple(weights[1:]),
    )


def calibrate(
    repo: str,
    shipped: LinearModel,
    cases: Sequence[LabelledCase],
    order: Order[CaseCandidate],
    min_cases: int = MIN_CASES,
) -> Calibration:
    """Score the shipped ranking and, with at least ``min_cases`` cases, the held-out calibrated one; fit on
    every case."""
    shipped_scores = scores([(case, ranked(case, shipped, order, True)) for case in cases])
    if len(cases) < min_cases:
        return Calibration(repo, len(cases), None, shipped_scores, None, False)
    held: list[tuple[LabelledCase, list[CaseCandidate]]] = []
    folds = len(cases) if len(cases) <= LOO_MAX else FOLDS
    for fold in range(folds):
        train = [c for i, c in enumerate(cases) if i % folds != fold]
        model = fit(shipped, train, "held out")
        held += [(c, ranked(c, model, order, False)) for i, c in enumerate(cases) if i % folds == fold]
    held_scores = scores(held)
    model = fit(shipped, cases, label(len(cases), repo))
    return Calibration(repo, len(cases), model, shipped_scores, held_scores, held_scores.top1 > shipped_scores.top1)


def label(cases: int, repo: str) -> str:
    return f"calibrated on {cases} resolved incidents of {repo}"


def ranked_by(model: LinearModel) -> str:
    """What the report footer says ranked the suspects."""
    return model.version if model.name == CALIBRATED else SHIPPED_LABEL


def repo_key(remote_url: str | None, configured: str | None, path: Path) -> str:
    """The repository a calibration belongs to: OWNER/NAME of its GitHub remote, else GITHUB_REPOSITORY, else
    the checkout's absolute path."""
    if remote_url and remote_url.startswith("https://github.com/"):
        return remote_url.removeprefix("https://github.com/").strip("/")
    return configured or str(path.resolve())


_cache: TimedCache[LinearModel | None] = TimedCache(CACHE_SECONDS)


def model_for(repo: str, database_url: str) -> LinearModel | None:
    """The calibrated model in use for ``repo``, or None (shipped weights); read at most once per
    ``CACHE_SECONDS`` per repository."""

    def load() -> LinearModel | None:
        read = _read_sqlite if database_url.startswith("sqlite:///") else _read_store
        text = read(database_url, repo)
        return LinearModel.from_json(json.loads(text)) if text else None

    return _cache.get((database_url, repo), load)


def _read_sqlite(database_url: str, repo: str) -> str | None:
    """The weights in use from a SQLite store, read-only with the standard library: a triage neither creates nor
    migrates the store, and does not pay for importing SQLAlchemy."""
    try:
        with read_only(database_url) as conn:
            if conn is None:
                return None
            row = conn.execute("SELECT weights_json FROM calibrations WHERE repo = ? AND in_use", (repo,)).fetchone()
    except sqlite3.Error:  # no such table yet (a store from before learning), or locked: the shipped weights
        return None
    return str(row[0]) if row and row[0] else None


def _read_store(database_url: str, repo: str) -> str | None:
    from incidentbot.store import optional_store

    store = optional_store(database_url)
    if store is None:  # the database is down: the shipped weights
        return None
    try:
        return store.calibration_in_use(repo)
    finally:
        store.close()


def forget_cached() -> None:
    """Drop the cached lookups (after a new calibration is stored in this process)."""
    _cache.clear()


# ---- the fit ----------------------------------------------------------------------------------------------


def _design(model: LinearModel, cases: Sequence[LabelledCase]) -> tuple[list[list[float]], list[float]]:
    """Standardised rows (a leading 1 for the intercept) and 0/1 labels; a feature a case lacks is the mean."""
    rows: list[list[float]] = []
    labels: list[float] = []
    for case in cases:
        for cand in case.candidates:
            rows.append(
                [1.0]
                + [
                    (float(cand.features.get(name, mean)) - mean) / scale
                    for name, mean, scale in zip(model.features, model.means, model.scales, strict=True)
                ]
            )
            labels.append(1.0 if cand.sha in case.culprits else 0.0)
    return rows, labels


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _loss(w: list[float], rows: list[list[float]], labels: list[float], prior: list[float], strength: float) -> float:
    n = len(rows) or 1
    total = 0.0
    for row, y in zip(rows, labels, strict=True):
        z = sum(a * b for a, b in zip(w, row, strict=True))
        # log(1 + e^z) - y z, computed stably
        total += (z if z > 0 else 0.0) + math.log1p(math.exp(-abs(z))) - y * z
    penalty = sum((a - b) ** 2 for a, b in zip(w[1:], prior[1:], strict=True))
    return total / n + strength * penalty


def _derivatives(
    w: list[float], rows: list[list[float]], labels: list[float], prior: list[float], strength: float
) -> tuple[list[float], list[list[float]]]:
    size = len(w)
    n = len(rows) or 1
    gradient = [0.0] * size
    hessian = [[0.0] * size for _ in range(size)]
    for row, y in zip(rows, labels, strict=True):
        p = _sigmoid(sum(a * b for a, b in zip(w, row, strict=True)))
        residual, weight = (p - y) / n, p * (1 - p) / n
        for i, xi in enumerate(row):
            if xi == 0.0:
                continue
            gradient[i] += residual * xi
            wx = weight * xi
            line = hessian[i]
            for j in range(i, size):
                line[j] += wx * row[j]
    for i in range(size):
        for j in range(i):
            hessian[i][j] = hessian[j][i]
        hessian[i][i] += _RIDGE + (2 * strength if i else 0.0)
        if i:
            gradient[i] += 2 * strength * (w[i] - prior[i])
    return gradient, hessian


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """``matrix⁻¹ vector`` by Gaussian elimination with partial pivoting (the matrix is positive definite)."""
    size = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        head = a[col][col] or 1e-12
        for r in range(col + 1, size):
            factor = a[r][col] / head
            if factor:
                for c in range(col, size + 1):
                    a[r][c] -= factor * a[col][c]
    out = [0.0] * size
    for r in range(size - 1, -1, -1):
        out[r] = (a[r][size] - sum(a[r][c] * out[c] for c in range(r + 1, size))) / (a[r][r] or 1e-12)
    return out
