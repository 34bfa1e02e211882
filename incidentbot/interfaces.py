"""Extension points. Built-ins register through the same entry-point groups as third-party plugins:
``incidentbot.linkers`` and ``incidentbot.reporters`` (``pyproject.toml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    from incidentbot.models import Delivery, Evidence, Incident, Report
    from incidentbot.repo import RepoView
    from incidentbot.settings import Settings


class Linker(Protocol):
    """Adds facts from the repository to the evidence; must tolerate missing upstream data."""

    name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Self: ...

    def link(self, evidence: Evidence, repo: RepoView) -> Evidence: ...


class Renderer(Protocol):
    """Turns a report into text for one output format (console, Markdown, JSON)."""

    name: str

    def render(self, report: Report) -> str: ...


class Publisher(Protocol):
    """Posts an incident to one destination (Slack, GitHub) and keeps that post current.

    ``previous`` is this destination's delivery so far (None: post for the first time). The returned delivery
    is stored; raising ReportError keeps the post for a retry without touching other destinations.
    """

    name: str

    def post(self, report: Report, incident: Incident, previous: Delivery | None) -> Delivery: ...


@runtime_checkable
class IssueTracker(Publisher, Protocol):
    """A destination whose posts have a state people change (a GitHub issue is closed when fixed)."""

    def issue_state(self, delivery: Delivery) -> str:
        """ "open" or "closed", as the destination has it now."""
        ...
