"""`incidentbot doctor`: find set-up mistakes before they cost an incident.

Each check talks to the real service with the configured credentials, through the same clients incidentbot
posts with, and says what to fix: the repository's history, the Slack token, its scopes and the channel, the
GitHub token and repository, the Sentry token and projects, the LLM endpoint. Nothing is posted or written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from incidentbot.errors import IncidentbotError
from incidentbot.settings import Settings

if TYPE_CHECKING:
    from slack_sdk import WebClient

Status = Literal["pass", "warn", "fail", "skip"]
SLACK_NEEDED = ("chat:write",)
SLACK_WANTED = {
    "users:read.email": "owners cannot become mentions",
    "channels:history": "a lost store cannot find threads again",
}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def run_checks(settings: Settings, local: bool = False) -> list[Check]:
    """Every check; ``local``: printing the reports is all the operator wants, so no destination is fine."""
    checks: list[Check] = [_destinations(settings, local)]
    for group in (_repository, _slack, _github, _sentry, _llm):
        try:
            checks.extend(group(settings))
        except IncidentbotError as exc:
            checks.append(Check(group.__name__.strip("_"), "fail", exc.message, exc.hint or ""))
        except Exception as exc:  # a check that breaks is a failed check, not a crash of the doctor
            checks.append(Check(group.__name__.strip("_"), "fail", f"{type(exc).__name__}: {exc}"))
    return checks


def _destinations(settings: Settings, local: bool) -> Check:
    slack = settings.slack_bot_token is not None and bool(settings.slack_channel)
    github = settings.github_token is not None and bool(settings.github_repository)
    if slack or github:
        names = " and ".join(name for name, on in (("Slack", slack), ("GitHub", github)) if on)
        return Check("destinations", "pass", f"reports go to {names}")
    if local:
        return Check("destinations", "pass", "local output only (--local): reports are printed, posted nowhere")
    return Check(
        "destinations",
        "fail",
        "no destination is set: incidentbot will triage errors and only print the reports",
        "set SLACK_BOT_TOKEN and SLACK_CHANNEL, or GITHUB_TOKEN and GITHUB_REPOSITORY; "
        "or pass --local if printing is all you want",
    )


def _repository(settings: Settings) -> Iterator[Check]:
    from incidentbot.repo import RepoView

    repo = RepoView(settings.repo.resolve())
    head = repo.head()
    if head is None:
        yield Check("repository", "fail", f"{repo.root} has no commits", "point --repo at the checkout of the code")
        return
    if repo.is_shallow():
        yield Check(
            "repository history",
            "fail",
            f"{repo.root} is a shallow clone: blame cannot reach the commits that caused errors",
            "run `git fetch --unshallow` (in GitHub Actions: actions/checkout with fetch-depth: 0)",
        )
    else:
        commits = str(repo.git.rev_list("--count", "HEAD")).strip()
        yield Check("repository history", "pass", f"{repo.root} at {head[:12]}, {commits} commits")
    remote = repo.github_url()
    yield Check(
        "repository remote",
        "pass" if remote else "warn",
        remote or "no GitHub remote: reports will not link to files and commits",
        "" if remote else "add the GitHub remote as origin",
    )


def _slack(settings: Settings) -> Iterator[Check]:
    if settings.slack_bot_token is None:
        yield Check("slack", "skip", "SLACK_BOT_TOKEN is not set")
        return
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=_slash(settings.slack_api_url))
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        yield Check(
            "slack token", "fail", f"Slack: {exc.response.get('error')}", "set SLACK_BOT_TOKEN to a valid bot token"
        )
        return
    yield Check("slack token", "pass", f"bot {auth.get('user')} in {auth.get('team')}")
    scopes = {s.strip() for s in str(auth.headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    for scope in SLACK_NEEDED:
        if scope not in scopes:
            yield Check(f"slack scope {scope}", "fail", "missing", f"add the bot scope {scope} and reinstall the app")
    for scope, consequence in SLACK_WANTED.items():
        if scope not in scopes:
            yield Check(f"slack scope {scope}", "warn", f"missing: {consequence}", f"add the bot scope {scope}")
    yield from _slack_channel(client, settings)


def _slack_channel(client: WebClient, settings: Settings) -> Iterator[Check]:
    from slack_sdk.errors import SlackApiError

    channel = settings.slack_channel
    if not channel:
        yield Check("slack channel", "fail", "SLACK_CHANNEL is not set", "set SLACK_CHANNEL to a channel ID or #name")
        return
    try:
        channel_id = channel
        if not channel.startswith(("C", "G")) or channel.startswith("#"):
            name = channel.lstrip("#")
            found = [c for page in client.conversations_list(limit=1000) for c in page.get("channels") or []]
            channel_id = next((str(c["id"]) for c in found if c.get("name") == name), "")
            if not channel_id:
                yield Check(
                    "slack channel", "fail", f"{channel} not found", "set SLACK_CHANNEL to a channel the bot can see"
                )
                return
        info = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        code = exc.response.get("error")
        yield Check(
            "slack channel", "fail", f"Slack: {code}", "add channels:read, or set SLACK_CHANNEL to the channel ID"
        )
        return
    if not info.get("is_member"):
        yield Check("slack channel", "fail", f"the bot is not in {channel}", f"invite the bot to {channel}")
    else:
        yield Check("slack channel", "pass", f"{channel} ({channel_id}), the bot is a member")


def _github(settings: Settings) -> Iterator[Check]:
    if settings.github_token is None or not settings.github_repository:
        yield Check("github", "skip", "GITHUB_TOKEN or GITHUB_REPOSITORY is not set")
        return
    from github import Auth, Github, GithubException

    client = Github(
        auth=Auth.Token(settings.github_token.get_secret_value()),
        base_url=settings.github_api_url.rstrip("/"),
        retry=None,
    )
    try:
        repo = client.get_repo(settings.github_repository)
        archived, has_issues, permissions = repo.archived, repo.has_issues, repo.permissions
    except GithubException as exc:
        if exc.status == 401:
            yield Check("github token", "fail", "bad credentials", "set GITHUB_TOKEN to a valid token")
        else:
            yield Check(
                "github repository",
                "fail",
                f"{settings.github_repository}: {exc.status}",
                "check GITHUB_REPOSITORY (owner/name) and the token's access to it",
            )
        return
    yield Check("github token", "pass", f"can read {settings.github_repository}")
    if archived:
        yield Check("github repository", "fail", "archived: issues cannot be opened", "unarchive it or choose another")
    if not has_issues:
        yield Check("github issues", "fail", "issues are turned off", "turn on Issues in the repository's settings")
    if permissions is not None and not (permissions.push or permissions.triage or permissions.maintain):
        yield Check("github permission", "fail", "the token may only read", "give it issues: write")


def _sentry(settings: Settings) -> Iterator[Check]:
    if settings.sentry_auth_token is None or not settings.sentry_projects:
        yield Check("sentry", "skip", "SENTRY_AUTH_TOKEN or SENTRY_PROJECTS is not set")
        return
    from incidentbot.service.sources.sentry_api import SentryApi

    api = SentryApi.from_settings(settings)
    for project in settings.sentry_projects:
        try:
            api._get(f"{api.base}/api/0/projects/{api.org}/{project}/", None)
        except IncidentbotError as exc:
            yield Check(f"sentry project {project}", "fail", exc.message, exc.hint or "")
            continue
        yield Check(f"sentry project {project}", "pass", f"{api.base}: {api.org}/{project} readable")


def _llm(settings: Settings) -> Iterator[Check]:
    if not settings.llm_configured or settings.use_llm is False:
        yield Check("llm", "skip", "no LLM configured: reports carry no analysis")
        return
    import openai

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    client = openai.OpenAI(api_key=key, base_url=settings.openai_base_url or None, timeout=15, max_retries=1)
    try:
        models = [m.id for m in client.models.list()]
    except openai.APIError as exc:
        yield Check("llm endpoint", "fail", f"{type(exc).__name__}: {exc}", "check OPENAI_BASE_URL and OPENAI_API_KEY")
        return
    if settings.model in models:
        yield Check("llm endpoint", "pass", f"{settings.model} is served")
    else:
        yield Check(
            "llm model",
            "warn",
            f"{settings.model} is not among the {len(models)} models listed",
            "set INCIDENTBOT_MODEL",
        )


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == "fail" for c in checks) else 0


def table(checks: list[Check], mark: Callable[[Status], str] | None = None) -> str:
    """A plain-text table: status, check, what was found, what to do."""
    mark = mark or (lambda s: {"pass": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}[s])
    width = max((len(c.name) for c in checks), default=10)
    lines = []
    for check in checks:
        line = f"{mark(check.status):<5} {check.name:<{width}}  {check.detail}"
        if check.fix and check.status in ("fail", "warn"):
            line += f" — {check.fix}"
        lines.append(line)
    return "\n".join(lines)


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
