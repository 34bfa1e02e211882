"""Post an incident as one GitHub issue, found again by its fingerprint marker, updated on recurrence.

PyGithub does the wire work, with its ``GithubRetry`` (5xx, and 403/429 rate limits honouring Retry-After and
GitHub's secondary-limit wait) and its pauses between writes. Before creating an issue the reporter lists the
repository's incidentbot issues, open and closed, for the fingerprint marker, so a restart or a second runner
with a fresh store never opens a duplicate. A closed issue that sees its error again is reopened as a regression,
unless it was closed as "not planned".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.Issue import Issue
from github.Repository import Repository
from urllib3.util.retry import Retry

from incidentbot.errors import ReportError, Unavailable
from incidentbot.models import Delivery, Incident, Report
from incidentbot.people import GITHUB_LOGIN, Directory
from incidentbot.prompting import environment
from incidentbot.settings import Settings
from reporters.github_issue import issue_body, issue_title, marked_fingerprint
from reporters.github_issue import preview as issue_preview

log = logging.getLogger(__name__)

MAX_ASSIGNEES = 3
LABEL_COLOUR = "b60205"


class _WriteSafeRetry(GithubRetry):
    """PyGithub's retry, but a POST is repeated only after a rate-limit answer.

    PyGithub repeats a POST after any 5xx, and a 502 can arrive after GitHub created the issue: repeating it
    would open a second one. A request refused for a rate limit (403/429) was not carried out, so that one is
    repeated after the wait. A POST that met a 5xx fails; the post is kept, and the marker lookup of the retry
    finds the issue if GitHub did create it.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allowed_methods", Retry.DEFAULT_ALLOWED_METHODS | {"GET", "PATCH"})
        super().__init__(**kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() in ("POST", "PATCH") and status_code in (403, 429):
            return bool(self.total)
        return bool(super().is_retry(method, status_code, has_retry_after))


class GitHubReporter:
    name = "github"

    def __init__(
        self,
        client: Github,
        repository: str,
        labels: tuple[str, ...],
        regression_label: str,
        directory: Directory,
        comment_interval: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.client = client
        self.repository = repository
        self.labels = labels
        self.regression_label = regression_label
        self.directory = directory
        self.comment_interval = comment_interval
        self.clock = clock
        self._repo: Repository | None = None
        self._labels_ready: set[str] = set()
        self._logins: dict[str, str | None] = {}  # sha → the GitHub user GitHub itself credits

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if settings.github_token is None or not settings.github_repository:
            raise Unavailable("GitHub needs GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name)")
        client = Github(
            auth=Auth.Token(settings.github_token.get_secret_value()),
            base_url=settings.github_api_url.rstrip("/"),
            timeout=15,
            per_page=100,
            retry=_WriteSafeRetry(total=5, backoff_factor=0.5, secondary_rate_wait=60, max_rate_limit_wait=600),
            seconds_between_requests=None,
            seconds_between_writes=settings.github_write_interval or None,
        )
        return cls(
            client,
            settings.github_repository,
            settings.github_labels,
            settings.github_regression_label,
            Directory.from_settings(settings),
            timedelta(minutes=settings.github_comment_minutes),
        )

    @staticmethod
    def preview(report: Report, settings: Settings) -> str:
        """The issue's title and body as they would be created (logins from the explicit map only)."""
        return issue_preview(report, Directory.from_settings(settings).github_by_email, datetime.now(tz=UTC))

    # posting

    def post(self, report: Report, incident: Incident, previous: Delivery | None) -> Delivery:
        try:
            repo = self._repository()
            if previous is None:
                found = self._find(repo, incident.fingerprint)
                if found is None:
                    return self._create(repo, report, incident)
                previous = _delivery_for(found, incident)
            return self._update(repo, incident, previous)
        except GithubException as exc:
            raise self._error(exc) from exc
        except requests.RequestException as exc:
            raise ReportError(
                f"GitHub: cannot reach {self.client.requester.base_url}: {exc}", "check GITHUB_API_URL and the network"
            ) from exc

    def issue_state(self, delivery: Delivery) -> str:
        """ "open" or "closed", as GitHub has it now (for `incidentbot sync`)."""
        try:
            return str(self._repository().get_issue(int(delivery.external_id)).state)
        except GithubException as exc:
            raise self._error(exc) from exc

    def _create(self, repo: Repository, report: Report, incident: Incident) -> Delivery:
        now = self.clock()
        logins = self._resolve_logins(repo, report)
        self._ensure_labels(repo, self.labels)
        issue = repo.create_issue(
            title=issue_title(report),
            body=issue_body(report, logins, now),
            labels=list(self.labels),
            assignees=self._assignees(repo, report, logins),
        )
        log.info("github: opened issue #%d for incident %s", issue.number, incident.fingerprint[:12])
        return Delivery(self.name, incident.fingerprint, str(issue.number), issue.html_url, now, now, incident.count)

    def _update(self, repo: Repository, incident: Incident, previous: Delivery) -> Delivery:
        now = self.clock()
        issue = repo.get_issue(int(previous.external_id))
        if issue.state == "closed":
            if getattr(issue, "state_reason", None) == "not_planned":
                return replace(previous, state="closed")
            self._ensure_labels(repo, (self.regression_label,))
            issue.edit(state="open")
            issue.add_to_labels(self.regression_label)
            issue.create_comment(_comment("github_regression.md.j2", incident, previous, now))
            log.info("github: reopened issue #%d as a regression", issue.number)
            return replace(previous, state="open", reopened=True, updated_at=now, reported_count=incident.count)
        if incident.count > previous.reported_count and now - previous.updated_at >= self.comment_interval:
            issue.create_comment(_comment("github_recurrence.md.j2", incident, previous, now))
            return replace(previous, state="open", updated_at=now, reported_count=incident.count)
        return replace(previous, state="open")

    def _find(self, repo: Repository, fingerprint: str) -> Issue | None:
        """The issue carrying this fingerprint's marker, open or closed (the oldest, should there be several)."""
        label = self.labels[0] if self.labels else None
        issues = repo.get_issues(state="all", labels=[label] if label else [], sort="created", direction="asc")
        for issue in issues:
            if issue.pull_request is None and marked_fingerprint(issue.body) == fingerprint:
                return issue
        return None

    def _repository(self) -> Repository:
        if self._repo is None:
            repo = self.client.get_repo(self.repository)
            if repo.archived:
                raise ReportError(
                    f"GitHub: {self.repository} is archived",
                    "unarchive it or set GITHUB_REPOSITORY to another repository",
                )
            if not repo.has_issues:
                raise ReportError(f"GitHub: {self.repository} has issues turned off", "turn on Issues in its settings")
            self._repo = repo
        return self._repo

    def _ensure_labels(self, repo: Repository, names: tuple[str, ...]) -> None:
        for name in names:
            if name in self._labels_ready:
                continue
            try:
                repo.get_label(name)
            except GithubException as exc:
                if exc.status != 404:
                    raise
                repo.create_label(name, LABEL_COLOUR, "Opened by incidentbot")
            self._labels_ready.add(name)

    def _resolve_logins(self, repo: Repository, report: Report) -> dict[str, str]:
        """E-mail → login: the explicit map, then the GitHub user GitHub credits with each suspect commit."""
        logins = dict(self.directory.github_by_email)
        for suspect in report.evidence.suspects[:MAX_ASSIGNEES]:
            email = (suspect.author.email or "").lower()
            if not email or email in logins:
                continue
            if suspect.sha not in self._logins:
                self._logins[suspect.sha] = self._commit_login(repo, suspect.sha)
            login = self._logins[suspect.sha]
            if login:
                logins[email] = login
        return logins

    def _commit_login(self, repo: Repository, sha: str) -> str | None:
        try:
            author = repo.get_commit(sha).author
        except GithubException as exc:
            if exc.status in (404, 422):  # the commit is not on GitHub (yet)
                return None
            raise
        login = getattr(author, "login", None) if author is not None else None
        return login if isinstance(login, str) and GITHUB_LOGIN.match(login) else None

    def _assignees(self, repo: Repository, report: Report, logins: dict[str, str]) -> list[str]:
        """Owners' logins GitHub accepts as assignees, best owner first (teams cannot be assigned)."""
        candidates: list[str] = []
        for owner in report.evidence.owners:
            person = owner.person
            if owner.team or person is None:
                continue
            login = person.github_login or logins.get((person.email or "").lower())
            if login and GITHUB_LOGIN.match(login) and login.lower() not in {c.lower() for c in candidates}:
                candidates.append(login)
        chosen: list[str] = []
        for login in candidates:
            if len(chosen) == MAX_ASSIGNEES:
                break
            if repo.has_in_assignees(login):
                chosen.append(login)
        return chosen

    def _error(self, exc: GithubException) -> ReportError:
        message = _message(exc)
        where = self.repository
        if exc.status == 401:
            return ReportError("GitHub: bad credentials", "set GITHUB_TOKEN to a valid token")
        if exc.status == 404:
            return ReportError(
                f"GitHub: {where} not found or not visible to the token",
                "check GITHUB_REPOSITORY (owner/name) and the token's repository access",
            )
        if exc.status == 410:
            return ReportError(f"GitHub: {where} has issues turned off", "turn on Issues in its settings")
        if exc.status == 403 and "archived" in message.lower():
            return ReportError(f"GitHub: {where} is archived", "unarchive it or set GITHUB_REPOSITORY to another one")
        if exc.status == 403 and "rate limit" in message.lower():
            return ReportError("GitHub: rate limited after retries", "the post is kept; run `incidentbot retry` later")
        if exc.status == 403:
            return ReportError(
                f"GitHub: {message}",
                "give the token permission to write issues (workflow `permissions: issues: write`, or the Issues "
                "read/write permission of a fine-grained token)",
            )
        return ReportError(f"GitHub: {exc.status} {message}", "the post is kept; run `incidentbot retry` later")


def _delivery_for(issue: Issue, incident: Incident) -> Delivery:
    """A delivery for an issue found by its marker: what the store lost, rebuilt from GitHub."""
    created = _aware(issue.created_at)
    updated = _aware(issue.updated_at)
    return Delivery(
        "github",
        incident.fingerprint,
        str(issue.number),
        issue.html_url,
        created,
        updated,
        incident.count - 1,
        issue.state,
    )


def _comment(template: str, incident: Incident, previous: Delivery, now: datetime) -> str:
    return environment().get_template(template).render(incident=incident, previous=previous, now=now)


def _message(exc: GithubException) -> str:
    data: Any = exc.data
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return str(data or "")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
