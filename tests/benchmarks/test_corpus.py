"""The corpus tools on real repositories: SZZ (modified and add-only fixes, reformatting followed back), the
corpus checks, the Java baseline reader, and the fitted model's file format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.corpus.build import check
from benchmarks.corpus.szz import szz
from benchmarks.features import load_corpus
from benchmarks.plaintrace import map_frames, parse_frames
from linkers.model import LinearModel
from tests.gitbuilder import ALICE, BOB, CAROL, DAVE, GitRepoBuilder

PRICING = "def price(total, rate):\n    if rate is None:\n        return total\n    return total / rate\n"


def test_szz_blames_the_lines_a_fix_changed(git_repo: GitRepoBuilder) -> None:
    git_repo.commit("pricing", ALICE, "2024-01-01T00:00:00", {"shop/pricing.py": PRICING, "tests/test_p.py": "x = 1\n"})
    culprit = git_repo.commit(
        "divide", BOB, "2024-02-01T00:00:00", {"shop/pricing.py": PRICING.replace("total / rate", "total // rate")}
    )
    fixed = PRICING.replace("total / rate", "total / rate if rate else total")
    fix = git_repo.commit("fix", CAROL, "2024-03-01T00:00:00", {"shop/pricing.py": fixed, "tests/test_p.py": "x = 2\n"})
    result = szz(git_repo.root / ".git", fix)
    assert result is not None
    assert result.kind == "modified" and result.bic == [culprit] and result.bic_refined == [culprit]
    assert result.fix_locations == [{"path": "shop/pricing.py", "function": "price", "lines": [4]}]


def test_szz_of_an_add_only_fix_blames_the_neighbours(git_repo: GitRepoBuilder) -> None:
    base = git_repo.commit("pricing", ALICE, "2024-01-01T00:00:00", {"shop/pricing.py": PRICING})
    guarded = PRICING.replace(
        "    return total / rate\n", "    if rate == 0:\n        return 0\n    return total / rate\n"
    )
    fix = git_repo.commit("guard zero", CAROL, "2024-03-01T00:00:00", {"shop/pricing.py": guarded})
    result = szz(git_repo.root / ".git", fix)
    assert result is not None and result.kind == "add-only" and result.bic == [base]


def test_bic_refined_adds_the_writer_past_a_reformatting(git_repo: GitRepoBuilder) -> None:
    # Blame -w already looks past whitespace; a change of quotes is what it attributes to the formatter.
    single = "def label(kind):\n    return {'net': 'N'}[kind]\n"
    double = single.replace("'", '"')
    writer = git_repo.commit("labels", ALICE, "2024-01-01T00:00:00", {"shop/labels.py": single})
    formatter = git_repo.commit("format", DAVE, "2024-02-01T00:00:00", {"shop/labels.py": double})
    fixed = double.replace("[kind]", ".get(kind, kind)")
    fix = git_repo.commit("fix", CAROL, "2024-03-01T00:00:00", {"shop/labels.py": fixed})
    result = szz(git_repo.root / ".git", fix)
    assert result is not None and result.bic == [formatter] and result.bic_refined == [formatter, writer]


def test_bic_refined_looks_past_the_repositorys_own_ignore_revs(git_repo: GitRepoBuilder) -> None:
    # A formatting sweep that re-wraps lines (so no line reads the same) is what .git-blame-ignore-revs is for.
    writer = git_repo.commit("pricing", ALICE, "2024-01-01T00:00:00", {"shop/pricing.py": PRICING})
    swept = PRICING.replace("    return total / rate\n", "    return (\n        total / rate\n    )\n")
    sweep = git_repo.commit("Format everything", DAVE, "2024-02-01T00:00:00", {"shop/pricing.py": swept})
    git_repo.commit("ignore the sweep", DAVE, "2024-02-02T00:00:00", {".git-blame-ignore-revs": f"{sweep}\n"})
    fix = git_repo.commit(
        "fix", CAROL, "2024-03-01T00:00:00", {"shop/pricing.py": swept.replace("total / rate", "total / (rate or 1)")}
    )
    result = szz(git_repo.root / ".git", fix)
    assert result is not None and result.bic == [sweep] and result.bic_refined == [sweep, writer]


def test_the_corpus_check_names_reserved_projects_and_repeated_fixes(tmp_path: Path) -> None:
    case = {
        "id": "flask-1",
        "project": "flask",
        "language": "python",
        "label_source": "szz",
        "repo": "pallets/flask",
        "head": "a" * 40,
        "head_time": "2024-01-01T00:00:00+00:00",
        "trace": "",
        "bic": ["b" * 40],
        "bic_authors": [],
        "fix_locations": [],
        "szz_kind": "modified",
        "fix": "c" * 40,
    }
    (tmp_path / "flask-1.json").write_text(json.dumps(case))
    (tmp_path / "flask-2.json").write_text(json.dumps({**case, "id": "flask-2", "label_source": "guess"}))
    problems = check(tmp_path)
    assert "flask-1: flask is reserved for the independent check" in problems
    assert "flask-2: label_source 'guess'" in problems
    assert any("2 cases" in p for p in problems)


def test_cases_in_the_shared_format_gain_the_corpus_keys_and_corpus_cases_keep_theirs(tmp_path: Path) -> None:
    """The cross-validation commands run on any folder of shared cases, which lack the corpus' own keys."""
    shared = {
        "id": "widgets-lib-3",
        "repo": "acme/widgets-lib",
        "head": "a" * 40,
        "head_time": "2024-01-01T00:00:00+00:00",
        "trace": "",
        "trace_format": "python",
        "bic": ["b" * 40],
        "bic_authors": [],
        "fix_locations": [],
        "szz_kind": "modified",
        "fix": "c" * 40,
    }
    own = {**shared, "id": "gears-1", "project": "gears", "language": "java", "label_source": "bisect"}
    own["bic_refined"] = ["b" * 40, "d" * 40]
    (tmp_path / "widgets-lib-3.json").write_text(json.dumps(shared))
    (tmp_path / "gears-1.json").write_text(json.dumps(own))
    loaded = {case["id"]: case for case in load_corpus(tmp_path)}
    assert {k: loaded["widgets-lib-3"][k] for k in ("project", "language", "label_source", "bic_refined")} == {
        "project": "widgets-lib",
        "language": "python",
        "label_source": "szz",
        "bic_refined": ["b" * 40],
    }
    assert loaded["gears-1"] == own


def test_java_frames_are_read_in_pythons_order_and_mapped_by_package() -> None:
    trace = (
        "java.lang.IllegalStateException: wrapped\n"
        "\tat com.acme.Api.call(Api.java:10)\n"
        "\tat com.acme.ApiTest.testCall(ApiTest.java:5)\n"
        "Caused by: java.lang.NullPointerException\n"
        "\tat com.acme.util.Parse.read(Parse.java:42)\n"
        "\t... 2 more\n"
    )
    frames = parse_frames(trace)
    assert [(f.function, f.line) for f in frames] == [("read", 42), ("testCall", 5), ("call", 10)]
    tracked = {
        "src/main/java/com/acme/Api.java",
        "src/main/java/com/acme/util/Parse.java",
        "src/test/java/com/acme/ApiTest.java",
    }
    mapped = map_frames(frames, tracked)
    assert [m.repo_path for m in mapped] == [
        "src/main/java/com/acme/util/Parse.java",
        "src/test/java/com/acme/ApiTest.java",
        "src/main/java/com/acme/Api.java",
    ]


def test_the_model_file_round_trips_and_scores_are_probabilities() -> None:
    model = LinearModel("m", "v", ("a", "b"), (1.0, 0.0), (2.0, 1.0), (1.5, -0.5), -1.0)
    again = LinearModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again == model
    assert model.contributions({"a": 3.0, "b": 2.0}) == {"a": 1.5, "b": -1.0}
    assert model.probability({"a": 3.0, "b": 2.0}) == pytest.approx(1 / (1 + math.exp(-(-1.0 + 0.5))))
    # A feature the caller lacks counts as the training mean: it moves nothing.
    assert model.contributions({})["a"] == 0.0
    assert 0.0 <= model.probability({"a": -1e9}) <= model.probability({"a": 1e9}) <= 1.0
    with pytest.raises(ValueError, match="format"):
        LinearModel.from_json({**model.to_json(), "format": 99})


def test_disagreements_say_why_incidentbot_did_not_lead_with_blames_commit(git_repo: GitRepoBuilder) -> None:
    from benchmarks.disagreements import COSMETIC, IGNORED, repository_facts, section
    from benchmarks.features import CaseRows
    from benchmarks.fit import CaseScore

    wrote = git_repo.commit("pricing", ALICE, "2024-01-01T00:00:00", {"shop/pricing.py": PRICING})
    black = git_repo.commit("Format w/ black", BOB, "2024-02-01T00:00:00", {"shop/pricing.py": PRICING + "\n"})
    head = git_repo.commit("ignore the reformat", BOB, "2024-02-02T00:00:00", {".git-blame-ignore-revs": black + "\n"})
    ignored, subjects = repository_facts(git_repo.root, head, [black, wrote])
    assert ignored == {black} and subjects == {black: "Format w/ black", wrote: "pricing"}

    def case(name: str, suspects: list[dict[str, object]]) -> CaseRows:
        return CaseRows(name, "p", "python", "szz", "2024-03-01T00:00:00+00:00", suspects, [], True)

    def first(name: str, sha: str) -> CaseScore:
        return CaseScore(name, "p", "python", 1, 1, 1, True, True, True, True, True, [], sha)

    rows = [
        case("a", []),  # blame names the ignored reformat, SZZ labels it; incidentbot names the writer
        case(
            "b",
            [
                {"sha": "f" * 40, "features": {"exact_callers": 1.0}},
                {"sha": wrote, "features": {"exact_deepest": 1.0}},
            ],
        ),
        case("c", []),  # incidentbot right
        case("d", []),  # the same commit: no disagreement
    ]
    cv = {"a": first("a", wrote), "b": first("b", wrote), "c": first("c", wrote), "d": first("d", wrote)}
    deepest = {"a": black, "b": "f" * 40, "c": black, "d": wrote}
    bic = {"a": {black}, "b": {"f" * 40}, "c": {wrote}, "d": {wrote}}
    facts = {name: (ignored, subjects) for name in cv}
    text = "\n".join(section(rows, cv, deepest, bic, facts))
    assert "different commits in 3: incidentbot is right in 1, deepest-frame blame in 2, neither in 0" in text
    assert f"| a | {black[:10]} | Format w/ black | {IGNORED} |" in text
    assert f"| b | {'f' * 10} |  | {COSMETIC} |" in text
    assert f"| c | {wrote[:10]} | pricing |" in text
