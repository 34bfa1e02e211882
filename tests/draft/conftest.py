"""Fixtures for the drafting agent: a local OpenAI-compatible server and the settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_api import FakeOpenAI
from tests.linkers.history import ShopHistory
from tests.reporters.conftest import FIRST_SEEN, github, shop, slack  # noqa: F401 - shared fixtures

API_KEY = "sk-test-key-never-in-a-prompt"


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch, llm: FakeOpenAI, shop: ShopHistory, tmp_path: Path) -> None:  # noqa: F811
    for key, value in {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": llm.base_url,
        "INCIDENTBOT_MODEL": "gpt-4o-mini",
        "INCIDENTBOT_REPO": str(shop.builder.root),
        "INCIDENTBOT_FIRST_SEEN": FIRST_SEEN.isoformat(),
        "INCIDENTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'state.sqlite3'}",
        "INCIDENTBOT_LLM__MAX_RETRIES": "2",
    }.items():
        monkeypatch.setenv(key, value)
