"""Is a CLI argument a Sentry issue (URL or id)? Kept apart so `triage` does not import the API client for it."""

from __future__ import annotations

import re
from pathlib import Path

_ISSUE = re.compile(r"^(?:https?://[^\s/]+(?:/[^\s?#]*)?/issues/)?(?P<id>\d{1,20})/?(?:[?#]\S*)?$")


def sentry_issue_id(source: str) -> str | None:
    """The issue id when ``source`` is a Sentry issue URL or a bare id (and not a file of that name)."""
    match = _ISSUE.match(source.strip())
    if match is None or Path(source).exists():
        return None
    return match["id"]
