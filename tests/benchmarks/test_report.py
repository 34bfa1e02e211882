"""The end-to-end accuracy section says whether the shipped weights were fitted on the cases it scores."""

from __future__ import annotations

from benchmarks.accuracy import TOOL, Case, CaseResult, Score
from benchmarks.baselines import Answer, Author
from benchmarks.report import accuracy_section

CULPRIT = "b" * 40


def _result(case_id: str, repo: str, head: str, rank: int | None) -> CaseResult:
    case = Case(case_id, repo, head, "2024-01-01T00:00:00+00:00", "", (CULPRIT,), (Author("Ann", "a@x"),), (), "")
    result = CaseResult(case)
    for method in (TOOL, "deepest-frame blame"):
        result.answers[method] = Answer(commits=(CULPRIT,) if rank else ())
        result.scores[method] = Score(rank, False, False, rank == 1)
        result.seconds[method] = 0.1
    return result


def test_the_section_names_in_sample_unseen_and_mixed_case_sets() -> None:
    a = _result("shop-1", "acme/shop", "1" * 40, 1)
    b = _result("cart-1", "acme/cart", "2" * 40, None)
    training = {("acme/shop", "1" * 40)}

    inside = accuracy_section([a], training, published=True)
    assert inside[0] == "## Accuracy end to end on the shared cases (in-sample)"
    assert "part of the corpus the weights were fitted on" in inside[2]
    assert "published |" in next(line for line in inside if line.startswith("| method"))

    unseen = accuracy_section([b], training, published=False)
    assert unseen[0] == "## Accuracy end to end on the cases (projects the weights never saw)"
    header = next(line for line in unseen if line.startswith("| method"))
    assert "published" not in header
    row = next(line for line in unseen if line.startswith(f"| {TOOL} |"))
    assert row.count("|") == header.count("|")  # no stray column once "published" is gone

    later = _result("shop-2", "acme/shop", "3" * 40, 2)
    mixed = accuracy_section([a, later, b], training, published=False)
    assert mixed[0].endswith("(partly in-sample)")
    assert "fitted on, 1; from its repositories but not in it, 1; from repositories it never saw, 1." in mixed[2]
