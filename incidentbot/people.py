"""The explicit identity map: who a commit author or a CODEOWNERS team is on GitHub and on Slack.

Sources, merged: ``github_logins`` and ``slack_users`` in the settings (by e-mail), and the owners file
(``owners_file``), a TOML file such as::

    [people."erin@example.com"]
    github = "erin-coupons"
    slack = "U024BE7LH"

    [teams."@shop/payments"]
    slack = "S0614TZR7"      # a Slack user group, mentioned as <!subteam^S0614TZR7>

Every value is checked against the shape of a GitHub login or a Slack ID, so a typo can never turn into
``<!channel>`` or a mention of somebody else. API lookups (``users.lookupByEmail``, a commit's GitHub author)
live with the reporters that own the clients; this map is consulted first.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from incidentbot.errors import ConfigError
from incidentbot.settings import Settings

GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
SLACK_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")


@dataclass(frozen=True)
class Directory:
    github_by_email: dict[str, str] = field(default_factory=dict)
    slack_by_email: dict[str, str] = field(default_factory=dict)
    slack_group_by_team: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> Directory:
        github = {k.lower(): v for k, v in settings.github_logins.items()}
        slack = {k.lower(): v for k, v in settings.slack_users.items()}
        groups: dict[str, str] = {}
        if settings.owners_file is not None:
            _read_owners_file(settings.owners_file, github, slack, groups)
        _check(github.items(), GITHUB_LOGIN, "GitHub login", "github_logins")
        _check(slack.items(), SLACK_USER_ID, "Slack user ID (U…)", "slack_users")
        _check(groups.items(), SLACK_GROUP_ID, "Slack user group ID (S…)", "owners_file teams")
        return cls(github, slack, groups)

    def github_login(self, email: str | None) -> str | None:
        return self.github_by_email.get(email.lower()) if email else None

    def slack_user(self, email: str | None) -> str | None:
        return self.slack_by_email.get(email.lower()) if email else None

    def slack_group(self, team: str | None) -> str | None:
        return self.slack_group_by_team.get(team.lower()) if team else None


def _read_owners_file(path: Path, github: dict[str, str], slack: dict[str, str], groups: dict[str, str]) -> None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"owners file not found: {path}", "fix owners_file in incidentbot.toml") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read owners file {path}: {exc}", "fix its TOML syntax") from exc
    for email, entry in _tables(data, "people", path).items():
        if "github" in entry:
            github[email.lower()] = str(entry["github"])
        if "slack" in entry:
            slack[email.lower()] = str(entry["slack"])
    for team, entry in _tables(data, "teams", path).items():
        if "slack" in entry:
            groups[team.lower()] = str(entry["slack"])


def _tables(data: dict[str, object], key: str, path: Path) -> dict[str, dict[str, object]]:
    section = data.get(key, {})
    if not isinstance(section, dict) or not all(isinstance(v, dict) for v in section.values()):
        raise ConfigError(f"owners file {path}: [{key}] must hold tables", f'write [{key}."name"] with keys')
    return section


def _check(pairs: object, shape: re.Pattern[str], what: str, where: str) -> None:
    for key, value in pairs:  # type: ignore[attr-defined]
        if not shape.match(value):
            raise ConfigError(f"{where}: {value!r} for {key!r} is not a {what}", f"fix the {what} in {where}")
