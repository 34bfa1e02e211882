"""Poll Sentry's REST API for each configured project's active issues and queue their latest events.

Per project, a cursor (the newest ``lastSeen`` processed, kept in the store) means nothing is missed or redone
across restarts: issues are listed newest first, page by page (the ``Link`` header's ``next`` with
``results="true"``), until one that was already seen. Each new or regressed issue's latest event (full stack
trace, release) is queued; the queue drops an event id it already has. Retries and ``Retry-After`` are
urllib3's on a requests session; when ``X-Sentry-Rate-Limit-Remaining`` reaches 0 the cycle stops until the
next one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from incidentbot.errors import SourceError
from incidentbot.settings import Settings

if TYPE_CHECKING:
    from incidentbot.service.event_queue import EventQueue

log = logging.getLogger(__name__)

MAX_PAGES = 20  # per project and cycle: 2,000 issues at Sentry's 100 per page
FIRST_LOOKBACK = timedelta(hours=1)  # on the very first poll, issues seen in the last hour


@dataclass(frozen=True, slots=True)
class PollResult:
    project: str
    queued: int
    issues: int
    rate_limited: bool = False


class SentryApi:
    def __init__(self, base_url: str, token: str, org: str, timeout: float = 15) -> None:
        self.base = base_url.rstrip("/")
        self.org = org
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        retry = Retry(
            total=4,
            backoff_factor=0.5,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.exhausted = False  # Sentry said no requests remain in this window

    @classmethod
    def from_settings(cls, settings: Settings) -> SentryApi:
        if settings.sentry_auth_token is None or not settings.sentry_org:
            raise SourceError(
                "the Sentry poller needs SENTRY_AUTH_TOKEN and SENTRY_ORG", "set them, and SENTRY_PROJECTS"
            )
        return cls(settings.sentry_url, settings.sentry_auth_token.get_secret_value(), settings.sentry_org)

    def issues_since(self, project: str, since: datetime) -> Iterator[dict[str, Any]]:
        """Unresolved issues of a project last seen after ``since``, newest first."""
        url: str | None = f"{self.base}/api/0/projects/{self.org}/{project}/issues/"
        params: dict[str, str] | None = {"query": "is:unresolved", "sort": "date", "statsPeriod": "14d"}
        for _ in range(MAX_PAGES):
            if url is None or self.exhausted:
                return
            response = self._get(url, params)
            for issue in response.json():
                if _time(issue.get("lastSeen")) <= since:
                    return
                yield issue
            url = _next_page(response)
            params = None  # the next URL carries them

    def latest_event(self, issue_id: str) -> dict[str, Any]:
        return dict(self._get(f"{self.base}/api/0/issues/{issue_id}/events/latest/", None).json())

    def _get(self, url: str, params: dict[str, str] | None) -> requests.Response:
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SourceError(f"Sentry: cannot reach {self.base}: {exc}", "check SENTRY_URL and the network") from exc
        if response.headers.get("X-Sentry-Rate-Limit-Remaining") == "0":
            self.exhausted = True
        if response.status_code == 401:
            raise SourceError("Sentry: the token was refused (401)", "set SENTRY_AUTH_TOKEN to a valid auth token")
        if response.status_code == 403:
            raise SourceError("Sentry: the token may not read issues (403)", "give it the event:read scope")
        if response.status_code == 404:
            raise SourceError(f"Sentry: {url} not found", "check SENTRY_ORG and SENTRY_PROJECTS")
        if response.status_code >= 400:
            raise SourceError(f"Sentry: {response.status_code} from {url}", "it is retried at the next poll")
        return response


def poll_project(api: SentryApi, queue: EventQueue, project: str, now: datetime | None = None) -> PollResult:
    """One cycle for one project: queue the latest event of each issue seen since the cursor."""
    now = now or datetime.now(tz=UTC)
    name = f"sentry-api:{api.org}/{project}"
    saved = queue.cursor(name)
    since = _time(saved) if saved else now - FIRST_LOOKBACK
    issues = list(api.issues_since(project, since))
    queued = 0
    newest = since
    for issue in reversed(issues):  # oldest first, so a cycle cut short resumes where it stopped
        if api.exhausted:
            break
        event = api.latest_event(str(issue["id"]))
        event.setdefault("permalink", issue.get("permalink"))
        event_id = str(event.get("eventID") or event.get("id") or issue["id"])
        queued += queue.add("sentry-api", event_id, json.dumps(event))
        newest = max(newest, _time(issue.get("lastSeen")))
        queue.set_cursor(name, newest.isoformat())
    return PollResult(project, queued, len(issues), api.exhausted)


def _next_page(response: requests.Response) -> str | None:
    link = response.links.get("next")
    if not link or link.get("results") != "true":
        return None
    return str(link["url"])


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        return datetime.min.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fetch_issue_event(settings: Settings, issue_id: str) -> str:
    """The issue's latest event as JSON text, for `incidentbot triage <issue URL or ID>`."""
    event = SentryApi.from_settings(settings).latest_event(issue_id)
    event.setdefault("permalink", f"{settings.sentry_url.rstrip('/')}/issues/{issue_id}/")
    return json.dumps(event)
