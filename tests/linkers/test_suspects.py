"""Blame and suspect ranking on a real repository whose history holds every hard case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from incidentbot.models import Evidence, ExceptionInfo, Frame, Trace
from incidentbot.repo import RepoView
from incidentbot.settings import Ranking
from linkers.blame import Blamer, ignore_revs
from linkers.cosmetic import normalise_code
from linkers.model import LinearModel
from linkers.suspect_features import FEATURES
from linkers.suspects import SuspectRanker
from tests.gitbuilder import GitRepoBuilder
from tests.linkers.history import ShopHistory, build_shop

FIRST_SEEN = datetime(2024, 4, 12, 9, 0, tzinfo=UTC)


@pytest.fixture
def shop(git_repo: GitRepoBuilder) -> ShopHistory:
    return build_shop(git_repo)


def _line_of(repo: RepoView, rev: str, path: str, needle: str) -> int:
    lines = repo.read_lines(path, rev) or ()
    return next(i for i, text in enumerate(lines, 1) if needle in text)


def _evidence(repo: RepoView, rev: str, frames: list[tuple[str, str, str]], first_seen: datetime) -> Evidence:
    """A trace whose frames (path, function, source needle) are already mapped, outermost first."""
    built = tuple(
        Frame(
            filename=f"/srv/app/{path}",
            function=function,
            lineno=_line_of(repo, rev, path, needle),
            repo_path=path,
            repo_line=_line_of(repo, rev, path, needle),
            in_app=True,
        )
        for path, function, needle in frames
    )
    trace = Trace(
        exceptions=(ExceptionInfo("ZeroDivisionError", "division by zero", frames=built),),
        first_seen=first_seen,
    )
    return Evidence(trace=trace, fingerprint="x", revision=rev)


def _rank(
    evidence: Evidence, repo: RepoView, ranking: Ranking | None = None, model: LinearModel | None = None
) -> Evidence:
    ranking = ranking or Ranking()
    return SuspectRanker(ranking, model).link(Blamer(ranking).link(evidence, repo), repo)


def _model(**coefficients: float) -> LinearModel:
    """A model that weighs only the named features (standardised as-is), to test the mechanics, not the fit."""
    return LinearModel(
        "test",
        "test",
        FEATURES,
        (0.0,) * len(FEATURES),
        (1.0,) * len(FEATURES),
        tuple(coefficients.get(f, 0.0) for f in FEATURES),
        0.0,
    )


CRASH = [
    ("shop/cart.py", "total", "return apply_discount("),
    ("shop/pricing.py", "apply_discount", "return total / discount"),
]


def test_the_commit_that_wrote_the_failing_line_ranks_first(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    ranked = _rank(_evidence(repo, shop.release, CRASH, FIRST_SEEN), repo)
    top = ranked.suspects[0]
    assert top.sha == shop.culprit
    assert top.author.email == "bob@example.com"
    assert any("last changed the failing line shop/pricing.py:8" in reason for reason in top.reasons)
    assert 0.0 < top.score <= 1.0
    scores = [s.score for s in ranked.suspects]
    assert scores == sorted(scores, reverse=True)


def test_commits_after_first_seen_are_never_suspects(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    # Triaged against the newest commit (as with --rev HEAD), the later fix's commit is blamed but excluded.
    ranked = _rank(
        _evidence(
            repo,
            shop.after_release,
            CRASH[:1] + [("shop/pricing.py", "apply_discount", "return total / (discount or 1)")],
            FIRST_SEEN,
        ),
        repo,
    )
    assert shop.after_release not in {s.sha for s in ranked.suspects}
    assert any("newer than first-seen" in w for w in ranked.warnings)


def test_reformatting_is_blamed_past(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    ranked = _rank(_evidence(repo, shop.release, CRASH[:1], FIRST_SEEN), repo)
    # The call line's quotes were changed by the formatter; the code was written by Alice's first commit.
    exact = [b for b in ranked.blame if b.line == b.frame_line and not b.cosmetic]
    assert {b.sha for b in exact} == {shop.first}
    cosmetic = [b for b in ranked.blame if b.cosmetic]
    assert {b.sha for b in cosmetic} == {shop.reformat}
    by_sha = {s.sha: s for s in ranked.suspects}
    assert ranked.suspects[0].sha == shop.first
    if shop.reformat in by_sha:
        assert by_sha[shop.reformat].score < by_sha[shop.first].score / 3


def test_merge_and_ignored_bulk_commits_are_not_suspects(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    assert ignore_revs(repo, shop.release) == (shop.bulk,)
    ranked = _rank(_evidence(repo, shop.release, CRASH, FIRST_SEEN), repo)
    shas = {s.sha for s in ranked.suspects}
    assert shop.bulk not in shas
    assert shop.merge not in shas


def test_a_bulk_commit_is_named_as_one(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    frames = [("shop/pricing.py", "tax", "def tax(total, rate=0.2):")]
    model = _model(exact_nearest=2.0, bulk=-3.0)
    ranked = _rank(_evidence(repo, shop.bulk, frames, FIRST_SEEN), repo, model=model)
    bulk = next(s for s in ranked.suspects if s.sha == shop.bulk)
    assert dict(bulk.features)["bulk"] == 1.0
    assert any("bulk change of 61 files" in r for r in bulk.reasons)
    # The threshold is a setting: above it the same commit is no bulk change and scores higher.
    unpenalised = _rank(_evidence(repo, shop.bulk, frames, FIRST_SEEN), repo, Ranking(bulk_files=1000), model)
    assert next(s for s in unpenalised.suspects if s.sha == shop.bulk).score > bulk.score


def test_blame_follows_renames(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    frames = [("shop/stock.py", "reserve", "LEVELS[name] = LEVELS.get")]
    ranked = _rank(_evidence(repo, shop.release, frames, FIRST_SEEN), repo)
    exact = next(b for b in ranked.blame if b.line == b.frame_line)
    assert exact.orig_path == "shop/inventory.py"
    assert ranked.suspects[0].author.email == "bob@example.com"
    assert ranked.suspects[0].summary == "Add inventory"


def test_the_frame_nearest_the_raise_outweighs_its_callers(git_repo: GitRepoBuilder) -> None:
    from tests.gitbuilder import ALICE, BOB

    outer = git_repo.commit("outer", ALICE, "2024-01-01T00:00:00", {"a.py": "def outer():\n    return inner()\n"})
    inner = git_repo.commit("inner", BOB, "2023-06-01T00:00:00", {"b.py": "def inner():\n    return 1 / 0\n"})
    repo = RepoView(git_repo.root)
    frames = [("a.py", "outer", "return inner()"), ("b.py", "inner", "return 1 / 0")]
    ranked = _rank(_evidence(repo, inner, frames, FIRST_SEEN), repo)
    assert [s.sha for s in ranked.suspects[:2]] == [inner, outer]


def test_scores_are_comparable_and_bounded(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    ranked = _rank(_evidence(repo, shop.release, CRASH, FIRST_SEEN), repo)
    assert all(0.0 <= s.score <= 1.0 for s in ranked.suspects)
    assert all(s.reasons for s in ranked.suspects)


def test_no_blame_means_no_suspects_not_a_crash(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    trace = Trace(exceptions=(ExceptionInfo("KeyError", "'x'"),))
    evidence = Evidence(trace=trace, fingerprint="x", revision=shop.release)
    assert _rank(evidence, repo).suspects == ()


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        ("x = {'a': 1}", 'x = {"a": 1}', True),
        ("call(a, b)", "call(a,b)", True),
        ("call(a, b)", "call(a, c)", False),
        ("items = [1, 2,]", "items = [1, 2,]", True),
    ],
)
def test_normalise_code(before: str, after: str, same: bool) -> None:
    assert (normalise_code(before) == normalise_code(after)) is same


def test_deploy_range_is_a_feature_and_a_reason(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    evidence = _evidence(repo, shop.release, CRASH, FIRST_SEEN)
    model = _model(exact_nearest=2.0, deploy=1.0)
    plain = {s.sha: s.score for s in _rank(evidence, repo, model=model).suspects}
    deployed = _rank(replace(evidence, release_range=(shop.merge, shop.release)), repo, model=model)
    scores = {s.sha: s.score for s in deployed.suspects}
    assert scores[shop.culprit] > plain[shop.culprit]
    assert scores[shop.first] < plain[shop.first]
    culprit = next(s for s in deployed.suspects if s.sha == shop.culprit)
    assert "in the deploy range" in culprit.reasons


def test_reasons_follow_the_model_and_a_revert_is_named(git_repo: GitRepoBuilder) -> None:
    from tests.gitbuilder import ALICE, BOB

    git_repo.commit("base", ALICE, "2024-01-01T00:00:00", {"a.py": "def f():\n    return 1 / 1\n"})
    change = git_repo.commit("Make f divide", BOB, "2024-03-01T00:00:00", {"a.py": "def f():\n    return 1 / 0\n"})
    git_repo.commit("fix", ALICE, "2024-03-02T00:00:00", {"a.py": "def f():\n    return 1 / 1\n"})
    revert = git_repo.commit('Revert "fix"', BOB, "2024-03-03T00:00:00", {"a.py": "def f():\n    return 1 / 0\n"})
    repo = RepoView(git_repo.root)
    model = _model(exact_nearest=2.0, revert=-1.0)
    ranked = _rank(_evidence(repo, revert, [("a.py", "f", "return 1 / 0")], FIRST_SEEN), repo, model=model)
    top = ranked.suspects[0]
    assert top.sha == revert and change not in {s.sha for s in ranked.suspects}
    # Strongest contribution first, then what lowered the score, then the age.
    assert top.reasons[0].startswith("last changed the failing line a.py:2")
    assert top.reasons[1] == "a revert or backout"
    assert top.reasons[-1].startswith("committed ")
    assert top.score == round(model.probability(dict(top.features)), 3)
