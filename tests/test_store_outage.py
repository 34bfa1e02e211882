"""A store that cannot be opened does not stop a triage: the report is printed, and one warning line says what is
missing and what to do (the blame index, "Seen before", a calibration and the analysis cache do without it)."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from incidentbot import store_outage
from incidentbot.errors import ConfigError
from incidentbot.store import open_store, optional_store
from tests.gitbuilder import GitRepoBuilder
from tests.linkers.history import ShopHistory, build_shop, shop_traceback

FIRST_SEEN = "2024-04-12T09:00:00Z"


@pytest.fixture
def shop(git_repo: GitRepoBuilder) -> ShopHistory:
    history = build_shop(git_repo)
    git_repo.git("checkout", "-q", history.release)
    return history


def _refused_postgresql_url() -> str:
    """A PostgreSQL URL on a 127.0.0.1 port that nothing listens on (bound, then closed: connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/incidentbot"


@pytest.mark.parametrize("kind", ["postgresql refused", "sqlite under a file"])
def test_triage_prints_the_report_with_one_warning_when_the_store_cannot_be_opened(
    shop: ShopHistory, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    url = _refused_postgresql_url() if kind == "postgresql refused" else f"sqlite:///{blocker}/store.sqlite3"
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", url)
    trace = tmp_path / "trace.txt"
    trace.write_text(shop_traceback(shop.builder.root, "/srv/app/"))
    done = subprocess.run(
        [sys.executable, "-m", "incidentbot", "triage", str(trace), "--repo", str(shop.builder.root)]
        + ["--first-seen", FIRST_SEEN, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["suspects"][0]["commit"] == shop.culprit  # blamed with git alone
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # one warning for every feature that wanted the store, on one line
    assert "store unavailable" in lines[0] and "set INCIDENTBOT_DATABASE_URL" in lines[0]
    assert "Traceback" not in done.stderr and "sqlalche.me" not in done.stderr


def test_a_refused_connection_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError) as raised:
        open_store(_refused_postgresql_url())
    assert "\n" not in raised.value.one_line()
    assert "127.0.0.1:" in raised.value.message and "postgres@" not in raised.value.message  # no user name


def test_a_failed_store_is_not_asked_again_for_a_minute(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "later-a-folder"
    blocker.write_text("")
    url = f"sqlite:///{blocker}/store.sqlite3"
    with caplog.at_level(logging.WARNING, logger="incidentbot.store"):
        assert optional_store(url) is None
        blocker.unlink()  # the folder could be made now, but the failure is remembered: not opened, not logged
        assert optional_store(url) is None
        assert not blocker.exists()
    assert len([r for r in caplog.records if "store unavailable" in r.getMessage()]) == 1
    store_outage.forget()  # as a minute later
    store = optional_store(url)
    assert store is not None
    store.close()
    assert (blocker / "store.sqlite3").exists()
