""" "Seen before": a new incident that resembles a resolved one links the earlier issue, its fix and who fixed it,
in every output and in the LLM agent's context; the store's memory of one repository stays with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from incidentbot import pipeline, recall, settings
from incidentbot.commands.cli import main
from incidentbot.draft.agent import Agent
from incidentbot.draft.template import report_body
from incidentbot.models import Report
from incidentbot.store import open_store
from reporters.console import ConsoleReporter
from reporters.github_issue import issue_body
from reporters.json_report import report_to_dict
from reporters.slack_blocks import first_occurrence, root_message
from tests.gitbuilder import ALICE, BOB, CAROL, GitRepoBuilder

GOOD = 'COUPONS = {"spring10": 10}\n\n\ndef apply_coupon(total, code):\n    rate = COUPONS.get(code.lower(), 0)\n    return total - total * rate / 100\n'  # noqa: E501
BAD = GOOD.replace("COUPONS.get(code.lower(), 0)", "COUPONS[code]")
APP = "from shop.pricing import apply_coupon\n\n\ndef checkout(total, code):\n    return apply_coupon(total, code)\n"


def _trace(code: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/shop/shop/app.py", line 5, in checkout\n    return apply_coupon(total, code)\n'
        '  File "/srv/shop/shop/pricing.py", line 5, in apply_coupon\n    rate = COUPONS[code]\n'
        f"KeyError: '{code}'\n"
    )


@pytest.fixture
def shop(tmp_path: Path) -> tuple[GitRepoBuilder, str, str, Path]:
    """A bug (Bob), its fix for issue #7 (Carol), then the same bug back (Bob again)."""
    repo = GitRepoBuilder(tmp_path / "shop")
    repo.commit("Initial shop", ALICE, "2026-01-01T10:00:00+00:00", {"shop/pricing.py": GOOD, "shop/app.py": APP})
    repo.git("remote", "add", "origin", "https://github.com/acme/shop.git")
    repo.commit("Look coupons up by their exact code", BOB, "2026-02-01T10:00:00+00:00", {"shop/pricing.py": BAD})
    fix = repo.commit("Fix #7: unknown coupon codes", CAROL, "2026-02-03T10:00:00+00:00", {"shop/pricing.py": GOOD})
    regression = repo.commit("Faster coupon lookup", BOB, "2026-03-01T10:00:00+00:00", {"shop/pricing.py": BAD})
    issues = tmp_path / "issues.json"
    issue = {
        "number": 7,
        "title": "KeyError in apply_coupon",
        "body": f"Checkout fails:\n\n```\n{_trace('WINTER5')}```\n",
        "state": "closed",
        "closed_at": "2026-02-03T12:00:00Z",
        "html_url": "https://github.com/acme/shop/issues/7",
    }
    issues.write_text(json.dumps([issue]))
    return repo, fix, regression, issues


def _report(root: Path, code: str) -> Report:
    conf = settings.load(None, repo=root, first_seen=datetime(2026, 3, 2, tzinfo=UTC))
    return pipeline.triage(_trace(code), conf)


def test_a_resolved_incident_learnt_from_its_issue_is_seen_before_with_its_fix_and_fixer(
    shop: tuple[GitRepoBuilder, str, str, Path],
) -> None:
    repo, fix, regression, issues = shop
    assert _report(repo.root, "SUMMER20").evidence.seen_before == ()  # nothing learnt yet

    learnt = CliRunner().invoke(main, ["learn", "--repo", str(repo.root), "--issues-from", str(issues), "--json"])
    assert learnt.exit_code == 0, learnt.output
    assert [item["fix"] for item in json.loads(learnt.stdout)["items"]] == [fix]

    report = _report(repo.root, "SUMMER20")  # other values than the resolved incident's trace
    (seen,) = report.evidence.seen_before
    assert seen.incident.issue_number == 7 and seen.incident.fix_sha == fix
    assert seen.incident.fixed_by == CAROL.name and seen.incident.fix_summary == "Fix #7: unknown coupon codes"
    assert seen.incident.issue_url == "https://github.com/acme/shop/issues/7"

    # The commit that brought the bug back is the top suspect; the old fix is not blamed (it was undone).
    assert report.evidence.suspects[0].sha == regression

    as_json = report_to_dict(report)["seen_before"]
    assert as_json == [
        {
            "issue": 7,
            "url": "https://github.com/acme/shop/issues/7",
            "matched_on": seen.matched_on,
            "fix": fix,
            "fix_summary": "Fix #7: unknown coupon codes",
            "fixed_by": CAROL.name,
        }
    ]
    console = ConsoleReporter().render(report)
    assert "Seen before #7" in console and fix[:7] in console and CAROL.name in console
    body_md = report_body(report)
    assert "### Seen before" in body_md and "[#7](https://github.com/acme/shop/issues/7)" in body_md
    body = issue_body(report, {}, datetime(2026, 3, 2, tzinfo=UTC))
    assert "### Seen before" in body and f"`{fix[:7]}`" in body
    blocks = json.dumps(root_message(report, first_occurrence(report), [], datetime(2026, 3, 2, tzinfo=UTC)))
    assert "*Seen before:*" in blocks and "<https://github.com/acme/shop/issues/7|#7>" in blocks

    conf = settings.load(None, repo=repo.root, openai_base_url="http://127.0.0.1:9/v1")
    context = Agent.from_settings(conf, pipeline.open_repo(repo.root.resolve()))._context(report.evidence)
    assert "## Seen before" in context and f"fixed by commit {fix}" in context and "ShowCommit" in context


def test_a_fix_that_did_not_cover_the_new_crash_is_a_suspect_that_says_so(tmp_path: Path) -> None:
    repo = GitRepoBuilder(tmp_path / "shop")
    repo.commit("Initial shop", ALICE, "2026-01-01T10:00:00+00:00", {"shop/pricing.py": GOOD, "shop/app.py": APP})
    repo.commit("Look coupons up by their exact code", BOB, "2026-02-01T10:00:00+00:00", {"shop/pricing.py": BAD})
    partial = BAD.replace("COUPONS[code]", "COUPONS[code.lower()]")  # fixes the case of the code only
    fix = repo.commit(
        "Fix #7: coupon codes in capitals", CAROL, "2026-02-03T10:00:00+00:00", {"shop/pricing.py": partial}
    )
    issues = tmp_path / "issues.json"
    issues.write_text(
        json.dumps([{"number": 7, "title": "KeyError", "body": f"```\n{_trace('WINTER5')}```", "state": "closed"}])
    )
    assert CliRunner().invoke(main, ["learn", "--repo", str(repo.root), "--issues-from", str(issues)]).exit_code == 0

    trace = _trace("bogus").replace("rate = COUPONS[code]", "rate = COUPONS[code.lower()]")
    conf = settings.load(None, repo=repo.root, first_seen=datetime(2026, 3, 6, tzinfo=UTC))
    report = pipeline.triage(trace, conf)
    assert [s.incident.fix_sha for s in report.evidence.seen_before] == [fix]
    top = report.evidence.suspects[0]
    assert top.sha == fix and top.reasons[0].startswith("it fixed #7 before")


def test_an_incident_resolved_without_a_found_fix_is_still_linked_and_other_repositories_see_nothing(
    shop: tuple[GitRepoBuilder, str, str, Path], tmp_path: Path
) -> None:
    repo, _, _, _ = shop
    first = _report(repo.root, "A1")
    conf = settings.load(None, repo=repo.root)
    store = open_store(conf.effective_database_url)
    try:
        store.record_occurrence(first, datetime(2026, 3, 2, tzinfo=UTC))
        store.set_issue(first.evidence.fingerprint, 12, "https://github.com/acme/shop/issues/12")
        store.set_state(first.evidence.fingerprint, "resolved")
    finally:
        store.close()
    recall.forget_cached()  # a daemon sees it within CACHE_SECONDS; this process at once
    again = _report(repo.root, "B2")
    (seen,) = again.evidence.seen_before
    assert (seen.incident.issue_number, seen.incident.fix_sha, seen.matched_on) == (12, None, "same error")
    assert "its fix was not found" in ConsoleReporter().render(again)

    other = GitRepoBuilder(tmp_path / "other")  # the same code and crash in another repository, same store
    other.commit("Initial", ALICE, "2026-01-01T10:00:00+00:00", {"shop/pricing.py": BAD, "shop/app.py": APP})
    assert _report(other.root, "B2").evidence.seen_before == ()
