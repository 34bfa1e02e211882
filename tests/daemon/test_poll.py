"""`incidentbot poll --once` against a local Sentry REST API: cursors, pagination, rate limits, posting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_api import FakeGitHub
from tests.fakes.sentry_api import TOKEN, FakeSentry, rest_event
from tests.fakes.server import Response
from tests.fakes.slack_api import FakeSlack
from tests.reporters.conftest import destination_variables

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("demo")
    repo, event = root / "shop-repo", root / "event.json"
    subprocess.run([sys.executable, str(EXAMPLES / "build_demo_repo.py"), str(repo)], check=True, capture_output=True)
    subprocess.run(
        [sys.executable, str(EXAMPLES / "capture_event.py"), str(repo), str(event)], check=True, capture_output=True
    )
    return repo, json.loads(event.read_text())


@pytest.fixture
def world(
    demo: tuple[Path, dict], tmp_path: Path
) -> Iterator[tuple[FakeSentry, FakeSlack, FakeGitHub, dict[str, str]]]:  # type: ignore[type-arg]
    repo, _ = demo
    with FakeSentry() as sentry, FakeSlack() as slack, FakeGitHub() as github:
        env = {
            **os.environ,
            **destination_variables(slack, github),
            "SENTRY_URL": sentry.url,
            "SENTRY_AUTH_TOKEN": TOKEN,
            "SENTRY_ORG": "acme",
            "SENTRY_PROJECTS": "shop,api",
            "INCIDENTBOT_REPO": str(repo),
            "INCIDENTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'state.sqlite3'}",
            "INCIDENTBOT_GITHUB_COMMENT_MINUTES": "0",
        }
        yield sentry, slack, github, env


def _poll(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incidentbot", "poll", "--once"], env=env, capture_output=True, text=True, timeout=180
    )


def _recent(minutes_ago: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_poll_once_queues_each_new_issue_once_across_pages_and_restarts(
    world: tuple[FakeSentry, FakeSlack, FakeGitHub, dict[str, str]],
    demo: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    sentry, slack, github, env = world
    _, sdk_event = demo
    for n in range(3):  # three events of the same error, as three issues: one incident
        sentry.add_issue("shop", f"10{n}", _recent(30 - n), rest_event(sdk_event, f"e{n}" * 16, f"10{n}"))
    sentry.add_issue("api", "200", _recent(5), rest_event(sdk_event, "f" * 32, "200"))
    sentry.add_issue("shop", "999", _recent(24 * 60), rest_event(sdk_event, "9" * 32, "999"))  # before the lookback
    first = _poll(env)
    assert first.returncode == 0, first.stderr
    assert "shop: 3 issue(s) active, 3 new event(s)" in first.stderr
    assert "api: 1 issue(s) active, 1 new event(s)" in first.stderr
    assert "4 event(s) triaged and posted" in first.stderr
    status = subprocess.run([sys.executable, "-m", "incidentbot", "status"], env=env, capture_output=True, text=True)
    assert "events: 4 done" in status.stdout and "last poll of acme/shop: " in status.stdout
    assert len(github.issues) == 1 and len(slack.roots()) == 1
    assert github.issues[0].title == "KeyError: 'spring10' in apply_coupon"
    pages = [r.query.get("cursor") for r in sentry.calls("GET", "/api/0/projects/acme/shop/issues/")]
    assert pages == [None, "0:2:0"]  # the second page was followed from the Link header
    again = _poll(env)
    assert "shop: 0 issue(s) active, 0 new event(s)" in again.stderr and "0 event(s) triaged" in again.stderr
    sentry.add_issue("shop", "103", _recent(0), rest_event(sdk_event, "d" * 32, "103"))
    third = _poll(env)
    assert "shop: 1 issue(s) active, 1 new event(s)" in third.stderr
    assert len(github.issues) == 1  # a repeat updates the incident, never a new issue


def test_rate_limits_are_waited_for_and_bad_tokens_are_one_line(
    world: tuple[FakeSentry, FakeSlack, FakeGitHub, dict[str, str]],
    demo: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    sentry, _, github, env = world
    _, sdk_event = demo
    sentry.add_issue("shop", "100", _recent(1), rest_event(sdk_event, "a" * 32, "100"))
    sentry.issues["api"] = []
    sentry.fail_next("GET", "/issues/", Response(429, {"detail": "slow down"}, {"Retry-After": "1"}))
    done = _poll(env)
    assert done.returncode == 0, done.stderr
    assert "shop: 1 issue(s) active, 1 new event(s)" in done.stderr and len(github.issues) == 1
    bad = _poll({**env, "SENTRY_AUTH_TOKEN": "wrong"})
    assert "Sentry: the token was refused (401) — set SENTRY_AUTH_TOKEN" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_triage_takes_a_sentry_issue_url_or_id(
    world: tuple[FakeSentry, FakeSlack, FakeGitHub, dict[str, str]],
    demo: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    sentry, _, _, env = world
    _, sdk_event = demo
    sentry.add_issue("shop", "4242", _recent(1), rest_event(sdk_event, "c" * 32, "4242"))
    for given in ("https://acme.sentry.io/issues/4242/", "4242"):
        done = subprocess.run(
            [sys.executable, "-m", "incidentbot", "triage", given, "--json"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["exception"]["type"] == "KeyError" and report["location"]["function"] == "apply_coupon"
    missing = subprocess.run(
        [sys.executable, "-m", "incidentbot", "triage", "999999"], env=env, capture_output=True, text=True
    )
    assert (
        missing.returncode == 1 and missing.stderr.startswith("Error: Sentry: ") and "Traceback" not in missing.stderr
    )


def test_an_exhausted_rate_limit_stops_the_cycle_and_the_next_one_resumes(
    world: tuple[FakeSentry, FakeSlack, FakeGitHub, dict[str, str]],
    demo: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    sentry, _, github, env = world
    _, sdk_event = demo
    for n in range(3):
        sentry.add_issue("shop", f"30{n}", _recent(10 - n), rest_event(sdk_event, f"{n}a" * 16, f"30{n}"))
    sentry.issues["api"] = []
    sentry.remaining = 3  # the listing and one latest event, then X-Sentry-Rate-Limit-Remaining: 0
    first = _poll({**env, "SENTRY_PROJECTS": "shop"})
    assert "shop: 3 issue(s) active, 1 new event(s) (rate-limited: the rest next time)" in first.stderr, first.stderr
    sentry.remaining = None
    second = _poll({**env, "SENTRY_PROJECTS": "shop"})
    assert "new event(s)" in second.stderr and "rate-limited" not in second.stderr
    queued = [r.path for r in sentry.calls("GET", "/events/latest/")]
    assert sorted(set(queued)) == [f"/api/0/issues/30{n}/events/latest/" for n in range(3)]
