"""`incidentbot doctor` and `incidentbot init`, against local Slack, GitHub, Sentry and OpenAI servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_api import FakeGitHub
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.sentry_api import TOKEN as SENTRY_TOKEN
from tests.fakes.sentry_api import FakeSentry
from tests.fakes.slack_api import FakeSlack
from tests.gitbuilder import ALICE, GitRepoBuilder
from tests.reporters.conftest import destination_variables


@pytest.fixture
def world(git_repo: GitRepoBuilder) -> Iterator[tuple[FakeSlack, FakeGitHub, FakeSentry, FakeOpenAI, dict[str, str]]]:
    git_repo.commit("First", ALICE, "2024-01-01T10:00:00", {"app.py": "print(1)\n"})
    git_repo.commit("Second", ALICE, "2024-01-02T10:00:00", {"app.py": "print(2)\n"})
    git_repo.git("remote", "add", "origin", "https://github.com/acme/shop.git")
    with FakeSlack() as slack, FakeGitHub() as github, FakeSentry() as sentry, FakeOpenAI() as llm:
        sentry.issues["shop"] = []
        env = {
            **os.environ,
            **destination_variables(slack, github),
            "INCIDENTBOT_REPO": str(git_repo.root),
            "SENTRY_URL": sentry.url,
            "SENTRY_AUTH_TOKEN": SENTRY_TOKEN,
            "SENTRY_ORG": "acme",
            "SENTRY_PROJECTS": "shop",
            "OPENAI_BASE_URL": llm.base_url,
        }
        yield slack, github, sentry, llm, env


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incidentbot", "doctor"], env=env, capture_output=True, text=True, timeout=120
    )


def _line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if f" {name} " in f"{line} ")


def test_a_good_setup_passes_every_check(
    world: tuple[FakeSlack, FakeGitHub, FakeSentry, FakeOpenAI, dict[str, str]],
) -> None:
    done = _doctor(world[-1])
    assert done.returncode == 0, done.stdout + done.stderr
    for name in (
        "repository history",
        "slack token",
        "slack channel",
        "github token",
        "sentry project shop",
        "llm endpoint",
    ):
        assert _line(done.stdout, name).startswith("ok"), done.stdout
    assert "all set" in done.stderr


@pytest.mark.parametrize(
    ("breakage", "check", "expected"),
    [
        (
            lambda w: w[4].update(SLACK_BOT_TOKEN="xoxb-wrong"),
            "slack token",
            "Slack: invalid_auth — set SLACK_BOT_TOKEN",
        ),
        (
            lambda w: w[0].scopes.discard("chat:write"),
            "slack scope chat:write",
            "missing — add the bot scope chat:write",
        ),
        (lambda w: w[0].not_member.add("C0ALERTS"), "slack channel", "the bot is not in #alerts — invite the bot"),
        (lambda w: w[4].update(SLACK_CHANNEL="#nowhere"), "slack channel", "#nowhere not found"),
        (lambda w: w[4].update(GITHUB_TOKEN="ghp_wrong"), "github token", "bad credentials — set GITHUB_TOKEN"),
        (lambda w: setattr(w[1], "archived", True), "github repository", "archived"),
        (
            lambda w: setattr(w[1], "can_write", False),
            "github permission",
            "the token may only read — give it issues: write",
        ),
        (lambda w: w[4].update(GITHUB_REPOSITORY="acme/other"), "github repository", "acme/other: 404"),
        (
            lambda w: w[4].update(SENTRY_AUTH_TOKEN="wrong"),
            "sentry project shop",
            "Sentry: the token was refused (401)",
        ),
        (lambda w: w[4].update(SENTRY_PROJECTS="nope"), "sentry project nope", "not found — check SENTRY_ORG"),
        (lambda w: w[4].update(OPENAI_BASE_URL="http://127.0.0.1:9/v1"), "llm endpoint", "APIConnectionError"),
    ],
)
def test_each_failure_is_named_with_its_fix(
    world: tuple[FakeSlack, FakeGitHub, FakeSentry, FakeOpenAI, dict[str, str]],
    breakage,
    check: str,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    breakage(world)
    done = _doctor(world[-1])
    assert done.returncode == 1, done.stdout
    line = _line(done.stdout, check)
    assert line.startswith("FAIL") and expected in line, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_warnings_do_not_fail(world: tuple[FakeSlack, FakeGitHub, FakeSentry, FakeOpenAI, dict[str, str]]) -> None:
    world[0].scopes.discard("users:read.email")
    world[3].models = ("llama3.1",)
    done = _doctor(world[-1])
    assert done.returncode == 0
    assert _line(done.stdout, "slack scope users:read.email").startswith("WARN")
    assert _line(done.stdout, "llm model").startswith("WARN")


def test_a_shallow_clone_fails_with_the_fix(
    world: tuple[FakeSlack, FakeGitHub, FakeSentry, FakeOpenAI, dict[str, str]], tmp_path: Path
) -> None:
    env = world[-1]
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{env['INCIDENTBOT_REPO']}", str(clone)], check=True)
    done = _doctor({**env, "INCIDENTBOT_REPO": str(clone)})
    assert done.returncode == 1
    assert "run `git fetch --unshallow` (in GitHub Actions: actions/checkout with fetch-depth: 0)" in _line(
        done.stdout, "repository history"
    )


def test_init_writes_a_configuration_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "incidentbot.toml"
    first = subprocess.run(
        [sys.executable, "-m", "incidentbot", "init", "--path", str(target)], capture_output=True, text=True
    )
    assert first.returncode == 0 and target.is_file()
    from incidentbot.settings import load

    assert load(target).repo == Path(".")
    again = subprocess.run(
        [sys.executable, "-m", "incidentbot", "init", "--path", str(target)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "exists — pass --force" in again.stderr


def test_nothing_to_post_to_fails_unless_local_output_is_asked_for(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    git_repo.commit("First", ALICE, "2024-01-01T10:00:00", {"app.py": "print(1)\n"})
    bare = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "GITHUB_", "SENTRY_", "OPENAI_", "INCIDENTBOT_"))
    }
    env = {**bare, "INCIDENTBOT_REPO": str(git_repo.root), "HOME": str(tmp_path)}
    done = _doctor(env)
    assert done.returncode == 1, done.stdout + done.stderr
    line = _line(done.stdout, "destinations")
    assert line.startswith("FAIL") and "only print" in line and "--local" in line
    assert "all set" not in done.stderr
    local = subprocess.run(
        [sys.executable, "-m", "incidentbot", "doctor", "--local"], env=env, capture_output=True, text=True, timeout=120
    )
    assert local.returncode == 0, local.stdout + local.stderr
    assert _line(local.stdout, "destinations").startswith("ok") and "posted nowhere" in local.stdout
