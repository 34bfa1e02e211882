"""`incidentbot triage --post`, `--format slack|github`, `--dry-run`, `retry` and `sync`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.github_api import FakeGitHub
from tests.fakes.slack_api import FakeSlack
from tests.linkers.history import ShopHistory, shop_traceback


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incidentbot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "incidentbot", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def trace_file(shop: ShopHistory, tmp_path: Path) -> Path:
    path = tmp_path / "trace.txt"
    path.write_text(shop_traceback(shop.builder.root))
    return path


@pytest.mark.usefixtures("destinations_env")
def test_posting_twice_and_from_two_processes_at_once_gives_one_thread_and_one_issue(
    slack: FakeSlack, github: FakeGitHub, trace_file: Path
) -> None:
    first, second = (_start("triage", str(trace_file), "--post", "slack,github") for _ in range(2))
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in (first, second)]
    assert [code for code, _ in results] == [0, 0], results
    third = _run("triage", str(trace_file), "--post", "slack,github", "--json")
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["fingerprint"]
    assert len(github.issues) == 1 and len(github.calls("POST", "/repos/acme/shop/issues", exact=True)) == 1
    assert len(slack.roots()) == 1
    root = slack.roots()[0]
    # The later occurrences are said in the one thread and on the one issue. When the two processes ran so close
    # that the first post already counted the second occurrence, there is nothing new for a second reply to say.
    assert 1 <= len(slack.replies(root)) <= 2
    assert 1 <= len(github.issues[0].comments) <= 2
    assert "· 3 events ·" in json.dumps(root.updates[-1]["blocks"], ensure_ascii=False)
    assert "github: posted https://github.com/acme/shop/issues/1" in results[0][1] + results[1][1]
    assert "github: updated https://github.com/acme/shop/issues/1" in third.stderr


@pytest.mark.usefixtures("destinations_env")
def test_format_slack_and_github_print_payloads_without_posting(
    slack: FakeSlack, github: FakeGitHub, trace_file: Path
) -> None:
    as_slack = _run("triage", str(trace_file), "--format", "slack")
    assert as_slack.returncode == 0, as_slack.stderr
    message = json.loads(as_slack.stdout)
    assert message["blocks"][0]["type"] == "header"
    as_github = _run("triage", str(trace_file), "--format", "github")
    assert as_github.returncode == 0, as_github.stderr
    title, _, body = as_github.stdout.partition("\n\n")
    assert title == "ZeroDivisionError: division by zero in apply_discount"
    assert body.rstrip().endswith("-->") and "### Suspect commits" in body
    assert slack.requests == [] and github.requests == []


@pytest.mark.usefixtures("destinations_env")
def test_dry_run_shows_what_would_be_posted_and_posts_nothing(
    slack: FakeSlack, github: FakeGitHub, trace_file: Path, tmp_path: Path
) -> None:
    result = _run("triage", str(trace_file), "--post", "github,slack", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "== github: would post incident " in result.stdout and "to acme/shop ==" in result.stdout
    assert "== slack: would post incident " in result.stdout and "to #alerts ==" in result.stdout
    assert slack.requests == [] and github.requests == []
    assert not (tmp_path / "state.sqlite3").exists()  # a dry run writes nothing
    _run("triage", str(trace_file), "--post", "github")
    again = _run("triage", str(trace_file), "--post", "github", "--dry-run")
    assert "== github: would update https://github.com/acme/shop/issues/1 (posted " in again.stdout


def test_missing_credentials_are_one_line_before_any_work(trace_file: Path, shop: ShopHistory) -> None:
    result = _run("triage", str(trace_file), "--repo", str(shop.builder.root), "--post", "slack")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: cannot post to slack: Slack needs SLACK_BOT_TOKEN and SLACK_CHANNEL — "
        "set them in the environment or incidentbot.toml"
    )
    unknown = _run("triage", str(trace_file), "--repo", str(shop.builder.root), "--post", "teams")
    assert unknown.returncode == 2 and "unknown destination: teams" in unknown.stderr


def test_a_failed_post_is_kept_and_retry_posts_it_once_fixed(
    destinations_env: dict[str, str], slack: FakeSlack, github: FakeGitHub, trace_file: Path
) -> None:
    slack.not_member.add("C0ALERTS")
    result = _run("triage", str(trace_file), "--post", "slack,github")
    assert result.returncode == 1
    assert "Error: Slack: not_in_channel — invite the bot to #alerts" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(github.issues) == 1  # the other destination was unaffected
    slack.not_member.clear()
    retried = _run("retry")
    assert retried.returncode == 0, retried.stderr
    assert "slack: posted" in retried.stderr and len(slack.roots()) == 1
    assert "nothing to retry" in _run("retry").stderr


@pytest.mark.usefixtures("destinations_env")
def test_sync_marks_an_incident_resolved_when_its_issue_is_closed(
    slack: FakeSlack, github: FakeGitHub, trace_file: Path
) -> None:
    assert _run("triage", str(trace_file), "--post", "slack,github").returncode == 0
    github.close(1)
    result = _run("sync")
    assert result.returncode == 0, result.stderr
    root = slack.roots()[0]
    assert ":white_check_mark: Resolved" in json.dumps(root.updates[-1]["blocks"], ensure_ascii=False)
    [reply] = slack.replies(root)
    assert reply.payload["text"].startswith(":white_check_mark: *Resolved:*")
    assert "0 update(s)" in _run("sync").stderr  # nothing changed since
