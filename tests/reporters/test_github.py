"""The GitHub reporter through the real PyGithub client against a local GitHub REST API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidentbot import settings
from incidentbot.service.deliver import Outcome, deliver, publishers_for
from incidentbot.store import open_store
from reporters.github_issue import marked_fingerprint
from tests.fakes.github_api import SECONDARY_LIMIT, FakeGitHub
from tests.fakes.server import Response
from tests.fakes.slack_api import FakeSlack
from tests.linkers.history import ShopHistory
from tests.reporters.conftest import triaged

NOW = datetime(2024, 4, 12, 10, tzinfo=UTC)


def _post(
    shop: ShopHistory, seen_at: datetime = NOW, message: str = "division by zero", to: tuple[str, ...] = ("github",)
) -> list[Outcome]:
    conf = settings.load()
    return deliver(
        triaged(shop, message), publishers_for(conf, list(to)), open_store(conf.effective_database_url), seen_at, 5
    )


@pytest.mark.usefixtures("destinations_env")
def test_first_post_creates_one_labelled_assigned_issue(github: FakeGitHub, shop: ShopHistory) -> None:
    [outcome] = _post(shop)
    assert outcome.action == "posted" and outcome.url == "https://github.com/acme/shop/issues/1"
    # The label did not exist: looked up, then created before the issue.
    assert [r.path for r in github.calls("GET", "/labels/")] == ["/repos/acme/shop/labels/incidentbot"]
    assert [r.body["name"] for r in github.calls("POST", "/labels")] == ["incidentbot"]
    [create] = github.calls("POST", "/issues")
    sent = create.body
    assert sent["title"] == "ZeroDivisionError: division by zero in apply_discount"
    assert sent["labels"] == ["incidentbot"]
    # Bob owns the failing line; GitHub credits nobody with the commit, so only the explicit map could name him:
    assert sent["assignees"] == []
    body = sent["body"]
    fingerprint = marked_fingerprint(body)
    assert fingerprint and body.rstrip().endswith(f"<!-- incidentbot:fingerprint={fingerprint} -->")
    assert f"(https://github.com/acme/shop/blob/{shop.release}/shop/pricing.py#L" in body
    assert f"[`{shop.culprit[:7]}`](https://github.com/acme/shop/commit/{shop.culprit})" in body
    assert "→" in body and "return total / discount" in body  # the excerpt, failing line marked
    assert "| 1 | " in body and "<details open><summary>Why" in body
    assert "@example.com" not in body


def test_assignees_come_from_github_commit_authors_and_must_be_assignable(
    destinations_env: dict[str, str], github: FakeGitHub, shop: ShopHistory
) -> None:
    github.commit_authors[shop.culprit] = "bob-gh"
    _post(shop)
    [create] = github.calls("POST", "/issues")
    assert create.body["assignees"] == ["bob-gh"]
    assert "@bob-gh" in create.body["body"]
    assert [r.path for r in github.calls("GET", "/assignees/")] == ["/repos/acme/shop/assignees/bob-gh"]


@pytest.mark.usefixtures("destinations_env")
def test_a_fresh_store_finds_the_issue_by_its_marker(
    github: FakeGitHub, shop: ShopHistory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _post(shop)
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'another.sqlite3'}")  # a restart, state lost
    [outcome] = _post(shop, NOW + timedelta(hours=2))
    assert outcome.action == "updated" and outcome.url == "https://github.com/acme/shop/issues/1"
    assert len(github.issues) == 1
    [listing, *_] = github.calls("GET", "/repos/acme/shop/issues", exact=True)
    assert listing.query["state"] == "all" and listing.query["labels"] == "incidentbot"
    assert len(github.issues[0].comments) == 1


@pytest.mark.usefixtures("destinations_env")
def test_the_marker_must_be_the_last_line_so_trace_text_cannot_fake_it(github: FakeGitHub, shop: ShopHistory) -> None:
    # An attacker puts another incident's marker in an exception message, hoping that incident's updates land
    # on this issue. The marker counts only as the body's last line; the message sits in the fenced trace above.
    victim = "f" * 32
    _post(shop, message=f"x\n<!-- incidentbot:fingerprint={victim} -->")
    body = github.issues[0].body
    assert f"<!-- incidentbot:fingerprint={victim} -->" in body
    assert marked_fingerprint(body) not in (None, victim)


def test_recurrence_comments_at_most_once_per_interval_counting_events(
    destinations_env: dict[str, str], github: FakeGitHub, shop: ShopHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCIDENTBOT_GITHUB_COMMENT_MINUTES", "60")
    _post(shop, NOW)
    for minute in (10, 20, 30):
        _post(shop, NOW + timedelta(minutes=minute))
    assert github.issues[0].comments == []
    # Comments are timed by the wall clock of the process: make the last one look old.
    conf = settings.load()
    store = open_store(conf.effective_database_url)
    fingerprint = marked_fingerprint(github.issues[0].body)
    assert fingerprint
    delivery = store.delivery(fingerprint, "github")
    assert delivery
    from dataclasses import replace

    with store.lease(fingerprint, "github", 1):
        store.save(replace(delivery, updated_at=delivery.updated_at - timedelta(hours=2)))
    _post(shop, NOW + timedelta(minutes=40))
    [comment] = github.issues[0].comments
    assert comment.startswith("Seen 4 more times since ") and "(5 in all)" in comment


@pytest.mark.usefixtures("destinations_env")
def test_a_closed_issue_is_reopened_as_a_regression_and_slack_says_so(
    github: FakeGitHub, slack: FakeSlack, shop: ShopHistory
) -> None:
    _post(shop, to=("github", "slack"))
    github.close(1)
    outcomes = _post(shop, NOW + timedelta(days=3), to=("slack", "github"))
    assert [o.reporter for o in outcomes] == ["github", "slack"]  # GitHub first, whatever the order asked
    issue = github.issues[0]
    assert issue.state == "open" and "regression" in issue.labels
    assert issue.comments[-1].startswith("**Regression:**")
    assert [r.body for r in github.calls("PATCH", "/issues/1")] == [{"state": "open"}]
    root = slack.roots()[0]
    [reply] = slack.replies(root)
    assert reply.payload["reply_broadcast"] is True and "Regression" in reply.payload["text"]
    assert "<https://github.com/acme/shop/issues/1|GitHub issue #1>" in reply.payload["text"]
    assert ":rotating_light: Regressed" in str(root.updates[-1]["blocks"])
    store = open_store(settings.load().effective_database_url)
    fingerprint = marked_fingerprint(issue.body)
    assert fingerprint and store.incident(fingerprint).state == "regressed"  # type: ignore[union-attr]


@pytest.mark.usefixtures("destinations_env")
def test_an_issue_closed_as_not_planned_stays_closed(github: FakeGitHub, shop: ShopHistory) -> None:
    _post(shop)
    github.close(1, reason="not_planned")
    _post(shop, NOW + timedelta(days=1))
    assert github.issues[0].state == "closed" and github.calls("PATCH") == []


@pytest.mark.usefixtures("destinations_env")
def test_secondary_rate_limit_and_server_errors_are_retried(github: FakeGitHub, shop: ShopHistory) -> None:
    github.fail_next("POST", "/repos/acme/shop/issues", SECONDARY_LIMIT)
    github.fail_next("GET", "/repos/acme/shop/issues", Response(502, {"message": "Server Error"}))
    [outcome] = _post(shop)
    assert outcome.action == "posted"
    assert len(github.calls("POST", "/repos/acme/shop/issues", exact=True)) == 2 and len(github.issues) == 1


@pytest.mark.usefixtures("destinations_env")
def test_a_server_error_on_create_is_not_repeated_and_the_post_is_kept(github: FakeGitHub, shop: ShopHistory) -> None:
    github.fail_next("POST", "/repos/acme/shop/issues", Response(502, {"message": "Server Error"}))
    [outcome] = _post(shop)
    assert outcome.action == "failed" and outcome.error and outcome.error.startswith("GitHub: 502")
    assert len(github.calls("POST", "/repos/acme/shop/issues", exact=True)) == 1


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda g: setattr(g, "archived", True), "GitHub: acme/shop is archived — unarchive it"),
        (lambda g: setattr(g, "can_write", False), "GitHub: Resource not accessible by integration — give the token"),
        (lambda g: setattr(g, "repository", "acme/other"), "GitHub: acme/shop not found or not visible to the token"),
    ],
)
@pytest.mark.usefixtures("destinations_env")
def test_github_errors_are_one_line_and_kept_for_retry(
    github: FakeGitHub, shop: ShopHistory, setup, expected: str
) -> None:  # type: ignore[no-untyped-def]
    setup(github)
    [outcome] = _post(shop)
    assert outcome.action == "failed" and outcome.error and outcome.error.startswith(expected)
    assert "\n" not in outcome.error
    store = open_store(settings.load().effective_database_url)
    assert [p.reporter for p in store.pending()] == ["github"]


def test_a_bad_token_does_not_stop_slack(
    destinations_env: dict[str, str],
    github: FakeGitHub,
    slack: FakeSlack,
    shop: ShopHistory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    outcomes = _post(shop, to=("github", "slack"))
    assert [(o.reporter, o.action) for o in outcomes] == [("github", "failed"), ("slack", "posted")]
    assert outcomes[0].error == "GitHub: bad credentials — set GITHUB_TOKEN to a valid token"
    assert len(slack.roots()) == 1
