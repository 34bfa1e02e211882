"""Extension points. Built-ins register through the same entry-point groups as third-party plugins:
``incidentbot.linkers`` and ``incidentbot.reporters`` (``pyproject.toml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from incidentbot.models import Evidence, Report
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
