"""Choose the code location: the frame that best explains the failure.

The in-app frame nearest the raise in the exception finally raised, application code before test code. On the
training corpus, cross-validated across projects, this names the function the fix changes as often as a fitted
model over the frames does (benchmarks/results.md), so the simpler rule stands; a deliberate raise is the
location itself, not its caller.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Self

from incidentbot.models import CodeLocation, Evidence, Frame
from incidentbot.repo import RepoView
from incidentbot.settings import Settings
from linkers.codekind import is_test_path

EXCERPT_CONTEXT = 5  # lines shown above and below the failing line


class LocationFinder:
    name = "location"

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls()

    def link(self, evidence: Evidence, repo: RepoView) -> Evidence:
        location = best_location(evidence)
        if location is None:
            return evidence
        if evidence.remote_url and evidence.revision:
            url = f"{evidence.remote_url}/blob/{evidence.revision}/{location.path}#L{location.line}"
            location = replace(location, url=url)
        if evidence.revision:
            location = with_excerpt(location, repo, evidence.revision)
        return replace(evidence, location=location)


def with_excerpt(location: CodeLocation, repo: RepoView, revision: str, context: int = EXCERPT_CONTEXT) -> CodeLocation:
    """The location with the source lines around it at the revision (for the issue body and the LLM)."""
    lines = repo.read_lines(location.path, revision)
    if not lines:
        return location
    start = max(1, location.line - context)
    end = min(len(lines), location.line + context)
    return replace(location, excerpt=tuple(lines[start - 1 : end]), excerpt_start=start)


def best_location(evidence: Evidence) -> CodeLocation | None:
    """The innermost in-app frame of the raised exception (then of its causes), application code first."""
    exceptions = evidence.trace.exceptions
    order = [len(exceptions) - 1, *range(len(exceptions) - 2, -1, -1)]
    for prefer_app in (True, False):
        for ei in order:
            for fi in range(len(exceptions[ei].frames) - 1, -1, -1):
                frame = exceptions[ei].frames[fi]
                if _usable(frame) and (not prefer_app or not is_test_path(frame.repo_path or "")):
                    assert frame.repo_path is not None and frame.repo_line is not None
                    return CodeLocation(frame.repo_path, frame.repo_line, frame.function, ei, fi)
    return None


def _usable(frame: Frame) -> bool:
    return bool(frame.in_app) and frame.repo_path is not None and frame.repo_line is not None
