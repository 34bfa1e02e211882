"""Linkers and reporters by name: the built-ins from their table (the same targets as pyproject.toml's entry
points), a plugin through its entry point."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from incidentbot import registry
from incidentbot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    registry._load.cache_clear()
    registry._plugins.cache_clear()
    yield
    registry._load.cache_clear()
    registry._plugins.cache_clear()


def test_the_built_in_table_is_pyproject_entry_points() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert project[registry.LINKER_GROUP] == registry._BUILTIN_LINKERS
    assert project[registry.REPORTER_GROUP] == registry._BUILTIN_REPORTERS


@pytest.mark.usefixtures("fresh_registry")
def test_a_plugin_is_found_through_its_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "myplugin.py").write_text(
        "class MyLinker:\n    name = 'mine'\n\nclass TeamsReporter:\n    name = 'teams'\n"
    )
    info = tmp_path / "myplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[incidentbot.linkers]\nmine = myplugin:MyLinker\n\n[incidentbot.reporters]\nteams = myplugin:TeamsReporter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry.linker_class("mine").__name__ == "MyLinker"
    assert registry.reporter_class("teams").__name__ == "TeamsReporter"
    assert registry.linker_class("blame").__name__ == "Blamer"
    with pytest.raises(ConfigError) as raised:
        registry.linker_class("nosuch")
    assert "mine" in str(raised.value.hint) and "blame" in str(raised.value.hint)


@pytest.mark.usefixtures("fresh_registry")
def test_an_unknown_name_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        registry.reporter_class("teams")
    assert "unknown destination: teams" in str(raised.value)
    assert "console, github, json, markdown, slack" in str(raised.value.hint)
