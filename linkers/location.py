"""Choose the code location: the frame that best explains the failure.

With blame, the frame the fitted location model (linkers/choices.py) ranks first: the frame most likely to hold
the code the fix will change, as measured on the training corpus.
Without blame, the in-app frame nearest the raise in the exception finally raised, test code last.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Self

from incidentbot.models import CodeLocation, Evidence, Frame
from incidentbot.repo import RepoView
from incidentbot.settings import Settings
from linkers.choices import location_candidates
from linkers.codekind import is_test_path
from linkers.model import shipped

EXCERPT_CONTEXT = 5  # lines shown above and below the failing line


class LocationFinder:
    name = "location"

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls()

    def link(self, evidence: Evidence, repo: RepoView) -> Evidence:
        location = weighted_location(evidence) or best_location(evidence)
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


def weighted_location(evidence: Evidence) -> CodeLocation | None:
    """The in-app frame the fitted location model (linkers/weights/location.json) finds most likely to hold the
    code the fix will change; ties go to the frame nearer the raise."""
    if not evidence.blame:
        return None
    candidates = location_candidates(evidence)
    if not candidates:
        return None
    model = shipped("location")
    top = evidence.suspects[0].sha if evidence.suspects else None
    best = max(enumerate(candidates), key=lambda item: (model.probability(item[1].with_top_suspect(top)), -item[0]))[1]
    return CodeLocation(best.path, best.line, best.function, best.exception_index, best.frame_index)


def best_location(evidence: Evidence) -> CodeLocation | None:
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
