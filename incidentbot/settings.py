"""Settings: the only code that reads environment variables or the configuration file.

Precedence: CLI flag > ``INCIDENTBOT_*`` environment variable (nested with ``__``) > ``incidentbot.toml``
(or ``--config PATH``) > defaults. Unknown keys are rejected so a misspelt option is an error, not a no-op.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from incidentbot.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("incidentbot.toml")


class PathMapping(BaseModel):
    """A code mapping: frames whose path starts with ``stack_root`` live under ``source_root`` in the repo."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    stack_root: str
    source_root: str = ""


class Limits(BaseModel):
    """Input limits, enforced before any expensive work (documented in docs/limits.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_input_bytes: int = 8 * 1024 * 1024
    max_frames: int = 500  # per exception; the innermost are kept
    max_exceptions: int = 50  # chained causes and group members; the last raised are kept
    max_line_chars: int = 4096  # longer trace lines are cut before parsing


class Ranking(BaseModel):
    """Knobs of the suspect ranking (linkers/suspects.py documents each)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    blame_window: int = 3  # lines blamed above and below each frame's line
    max_suspects: int = 5
    max_frames_blamed: int = 6  # in-app frames blamed, nearest the raise first
    bulk_files: int = 50  # a commit touching more files than this is a bulk change


class Redaction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    extra_sensitive_keys: tuple[str, ...] = ()  # variable/header names whose values are always replaced
    extra_patterns: tuple[str, ...] = ()  # regular expressions whose matches are replaced
    allow: tuple[str, ...] = ()  # exact strings never replaced (the allow list)
    deny: tuple[str, ...] = ()  # exact strings always replaced, whatever their shape (the deny list)


def _aliases(name: str, conventional: str) -> AliasChoices:
    """A setting readable as its config-file key, INCIDENTBOT_<NAME>, and the conventional variable (GITHUB_TOKEN…)."""
    return AliasChoices(f"INCIDENTBOT_{name.upper()}", conventional, name)  # first found wins


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "incidentbot"


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input: float
    output: float


class Llm(BaseModel):
    """The drafting agent's budget and price table (docs/llm.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_steps: int = 8  # model calls per report; the last one offers no tools, forcing an answer
    max_input_tokens: int = 60_000  # summed over the calls of one report
    max_output_tokens: int = 4_000
    max_seconds: float = 90.0  # wall time for the whole loop
    request_timeout: float = 60.0  # per call (the openai client's timeout)
    max_retries: int = 2  # the openai client's own retries (429, 5xx, connection errors)
    tool_output_chars: int = 6_000
    diff_chars: int = 3_000  # per suspect diff in the first prompt
    prices: dict[str, Price] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": Price(input=0.15, output=0.60),
            "gpt-4o": Price(input=2.50, output=10.00),
            "gpt-4.1-mini": Price(input=0.40, output=1.60),
            "gpt-4.1": Price(input=2.00, output=8.00),
        }
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INCIDENTBOT_",
        env_nested_delimiter="__",
        env_ignore_empty=True,  # an empty variable (an Action input left blank) means unset
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    repo: Path = Path(".")
    rev: str | None = None
    first_seen: datetime | None = None
    release_range: str | None = None  # "A..B": the deploy that shipped the error
    path_mappings: tuple[PathMapping, ...] = ()
    in_app_include: tuple[str, ...] = ()  # module prefixes that are ours even under site-packages
    in_app_exclude: tuple[str, ...] = ()  # repository path prefixes that are not ours (vendored code)
    github_logins: dict[str, str] = Field(default_factory=dict)  # e-mail → GitHub login
    # Write git's commit-graph with changed-path filters when the repository has none: a cache git maintains
    # itself, several times faster blame on long histories (docs/limits.md). Off: the repository is never written.
    commit_graph: bool = True
    # The blame index in the store (linkers/blame_index.py, docs/limits.md): blame kept per revision and carried
    # forward across deploys. Bounded: least recently used entries go past max_bytes, and revisions not among
    # the last blame_index_revisions used (no longer deployed) go entirely.
    blame_index: bool = True
    blame_index_max_bytes: int = 100_000_000
    blame_index_revisions: int = 4
    linkers: tuple[str, ...] = ("pathmap", "blame", "suspects", "location", "owners")
    limits: Limits = Limits()
    ranking: Ranking = Ranking()
    redaction: Redaction = Redaction()

    # Where reports go (docs/destinations.md).
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_aliases("slack_bot_token", "SLACK_BOT_TOKEN"))
    slack_channel: str | None = Field(None, validation_alias=_aliases("slack_channel", "SLACK_CHANNEL"))
    slack_api_url: str = "https://slack.com/api/"
    slack_reply_minutes: float = 10.0  # at most one "seen again" reply per thread in this interval
    slack_users: dict[str, str] = Field(default_factory=dict)  # e-mail → Slack user ID
    github_token: SecretStr | None = Field(None, validation_alias=_aliases("github_token", "GITHUB_TOKEN"))
    github_repository: str | None = Field(None, validation_alias=_aliases("github_repository", "GITHUB_REPOSITORY"))
    github_api_url: str = Field("https://api.github.com", validation_alias=_aliases("github_api_url", "GITHUB_API_URL"))
    github_labels: tuple[str, ...] = ("incidentbot",)
    github_regression_label: str = "regression"
    github_comment_minutes: float = 60.0  # at most one recurrence comment per issue in this interval
    github_write_interval: float = 1.0  # seconds between writes, as GitHub asks of integrations
    owners_file: Path | None = None  # explicit e-mail/team → GitHub login and Slack ID (docs/destinations.md)
    # State: SQLite under state_dir unless a database URL (PostgreSQL for several replicas) is given.
    database_url: str | None = None
    state_dir: Path = Field(default_factory=_default_state_dir)
    claim_wait_seconds: float = 30.0  # how long to wait for another process that is posting the same incident
    stale_after_seconds: float = 300.0  # a post or an event held this long belongs to a dead process: take it over
    # One call to Slack or GitHub (a post with its look-ups), however slowly the answer trickles in.
    destination_deadline_seconds: float = 60.0
    # A failed post is tried again after 1 s, doubling up to this many seconds (jittered), while the daemon runs.
    retry_max_seconds: float = 15.0
    # Handled events are kept this many days (0: for ever), then pruned; incidents and their reports are kept.
    event_retention_days: float = 14.0

    # The drafting agent (docs/llm.md): on when an API key or a base URL is set, unless use_llm says otherwise.
    model: str = Field("gpt-4o-mini", validation_alias=_aliases("model", "INCIDENTBOT_MODEL"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_aliases("openai_api_key", "OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_aliases("openai_base_url", "OPENAI_BASE_URL"))
    use_llm: bool | None = None  # None: when configured; the CLI's --llm/--no-llm set it
    llm: Llm = Llm()

    # The daemon (docs/daemon.md).
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    ingest_keys: Annotated[
        tuple[str, ...], NoDecode
    ] = ()  # DSN public keys accepted by the ingest endpoints; none: endpoints off
    max_event_bytes: int = 1024 * 1024  # an ingested event, after decompression
    sentry_dsn: str | None = None  # incidentbot's own errors go here (INCIDENTBOT_SENTRY_DSN)
    sentry_url: str = Field("https://sentry.io", validation_alias=_aliases("sentry_url", "SENTRY_URL"))
    sentry_auth_token: SecretStr | None = Field(
        None, validation_alias=_aliases("sentry_auth_token", "SENTRY_AUTH_TOKEN")
    )
    sentry_org: str | None = Field(None, validation_alias=_aliases("sentry_org", "SENTRY_ORG"))
    sentry_projects: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_aliases("sentry_projects", "SENTRY_PROJECTS")
    )
    poll_seconds: float = 60.0
    log_format: Literal["text", "json"] = "text"  # json: one JSON object a line, for log pipelines
    update_seconds: float = 10.0  # during a burst, an existing post is updated at most this often per incident
    sentry_client_secret: SecretStr | None = Field(
        None, validation_alias=_aliases("sentry_client_secret", "SENTRY_CLIENT_SECRET")
    )  # verifies webhooks; none: the webhook endpoint is off

    @field_validator("ingest_keys", "sentry_projects", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or bool(self.openai_base_url)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'incidentbot.sqlite3'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CONFIG_FILE_OVERRIDE.get("path") or DEFAULT_CONFIG_FILE
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


# The config path is chosen per load(); pydantic-settings reads sources from a classmethod, so it is passed
# through this module-level slot for the duration of one load() call only.
_CONFIG_FILE_OVERRIDE: dict[str, Path] = {}


def load(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once, raising ConfigError with the offending key and the fix."""
    if config is not None and not config.is_file():
        raise ConfigError(f"config file not found: {config}", "pass --config PATH to an existing incidentbot.toml")
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        if config is not None:
            _CONFIG_FILE_OVERRIDE["path"] = config
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(
            f"invalid setting {where}: {first['msg']}",
            "fix it in incidentbot.toml, the INCIDENTBOT_* environment variable or the command-line flag",
        ) from exc
    except ValueError as exc:  # e.g. a malformed TOML file
        raise ConfigError(f"cannot read configuration: {exc}", "fix the syntax of incidentbot.toml") from exc
    finally:
        _CONFIG_FILE_OVERRIDE.clear()
