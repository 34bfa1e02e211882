"""Resolved incidents learnt through GitHub: the daemon's sync and `incidentbot learn` against the local GitHub.

The local server is the suite's FakeGitHub, taught two more endpoints here: an issue's events (GitHub records
the commit that closed it) and the repository's pull requests (a merged one's body may say "Fixes #N").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from incidentbot import pipeline, settings
from incidentbot.commands.cli import main
from incidentbot.service.deliver import deliver, publishers_for, sync_states
from incidentbot.store import open_store
from tests.fakes.github_api import GOOD_TOKEN, FakeGitHub
from tests.fakes.server import Request, Response
from tests.gitbuilder import GitRepoBuilder
from tests.test_learn import Incident, build_history


class GitHubWithFixes(FakeGitHub):
    """FakeGitHub plus ``/issues/{n}/events`` and ``/pulls``."""

    def __init__(self) -> None:
        super().__init__()
        self.closing_commits: dict[int, str | None] = {}  # issue → the commit its closed event names
        self.pulls: list[dict[str, Any]] = []

    def _route(self, request: Request, path: str) -> Response:
        if request.method == "GET" and path.startswith("/issues/") and path.endswith("/events"):
            number = int(path.split("/")[2])
            issue = self._issue(number)
            if issue is None:
                return Response(404, {"message": "Not Found"})
            closed = [] if issue.state != "closed" else [self._event(number, self.closing_commits.get(number))]
            return Response(200, closed)
        if request.method == "GET" and path == "/pulls":
            return Response(200, self.pulls if request.query.get("state") in ("closed", "all") else [])
        return super()._route(request, path)

    def _event(self, number: int, commit: str | None) -> dict[str, Any]:
        return {
            "id": 5000 + number,
            "url": f"{self.url}/repos/{self.repository}/issues/events/{5000 + number}",
            "event": "closed",
            "commit_id": commit,
            "commit_url": None,
            "created_at": "2026-03-01T00:00:00Z",
            "actor": {"login": "alice-gh", "id": 1, "type": "User"},
        }

    def merged_pull(self, number: int, body: str, merge_commit: str) -> None:
        self.pulls.append(
            {
                "id": 9000 + number,
                "number": number,
                "state": "closed",
                "title": f"Pull request {number}",
                "body": body,
                "merged_at": "2026-03-01T00:00:00Z",
                "merge_commit_sha": merge_commit,
                "url": f"{self.url}/repos/{self.repository}/pulls/{number}",
                "html_url": f"https://github.com/{self.repository}/pull/{number}",
            }
        )


@pytest.fixture
def github() -> Iterator[GitHubWithFixes]:
    with GitHubWithFixes() as server:
        yield server


@pytest.fixture
def shop(git_repo: GitRepoBuilder) -> list[Incident]:
    """Three incidents whose fixes name no issue: only GitHub knows which commit fixed which."""
    incidents = build_history(git_repo, "validators", 3, 3, fix_message="check_{i} reads the amount again")
    git_repo.git("remote", "add", "origin", "https://github.com/acme/shop.git")
    return incidents


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, github: GitHubWithFixes, git_repo: GitRepoBuilder, tmp_path: Path) -> str:
    database = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    for key, value in {
        "GITHUB_TOKEN": GOOD_TOKEN,
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_API_URL": github.api_url,
        "INCIDENTBOT_GITHUB_WRITE_INTERVAL": "0",
        "INCIDENTBOT_DATABASE_URL": database,
        "INCIDENTBOT_REPO": str(git_repo.root),
    }.items():
        monkeypatch.setenv(key, value)
    return database


def _post(incident: Incident, git_repo: GitRepoBuilder) -> None:
    """Triage the crash at the revision it happened at (the fix's parent) and open its GitHub issue."""
    assert incident.fix is not None
    conf = settings.load(None, rev=git_repo.git("rev-parse", f"{incident.fix}^"))
    report = pipeline.triage(incident.trace, conf)
    store = open_store(conf.effective_database_url)
    [outcome] = deliver(report, publishers_for(conf, ["github"]), store, datetime.now(tz=UTC), 5.0)
    assert outcome.action == "posted", outcome


def _cases(database: str) -> dict[int, dict[str, Any]]:
    return {case["issue"]: case for case in map(json.loads, open_store(database).cases("acme/shop"))}


def test_the_sync_learns_closed_incidents_and_a_reopened_issue_withdraws_its_case(
    env: str, github: GitHubWithFixes, shop: list[Incident], git_repo: GitRepoBuilder
) -> None:
    for incident in shop:
        _post(incident, git_repo)
    assert [issue.number for issue in github.issues] == [1, 2, 3]
    github.close(1)
    github.closing_commits[1] = shop[0].fix  # closed by a commit that said nothing of the issue
    github.close(2)
    github.merged_pull(7, "Reads the amount again.\n\nFixes #2", str(shop[1].fix))
    github.close(3)  # closed by hand: no commit, no pull request

    conf = settings.load()
    store = open_store(env)
    [publisher] = publishers_for(conf, ["github"])
    sync_states(store, publisher, [], 5.0, conf)

    cases = _cases(env)
    assert sorted(cases) == [1, 2]
    assert (cases[1]["fix"], cases[1]["found_by"], cases[1]["culprits"]) == (
        shop[0].fix,
        "closed_event",
        [shop[0].culprit],
    )
    assert (cases[2]["fix"], cases[2]["found_by"], cases[2]["culprits"]) == (
        shop[1].fix,
        "pull_request",
        [shop[1].culprit],
    )
    assert cases[1]["candidates"] and all(len(c["sha"]) == 40 for c in cases[1]["candidates"])
    assert "compute_0" in cases[1]["trace"] and "@" not in json.dumps(cases[1])  # no e-mail address kept
    assert {i.state for i in map(store.incident, [c["fingerprint"] for c in cases.values()]) if i} == {"resolved"}

    github._issue(1).state = "open"  # type: ignore[union-attr]  # somebody reopened it: the fix did not fix it
    sync_states(store, publisher, [], 5.0, conf)
    assert sorted(_cases(env)) == [2]

    store.delete_incident(cases[2]["fingerprint"])  # deleting an incident deletes what was learnt from it
    assert _cases(env) == {}


def test_learn_from_github_finds_fixes_by_closed_event_and_pull_request(
    env: str, github: GitHubWithFixes, shop: list[Incident], git_repo: GitRepoBuilder
) -> None:
    for incident in shop:
        _post(incident, git_repo)
    for number in (1, 2, 3):
        github.close(number)
    github.closing_commits[1] = shop[0].fix
    github.merged_pull(7, "Closes #2", str(shop[1].fix))
    result = CliRunner().invoke(main, ["learn", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["cases"] == 2 and out["calibrated"] is None, out["skipped"]
    assert [(i["issue"], i["fix"], i["found_by"]) for i in out["items"]] == [
        (2, shop[1].fix, "pull_request"),
        (1, shop[0].fix, "closed_event"),
    ] or sorted((i["issue"], i["fix"], i["found_by"]) for i in out["items"]) == [
        (1, shop[0].fix, "closed_event"),
        (2, shop[1].fix, "pull_request"),
    ]
    assert {s["issue"]: s["reason"] for s in out["skipped"]}[3].startswith("no fix found")
    assert sorted(_cases(env)) == [1, 2]


def test_a_trace_pasted_in_a_comment_is_found_on_github_and_in_an_export(
    env: str, github: GitHubWithFixes, shop: list[Incident], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    github._create_issue({"title": "Checkout crashes", "body": "It crashes when I pay, traceback below."})
    github._create_issue({"title": "Also broken", "body": "Same here, no details."})
    github._issue(1).comments += ["Here it is:", f"```\n{shop[0].trace}```"]  # type: ignore[union-attr]
    for number in (1, 2):
        github.close(number)
        github.closing_commits[number] = shop[number - 1].fix
    result = CliRunner().invoke(main, ["learn", "--json", "--dry-run"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [(i["issue"], i["fix"], i["culprits"]) for i in out["items"]] == [(1, shop[0].fix, [shop[0].culprit])]
    assert {s["issue"]: s["reason"] for s in out["skipped"]} == {2: "no stack trace in its body or comments"}

    exported = tmp_path / "issues.json"  # `gh issue list --state closed --json number,title,body,comments,...`
    exported.write_text(
        json.dumps(
            [
                {
                    "number": 9,
                    "title": "Crash",
                    "body": "see the comment",
                    "state": "closed",
                    "comments": [{"author": {"login": "someone"}, "body": f"```\n{shop[1].trace}```"}],
                }
            ]
        )
    )
    monkeypatch.delenv("GITHUB_TOKEN")  # offline: fixes only from commit messages, and none names #9
    offline = CliRunner().invoke(main, ["learn", "--issues-from", str(exported), "--json", "--dry-run"])
    assert offline.exit_code == 0, offline.output  # exit 2 ("no stack trace") had the comment not been read
    assert json.loads(offline.stdout)["skipped"] == [
        {"issue": 9, "reason": "no fix found (closed event, pull request or commit message)"}
    ]
