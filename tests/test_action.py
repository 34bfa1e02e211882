"""The GitHub Action's steps, run as the runner would run them, in a shallow clone against local GitHub and
Slack servers: the clone is deepened and one issue is created; a second run (its cache gone) creates none."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from tests.fakes.github_api import GOOD_TOKEN as GITHUB_TOKEN
from tests.fakes.github_api import FakeGitHub
from tests.fakes.slack_api import GOOD_TOKEN as SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.gitbuilder import GitRepoBuilder
from tests.linkers.history import ShopHistory, build_shop, shop_traceback

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def _step_env(inputs: dict[str, str], runner_temp: Path) -> dict[str, str]:
    """The last step's env as GitHub renders it: inputs (their defaults filled in) and runner.temp."""
    given = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    given.update(inputs)
    step = ACTION["runs"]["steps"][-1]

    def render(value: str) -> str:
        value = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: given[m[1]], str(value))
        return value.replace("${{ runner.temp }}", str(runner_temp))

    return {key: render(value) for key, value in step["env"].items()}


@pytest.fixture
def servers() -> Iterator[tuple[FakeGitHub, FakeSlack]]:
    with FakeGitHub() as github, FakeSlack() as slack:
        yield github, slack


@pytest.fixture
def shallow_clone(git_repo: GitRepoBuilder, tmp_path: Path) -> tuple[ShopHistory, Path]:
    history = build_shop(git_repo)
    git_repo.git("checkout", "-q", history.release)
    git_repo.git("branch", "-f", "main", history.release)
    git_repo.git("checkout", "-q", "main")
    clone = tmp_path / "workspace"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{git_repo.root}", str(clone)], check=True)
    return history, clone


def _run_action(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    step = ACTION["runs"]["steps"][-1]
    return subprocess.run(
        ["bash", "-c", step["run"].replace("python", sys.executable, 1)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_action_deepens_the_clone_and_never_posts_twice(
    servers: tuple[FakeGitHub, FakeSlack], shallow_clone: tuple[ShopHistory, Path], tmp_path: Path
) -> None:
    github, slack = servers
    history, clone = shallow_clone
    trace = tmp_path / "trace.txt"
    trace.write_text(shop_traceback(history.builder.root))
    assert (
        subprocess.run(
            ["git", "-C", str(clone), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
        ).stdout.strip()
        == "true"
    )
    inputs = {
        "mode": "triage",
        "trace": str(trace),
        "github-token": GITHUB_TOKEN,
        "slack-bot-token": SLACK_TOKEN,
        "slack-channel": "#alerts",
    }
    outputs = tmp_path / "github_output"
    for run in (1, 2):
        runner_temp = tmp_path / f"runner-temp-{run}"  # a new runner, its cache evicted: no state survives
        env = {
            **os.environ,
            **_step_env(inputs, runner_temp),
            "GITHUB_WORKSPACE": str(clone),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_API_URL": github.api_url,
            "INCIDENTBOT_SLACK_API_URL": slack.api_url,
            "INCIDENTBOT_GITHUB_WRITE_INTERVAL": "0",
            "INCIDENTBOT_FIRST_SEEN": "2024-04-12T09:00:00Z",
        }
        done = _run_action(env)
        assert done.returncode == 0, done.stdout + done.stderr
        if run == 1:
            assert "deepened the shallow checkout" in done.stderr
    depth = subprocess.run(["git", "-C", str(clone), "rev-list", "--count", "HEAD"], capture_output=True, text=True)
    assert int(depth.stdout) > 1
    assert len(github.issues) == 1 and len(github.calls("POST", "/repos/acme/shop/issues", exact=True)) == 1
    assert len(slack.roots()) == 1
    assert github.issues[0].title == "ZeroDivisionError: division by zero in apply_discount"
    written = outputs.read_text()
    assert "incidents=1\n" in written and "issue-urls=https://github.com/acme/shop/issues/1\n" in written


def test_a_clone_that_cannot_be_deepened_says_to_set_fetch_depth(tmp_path: Path) -> None:
    lonely = tmp_path / "lonely"
    subprocess.run(["git", "init", "-q", str(lonely)], check=True)
    (lonely / "shallow").write_text("")
    subprocess.run(
        [
            "git",
            "-C",
            str(lonely),
            "-c",
            "user.name=x",
            "-c",
            "user.email=x@x",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    head = subprocess.run(
        ["git", "-C", str(lonely), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    (lonely / ".git" / "shallow").write_text(head + "\n")  # shallow, and no remote to deepen from
    env = {**os.environ, **_step_env({"mode": "triage", "trace": "x"}, tmp_path), "GITHUB_WORKSPACE": str(lonely)}
    done = _run_action(env)
    assert done.returncode == 2
    assert "::error::the checkout in" in done.stdout and "set `fetch-depth: 0` on actions/checkout" in done.stdout


@pytest.mark.parametrize("workflow", sorted((ROOT / "docs" / "workflows").glob("*.yml")), ids=lambda p: p.name)
def test_the_documented_workflows_use_only_the_actions_inputs(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())
    steps = [
        step for job in data["jobs"].values() for step in job["steps"] if "incidentbot" in str(step.get("uses", ""))
    ]
    assert steps
    for step in steps:
        assert set(step.get("with", {})) <= set(ACTION["inputs"]), step


def test_a_later_run_of_the_action_learns_the_incident_whose_issue_was_closed(
    git_repo: GitRepoBuilder, tmp_path: Path
) -> None:
    from tests.test_learn import build_history
    from tests.test_learn_github import GitHubWithFixes

    incidents = build_history(git_repo, "validators", 2, 2, fix_message="check_{i} reads the amount again")
    workspace = tmp_path / "workspace"
    subprocess.run(["git", "clone", "-q", f"file://{git_repo.root}", str(workspace)], check=True)
    runner_temp = tmp_path / "runner-temp"  # the Actions cache keeps the store between the two runs
    with GitHubWithFixes() as github:
        for number, incident in enumerate(incidents, 1):
            assert incident.fix is not None
            trace = tmp_path / f"trace-{number}.txt"
            trace.write_text(incident.trace)
            inputs = {"mode": "triage", "trace": str(trace), "github-token": GITHUB_TOKEN}
            env = {
                **os.environ,
                **_step_env(inputs, runner_temp),
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_REPOSITORY": "acme/shop",
                "GITHUB_API_URL": github.api_url,
                "INCIDENTBOT_GITHUB_WRITE_INTERVAL": "0",
                "INCIDENTBOT_REV": git_repo.git("rev-parse", f"{incident.fix}^").strip(),
            }
            done = _run_action(env)
            assert done.returncode == 0, done.stdout + done.stderr
            if number == 1:  # between the runs, a commit that says nothing of the issue closes it
                github.close(1)
                github.closing_commits[1] = incidents[0].fix
        assert [issue.number for issue in github.issues] == [1, 2]
    store = runner_temp / "incidentbot-state" / "state.sqlite3"
    with closing(sqlite3.connect(store)) as conn:
        rows = conn.execute("SELECT issue, fix, found_by, case_json FROM learned_cases").fetchall()
        state = conn.execute("SELECT state FROM incidents WHERE issue_number = 1").fetchone()
    assert [(issue, fix, found_by) for issue, fix, found_by, _ in rows] == [(1, incidents[0].fix, "closed_event")]
    assert json.loads(rows[0][3])["culprits"] == [incidents[0].culprit]
    assert state == ("resolved",)
