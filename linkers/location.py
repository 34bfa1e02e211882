"""Choose the code location: the frame that best explains the failure.

Normally the in-app frame nearest the raise in the exception that was finally raised; frames in test code
give way to application frames, and when the raised exception has no in-app frame its causes are searched.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Self

from incidentbot.models import CodeLocation, Evidence, Frame
from incidentbot.repo import RepoView
from incidentbot.settings import Settings
from linkers.codekind import is_test_path



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
        return replace(evidence, location=location)


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
