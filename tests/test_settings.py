"""Settings: file < environment < flags, unknown keys rejected with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from incidentbot.errors import ConfigError
from incidentbot.settings import load

README_EXAMPLE = """
repo = "."
in_app_exclude = ["third_party/"]

[[path_mappings]]
stack_root = "/srv/app/"
source_root = "src/"

[ranking]
blame_window = 3
max_suspects = 5

[github_logins]
"jane@example.com" = "jane-gh"
"""


def test_the_readme_example_loads(tmp_path: Path) -> None:
    config = tmp_path / "incidentbot.toml"
    config.write_text(README_EXAMPLE)
    settings = load(config)
    assert settings.path_mappings[0].stack_root == "/srv/app/"
    assert settings.ranking.max_suspects == 5
    assert settings.github_logins == {"jane@example.com": "jane-gh"}


def test_default_file_in_the_working_folder(tmp_path: Path) -> None:
    (tmp_path / "incidentbot.toml").write_text("[ranking]\nmax_suspects = 2\n")
    assert load().ranking.max_suspects == 2


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "incidentbot.toml").write_text('rev = "from-file"\n[ranking]\nmax_suspects = 2\n')
    monkeypatch.setenv("INCIDENTBOT_REV", "from-env")
    monkeypatch.setenv("INCIDENTBOT_RANKING__MAX_SUSPECTS", "7")
    assert load().rev == "from-env"
    assert load().ranking.max_suspects == 7
    assert load(rev="from-flag").rev == "from-flag"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("colour = true\n", "colour"),
        ("[ranking]\nblame_windw = 3\n", "ranking.blame_windw"),
        ("[ranking]\nmax_suspects = 'many'\n", "ranking.max_suspects"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")) as info:
        load(config)
    assert info.value.hint and "incidentbot.toml" in info.value.hint


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[ranking\n")
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load(config)
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "missing.toml")
