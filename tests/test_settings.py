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


def test_destinations_read_the_conventional_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_CHANNEL", "#alerts")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_1")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example/api/v3")
    monkeypatch.setenv("INCIDENTBOT_SLACK_API_URL", "http://127.0.0.1:9/api/")
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", "postgresql+psycopg://db/incidents")
    conf = load()
    assert conf.slack_bot_token is not None and conf.slack_bot_token.get_secret_value() == "xoxb-1"
    assert (conf.slack_channel, conf.github_repository) == ("#alerts", "acme/shop")
    assert conf.github_token is not None and conf.github_token.get_secret_value() == "ghp_1"
    assert conf.github_api_url == "https://ghe.example/api/v3"
    assert conf.slack_api_url == "http://127.0.0.1:9/api/"
    assert conf.effective_database_url == "postgresql+psycopg://db/incidents"
    assert "xoxb-1" not in repr(conf) and "ghp_1" not in repr(conf)  # secrets never print


def test_incidentbot_prefixed_names_win_and_the_config_file_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "incidentbot.toml"
    config.write_text('slack_channel = "C0FILE"\ngithub_labels = ["incident", "bug"]\n')
    monkeypatch.setenv("SLACK_CHANNEL", "#conventional")
    assert load(config).github_labels == ("incident", "bug")
    assert load(config).slack_channel == "#conventional"  # the environment beats the file
    monkeypatch.setenv("INCIDENTBOT_SLACK_CHANNEL", "#ours")
    assert load(config).slack_channel == "#ours"


def test_default_store_lives_in_the_state_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert load().effective_database_url == f"sqlite:///{tmp_path / 'xdg' / 'incidentbot' / 'incidentbot.sqlite3'}"


def test_every_setting_is_documented() -> None:
    from incidentbot.settings import Settings

    text = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in text and f"`[{name}]`" not in text]
    assert missing == []
