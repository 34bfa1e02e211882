"""Sentry's REST API on 127.0.0.1 for one organisation: project issue lists with Link cursors, latest events,
rate-limit headers, and 429 with Retry-After on demand."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

TOKEN = "sntrys_test_token"
PAGE = 2  # small pages, so tests cross page boundaries


class FakeSentry(FakeServer):
    def __init__(self, org: str = "acme") -> None:
        super().__init__()
        self.org = org
        self.issues: dict[str, list[dict[str, Any]]] = {}  # project → issues, newest last
        self.latest: dict[str, dict[str, Any]] = {}  # issue id → REST event
        self.remaining: int | None = None  # X-Sentry-Rate-Limit-Remaining countdown

    def add_issue(self, project: str, issue_id: str, last_seen: str, event: dict[str, Any]) -> None:
        self.issues.setdefault(project, []).append(
            {
                "id": issue_id,
                "lastSeen": last_seen,
                "firstSeen": last_seen,
                "permalink": f"https://sentry.example/organizations/{self.org}/issues/{issue_id}/",
                "status": "unresolved",
            }
        )
        self.latest[issue_id] = event

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response(401, {"detail": "Invalid token"})
        headers = {}
        if self.remaining is not None:
            self.remaining = max(0, self.remaining - 1)
            headers = {"X-Sentry-Rate-Limit-Remaining": str(self.remaining), "X-Sentry-Rate-Limit-Reset": "0"}
        if match := re.fullmatch(rf"/api/0/projects/{self.org}/([\w-]+)/issues/", request.path):
            return self._list(request, match[1], headers)
        if match := re.fullmatch(rf"/api/0/projects/{self.org}/([\w-]+)/", request.path):
            known = match[1] in self.issues
            return Response(200, {"slug": match[1]}, headers) if known else Response(404, {"detail": "Not found"})
        if match := re.fullmatch(r"/api/0/issues/(\w+)/events/latest/", request.path):
            event = self.latest.get(match[1])
            return Response(200, event, headers) if event else Response(404, {"detail": "Not found"})
        return Response(404, {"detail": "Not found"})

    def _list(self, request: Request, project: str, headers: dict[str, str]) -> Response:
        if project not in self.issues:
            return Response(404, {"detail": "The requested resource does not exist"})
        newest_first = sorted(self.issues[project], key=lambda i: i["lastSeen"], reverse=True)
        start = int(request.query.get("cursor", "0:0:0").split(":")[1])
        page = newest_first[start : start + PAGE]
        more = start + PAGE < len(newest_first)
        base = f"{self.url}{request.path}"
        link = (
            f'<{base}?cursor=0:{max(0, start - PAGE)}:1>; rel="previous"; results="{str(start > 0).lower()}"; '
            f'cursor="0:{max(0, start - PAGE)}:1", '
            f'<{base}?cursor=0:{start + PAGE}:0>; rel="next"; results="{str(more).lower()}"; '
            f'cursor="0:{start + PAGE}:0"'
        )
        return Response(200, page, {**headers, "Link": link})


def rest_event(sdk_event: dict[str, Any], event_id: str, group_id: str) -> dict[str, Any]:
    """The REST API's shape of an event the SDK sent: entries instead of top-level interfaces."""
    return {
        "eventID": event_id,
        "groupID": group_id,
        "dateCreated": "2026-11-24T10:00:00Z",
        "release": {"version": sdk_event.get("release")},
        "entries": [{"type": "exception", "data": sdk_event["exception"]}],
        "tags": [{"key": "environment", "value": "production"}],
    }
