"""``incidentbot learn`` and per-repository calibration on real repositories with a habit of their own.

The fixture history: each incident's crash is raised in ``app/core/`` but caused one frame above, in an
``app/validators/`` module (the culprit), while a later harmless edit of the raising line (the decoy) is what
plain blame and the shipped ranking's "innermost failing line first" name. A second repository's culprits are
the commits that changed the raising line, which the shipped weights already get right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from incidentbot import pipeline, settings
from incidentbot.commands.cli import main
from incidentbot.models import Evidence
from linkers.calibration import MIN_CASES
from tests.gitbuilder import ALICE, BOB, CAROL, GitRepoBuilder

START = datetime(2026, 1, 1, tzinfo=UTC)
PAST = 30  # resolved incidents learnt from
NEW = 10  # new crashes ranked after learning


@dataclass(frozen=True)
class Incident:
    number: int
    trace: str
    culprit: str
    fix: str | None


def _files(i: int) -> dict[str, str | None]:
    return {
        f"app/handlers/h{i}.py": (
            f"from app.validators.v{i} import check_{i}\n\n\ndef handle_{i}(payload):\n"
            f"    request = dict(payload)\n    return check_{i}(request)\n"
        ),
        f"app/validators/v{i}.py": (
            f"from app.core.c{i} import compute_{i}\n\n\ndef check_{i}(payload):\n"
            f'    value = payload.get("amount")\n    return compute_{i}(value)\n'
        ),
        f"app/core/c{i}.py": f"def compute_{i}(value):\n    total = value + 1\n    return total * 2\n",
    }


def _trace(i: int, raising: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "/srv/shop/app/handlers/h{i}.py", line 6, in handle_{i}\n    return check_{i}(request)\n'
        f'  File "/srv/shop/app/validators/v{i}.py", line 6, in check_{i}\n    return compute_{i}(value)\n'
        f'  File "/srv/shop/app/core/c{i}.py", line 2, in compute_{i}\n    {raising}\n'
        "TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'\n"
    )


def build_history(
    builder: GitRepoBuilder,
    habit: str,
    count: int,
    fixed: int,
    fix_message: str = "Fix #{n}: check_{i} reads the amount",
) -> list[Incident]:
    """``count`` incidents, the first ``fixed`` of them fixed by a commit (by default naming issue #(i + 1))."""
    files: dict[str, str | None] = {}
    for i in range(count):
        files.update(_files(i))
    builder.commit("Initial shop", ALICE, START.isoformat(), files)
    out = []
    for i in range(count):
        day = START + timedelta(days=10 + 2 * i)
        validators, core = f"app/validators/v{i}.py", f"app/core/c{i}.py"
        v_bad = _files(i)[validators].replace('"amount"', '"amount_text"')  # type: ignore[union-attr]
        c_new = f"def compute_{i}(value):\n    total = 1 + value\n    return total * 2\n"
        if habit == "validators":
            culprit = builder.commit(f"Read the amount text in check_{i}", BOB, day.isoformat(), {validators: v_bad})
            builder.commit(f"Tidy compute_{i}", CAROL, (day + timedelta(hours=6)).isoformat(), {core: c_new})
            fix_files: dict[str, str | None] = {validators: _files(i)[validators]}
        else:
            builder.commit(
                f"Rename the payload in check_{i}",
                BOB,
                day.isoformat(),
                {validators: v_bad.replace("payload.get", "dict(payload).get")},
            )
            culprit = builder.commit(
                f"Add one first in compute_{i}", CAROL, (day + timedelta(hours=6)).isoformat(), {core: c_new}
            )
            fix_files = {core: f"def compute_{i}(value):\n    total = (value or 0) + 1\n    return total * 2\n"}
        fix = None
        if i < fixed:
            fix = builder.commit(
                fix_message.format(n=i + 1, i=i), ALICE, (day + timedelta(days=1)).isoformat(), fix_files
            )
        out.append(Incident(i + 1, _trace(i, "total = 1 + value"), culprit, fix))
    return out


def issue_json(incident: Incident) -> dict[str, Any]:
    return {
        "number": incident.number,
        "title": f"TypeError in compute_{incident.number - 1}",
        "body": f"It crashed:\n\n```\n{incident.trace}```\n",
        "state": "closed",
        "closed_at": "2027-01-01T00:00:00Z",
        "html_url": f"https://github.com/acme/shop/issues/{incident.number}",
    }


@dataclass(frozen=True)
class Fixture:
    root: Path
    incidents: list[Incident]
    issues: Path  # the JSON export of the resolved incidents' issues


def _fixture(base: Path, habit: str, count: int, fixed: int) -> Fixture:
    builder = GitRepoBuilder(base / "repo")
    incidents = build_history(builder, habit, count, fixed)
    issues = base / "issues.json"
    issues.write_text(json.dumps([issue_json(i) for i in incidents[:fixed]]))
    return Fixture(builder.root, incidents, issues)


@pytest.fixture(scope="module")
def habit_repo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """30 resolved incidents and 10 new crashes, every culprit in a validators/ module above the raise."""
    return _fixture(tmp_path_factory.mktemp("habit"), "validators", PAST + NEW, PAST)


@pytest.fixture(scope="module")
def plain_repo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """A second repository whose culprits changed the raising line: the shipped weights already get them."""
    return _fixture(tmp_path_factory.mktemp("plain"), "raise", 24, 24)


def _learn(*args: str) -> Result:
    return CliRunner().invoke(main, ["learn", *args])


def _triage(root: Path, incident: Incident) -> Evidence:
    conf = settings.load(None, repo=root, blame_index=False)
    return pipeline.link(pipeline.parse_trace(incident.trace, conf.limits), conf)


def _top1(root: Path, incidents: list[Incident]) -> tuple[int, set[str]]:
    """How many crashes name their culprit first, and which weights ranked them."""
    found = [_triage(root, incident) for incident in incidents]
    hits = sum(1 for e, i in zip(found, incidents, strict=True) if e.suspects and e.suspects[0].sha == i.culprit)
    return hits, {e.ranked_by or "" for e in found}


def test_learn_calibrates_a_repository_with_a_habit_and_leaves_another_on_the_shipped_weights(
    habit_repo: Fixture, plain_repo: Fixture
) -> None:
    new = habit_repo.incidents[PAST:]
    before, ranked_by = _top1(habit_repo.root, new)
    assert ranked_by == {"shipped weights"}

    result = _learn("--repo", str(habit_repo.root), "--issues-from", str(habit_repo.issues), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["cases"] == PAST
    assert {"cases", "items", "shipped", "blame", "calibrated"} <= set(out)
    assert set(out["shipped"]) == {"top1", "top3", "owner1"} and "top1" in out["blame"]
    by_issue = {item["issue"]: item for item in out["items"]}
    for incident in habit_repo.incidents[:PAST]:
        item = by_issue[incident.number]
        assert item == {
            "issue": incident.number,
            "fix": incident.fix,
            "culprits": [incident.culprit],
            "found_by": "commit_message",
        }
    assert out["calibrated"]["top1"] > out["shipped"]["top1"]
    assert out["calibrated"]["top1"] > out["blame"]["top1"]

    after, ranked_by = _top1(habit_repo.root, new)
    assert after > before, (before, after)
    assert after >= NEW - 1
    assert ranked_by == {f"calibrated on {PAST} resolved incidents of {habit_repo.root}"}

    plain = _learn("--repo", str(plain_repo.root), "--issues-from", str(plain_repo.issues), "--json")
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)["ranked_by"] == "shipped weights"
    _, plain_ranked_by = _top1(plain_repo.root, plain_repo.incidents[-2:])
    assert plain_ranked_by == {"shipped weights"}

    status = CliRunner().invoke(main, ["status"])
    assert status.exit_code == 0, status.output
    assert f"suspects of {habit_repo.root} ranked by: calibrated on {PAST} resolved incidents" in status.output
    assert f"suspects of {plain_repo.root} ranked by: shipped weights (24 labelled case(s))" in status.output


def test_console_and_markdown_footers_name_the_weights(habit_repo: Fixture) -> None:
    trace = habit_repo.root.parent / "trace.txt"
    trace.write_text(habit_repo.incidents[-1].trace)
    result = CliRunner().invoke(main, ["triage", str(trace), "--repo", str(habit_repo.root), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith("Suspects ranked by shipped weights")


def test_dry_run_shows_what_it_would_store_and_writes_nothing(habit_repo: Fixture, tmp_path: Path) -> None:
    five = tmp_path / "five.json"
    five.write_text(json.dumps([issue_json(i) for i in habit_repo.incidents[:5]]))
    result = _learn("--repo", str(habit_repo.root), "--issues-from", str(five), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "5 labelled case(s) would store" not in result.stdout
    assert "5 labelled case(s) would be stored" in result.stdout
    assert f"#1: fix {habit_repo.incidents[0].fix[:12]} (commit_message)" in result.stdout
    assert f"needs {MIN_CASES} cases (has 5)" in result.stdout
    assert not (tmp_path / "state").exists()  # no store was created


def test_too_few_cases_have_no_calibrated_figures(habit_repo: Fixture, tmp_path: Path) -> None:
    five = tmp_path / "five.json"
    five.write_text(json.dumps([issue_json(i) for i in habit_repo.incidents[:5]]))
    out = json.loads(_learn("--repo", str(habit_repo.root), "--issues-from", str(five), "--json").stdout)
    assert out["cases"] == 5 and out["calibrated"] is None
    assert out["ranked_by"] == "shipped weights"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read"),
        ("not json {", "is not JSON"),
        ('{"number": 1}', "not a list of issues"),
        ('[{"number": 1, "state": "closed", "body": "no trace here"}]', "none of the 1 issue(s) carries a stack trace"),
        ("[]", "no issue objects found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    habit_repo: Fixture, tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "issues.json"
    if content is not None:
        path.write_text(content)
    result = _learn("--repo", str(habit_repo.root), "--issues-from", str(path))
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_learn_needs_issues_and_a_checkout(tmp_path: Path) -> None:
    result = _learn("--repo", str(tmp_path))
    assert result.exit_code == 2 and "not a git repository" in result.stderr


def test_the_fit_is_deterministic_and_a_few_cases_move_it_only_a_little() -> None:
    from linkers.calibration import CaseCandidate, LabelledCase, fit
    from linkers.model import shipped

    model = shipped("suspects")
    name = model.features[0]  # whatever the shipped model's features are today

    def case(n: int) -> LabelledCase:
        culprit = CaseCandidate("a" * 40, 1.0, "x", {name: 0.0})
        other = CaseCandidate("b" * 40, 2.0, "y", {name: 1.0})
        return LabelledCase(n, frozenset({culprit.sha}), frozenset({"x"}), other.sha, (culprit, other))

    few, many = fit(model, [case(n) for n in range(3)], "few"), fit(model, [case(n) for n in range(60)], "many")
    assert fit(model, [case(n) for n in range(3)], "few") == few
    moved_few = abs(few.coefficients[0] - model.coefficients[0])
    moved_many = abs(many.coefficients[0] - model.coefficients[0])
    assert many.coefficients[0] < model.coefficients[0]  # the culprits lack the feature: its weight goes down
    assert 0 < moved_few < moved_many
    assert few.features == model.features and few.means == model.means
