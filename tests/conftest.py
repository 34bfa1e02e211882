from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from incidentbot import store_outage
from tests.gitbuilder import GitRepoBuilder

_OWN_ENV_PREFIXES = ("INCIDENTBOT_", "SENTRY_", "SLACK_", "GITHUB_", "OPENAI_")


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's tokens, config or git identity."""
    for key in list(os.environ):
        if key.startswith(_OWN_ENV_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig-global"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the default SQLite store
    monkeypatch.chdir(tmp_path)
    store_outage.forget()  # a store one test could not open is not "down" for the next
    yield


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepoBuilder:
    """An empty real repository; tests add commits with fixed authors and dates."""
    return GitRepoBuilder(tmp_path / "repo")
