"""A GitHub REST API on 127.0.0.1 for one repository: issues, comments, labels, assignees, commits.

Speaks the wire format PyGithub reads (JSON objects with ``url``/``html_url``, Link-header pagination) and
GitHub's error shapes: 401 bad credentials, 403 archived or forbidden, 403/429 rate limits with Retry-After.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

GOOD_TOKEN = "ghp_testtoken"
SECONDARY_LIMIT = Response(
    403,
    {
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
    },
    {"Retry-After": "1"},
)


@dataclass
class Issue:
    number: int
    title: str
    body: str
    labels: list[str]
    assignees: list[str]
    state: str = "open"
    state_reason: str | None = None
    comments: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


class FakeGitHub(FakeServer):
    def __init__(self, repository: str = "acme/shop", assignable: set[str] | None = None) -> None:
        super().__init__()
        self.repository = repository
        self.assignable = assignable or set()
        self.commit_authors: dict[str, str | None] = {}  # sha → login GitHub credits
        self.labels: dict[str, str] = {}
        self.issues: list[Issue] = []
        self.archived = False
        self.can_write = True

    @property
    def api_url(self) -> str:
        return self.url

    def handle(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        if auth not in (f"token {GOOD_TOKEN}", f"Bearer {GOOD_TOKEN}"):
            return Response(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        prefix = f"/repos/{self.repository}"
        if not request.path.startswith(prefix):
            return _not_found()
        path = request.path.removeprefix(prefix)
        if request.method != "GET" and self.archived:
            return Response(403, {"message": "Repository was archived so is read-only."})
        if request.method != "GET" and not self.can_write:
            return Response(403, {"message": "Resource not accessible by integration"})
        return self._route(request, path)

    def _route(self, request: Request, path: str) -> Response:
        m = request.method
        if path == "" and m == "GET":
            return Response(body=self._repo())
        if path == "/issues" and m == "GET":
            return self._list_issues(request)
        if path == "/issues" and m == "POST":
            return self._create_issue(request.body)
        if match := re.fullmatch(r"/issues/(\d+)", path):
            return self._issue_endpoint(request, int(match[1]))
        if match := re.fullmatch(r"/issues/(\d+)/comments", path):
            issue = self._issue(int(match[1]))
            if issue is None:
                return _not_found()
            if m == "GET":
                return Response(200, [{"id": i, "body": text} for i, text in enumerate(issue.comments, 1)])
            issue.comments.append(request.body["body"])
            return Response(201, {"id": len(issue.comments), "body": request.body["body"]})
        if match := re.fullmatch(r"/issues/(\d+)/labels", path):
            issue = self._issue(int(match[1]))
            if issue is None:
                return _not_found()
            names = (
                request.body if isinstance(request.body, list) else request.body["labels"]
            )  # both shapes GitHub takes
            issue.labels += [name for name in names if name not in issue.labels]
            return Response(200, [self._label(name) for name in issue.labels])
        if match := re.fullmatch(r"/labels/(.+)", path):
            name = match[1]
            return Response(body=self._label(name)) if name in self.labels else _not_found()
        if path == "/labels" and m == "POST":
            self.labels[request.body["name"]] = request.body.get("color", "ededed")
            return Response(201, self._label(request.body["name"]))
        if match := re.fullmatch(r"/assignees/(.+)", path):
            return Response(204) if match[1] in self.assignable else _not_found()
        if match := re.fullmatch(r"/commits/([0-9a-f]+)", path):
            return self._commit(match[1])
        return _not_found()

    def _repo(self) -> dict[str, Any]:
        return {
            "id": 1,
            "name": self.repository.split("/")[1],
            "full_name": self.repository,
            "url": f"{self.url}/repos/{self.repository}",
            "html_url": f"https://github.com/{self.repository}",
            "archived": self.archived,
            "has_issues": True,
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": self.can_write,
                "triage": self.can_write,
                "pull": True,
            },
            "owner": {"login": self.repository.split("/")[0]},
        }

    def _issue_json(self, issue: Issue) -> dict[str, Any]:
        return {
            "number": issue.number,
            "id": 1000 + issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "labels": [self._label(name) for name in issue.labels],
            "assignees": [{"login": login} for login in issue.assignees],
            "url": f"{self.url}/repos/{self.repository}/issues/{issue.number}",
            "html_url": f"https://github.com/{self.repository}/issues/{issue.number}",
            "created_at": issue.created_at,
            "updated_at": issue.created_at,
            "comments": len(issue.comments),
        }

    def _label(self, name: str) -> dict[str, Any]:
        return {"name": name, "color": self.labels.get(name, "ededed"), "url": f"{self.url}/labels/{name}"}

    def _list_issues(self, request: Request) -> Response:
        state = request.query.get("state", "open")
        wanted = [label for label in request.query.get("labels", "").split(",") if label]
        found = [
            i
            for i in self.issues
            if (state == "all" or i.state == state) and all(label in i.labels for label in wanted)
        ]
        if request.query.get("direction", "desc") == "desc":
            found.reverse()
        per_page = int(request.query.get("per_page", "30"))
        page = int(request.query.get("page", "1"))
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            query = "&".join(f"{k}={v}" for k, v in {**request.query, "page": str(page + 1)}.items())
            headers["Link"] = f'<{self.url}{request.path}?{query}>; rel="next"'
        return Response(200, [self._issue_json(i) for i in chunk], headers)

    def _create_issue(self, body: dict[str, Any]) -> Response:
        for name in body.get("labels", []):
            self.labels.setdefault(name, "ededed")
        bad = [login for login in body.get("assignees", []) if login not in self.assignable]
        if bad:
            return Response(422, {"message": "Validation Failed", "errors": [{"field": "assignees", "value": bad}]})
        issue = Issue(
            len(self.issues) + 1, body["title"], body.get("body", ""), body.get("labels", []), body.get("assignees", [])
        )
        self.issues.append(issue)
        return Response(201, self._issue_json(issue))

    def _issue_endpoint(self, request: Request, number: int) -> Response:
        issue = self._issue(number)
        if issue is None:
            return _not_found()
        if request.method == "PATCH" and "state" in request.body:
            issue.state = request.body["state"]
            issue.state_reason = request.body.get("state_reason") if issue.state == "closed" else "reopened"
        return Response(body=self._issue_json(issue))

    def _issue(self, number: int) -> Issue | None:
        return next((i for i in self.issues if i.number == number), None)

    def _commit(self, sha: str) -> Response:
        for known, login in self.commit_authors.items():
            if known.startswith(sha) or sha.startswith(known):
                author = {"login": login, "id": 7, "type": "User"} if login else None
                return Response(body={"sha": known, "author": author, "commit": {"message": "x"}})
        return Response(422, {"message": f"No commit found for SHA: {sha}"})

    def close(self, number: int, reason: str = "completed") -> None:
        issue = self._issue(number)
        assert issue is not None
        issue.state, issue.state_reason = "closed", reason


def _not_found() -> Response:
    return Response(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
