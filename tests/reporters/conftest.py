"""Fixtures for the destinations: local Slack and GitHub servers, settings pointing at them, a real report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incidentbot import pipeline, settings
from incidentbot.models import Report
from tests.fakes.github_api import GOOD_TOKEN as GITHUB_TOKEN
from tests.fakes.github_api import FakeGitHub
from tests.fakes.slack_api import GOOD_TOKEN as SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.gitbuilder import GitRepoBuilder
from tests.linkers.history import ShopHistory, build_shop, shop_traceback

FIRST_SEEN = datetime(2024, 4, 12, 9, tzinfo=UTC)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(users={"bob@example.com": "UBOB123"}) as server:
        yield server


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(assignable={"bob-gh", "carol-gh"}) as server:
        yield server


@pytest.fixture
def shop(git_repo: GitRepoBuilder) -> ShopHistory:
    history = build_shop(git_repo)
    git_repo.git("checkout", "-q", history.release)
    git_repo.git("remote", "add", "origin", "https://github.com/acme/shop.git")
    return history


@pytest.fixture
def destinations_env(
    monkeypatch: pytest.MonkeyPatch, slack: FakeSlack, github: FakeGitHub, shop: ShopHistory, tmp_path: Path
) -> dict[str, str]:
    """The environment a user sets to post to both destinations (here: the local servers)."""
    env = {
        **destination_variables(slack, github),
        "INCIDENTBOT_SLACK_REPLY_MINUTES": "0",
        "INCIDENTBOT_GITHUB_COMMENT_MINUTES": "0",
        "INCIDENTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'state.sqlite3'}",
        "INCIDENTBOT_REPO": str(shop.builder.root),
        "INCIDENTBOT_FIRST_SEEN": FIRST_SEEN.isoformat(),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def destination_variables(slack: FakeSlack, github: FakeGitHub) -> dict[str, str]:
    """SLACK_* and GITHUB_* as a user sets them, pointing at the local servers."""
    return {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_CHANNEL": "#alerts",
        "INCIDENTBOT_SLACK_API_URL": slack.api_url,
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_API_URL": github.api_url,
        "INCIDENTBOT_GITHUB_WRITE_INTERVAL": "0",
    }


def triaged(shop: ShopHistory, message: str = "division by zero") -> Report:
    """A real report: the traceback triaged against the shop repository with the current settings."""
    conf = settings.load()
    return pipeline.triage(shop_traceback(shop.builder.root, message=message), conf)


@pytest.fixture(autouse=True)
def _repo_setting(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Tests that triage the shop without the destinations find it through INCIDENTBOT_REPO too."""
    if "shop" in request.fixturenames:
        shop: ShopHistory = request.getfixturevalue("shop")
        monkeypatch.setenv("INCIDENTBOT_REPO", str(shop.builder.root))
