"""Commit authors → GitHub logins (and, in a later issue, Slack users).

Order: the explicit mapping in settings (``github_logins``, by e-mail), then GitHub's noreply addresses
(``ID+login@users.noreply.github.com`` and the legacy ``login@users.noreply.github.com``). Authors are first
canonicalised through the repository's ``.mailmap`` with ``git check-mailmap``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import git

from incidentbot.models import Person
from incidentbot.repo import RepoView

_NOREPLY = re.compile(
    r"^(?:\d+\+)?(?P<login>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})@users\.noreply\.github\.com$",
    re.I,
)
_MAILMAP_LINE = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^>]*)>$")


def github_login(email: str | None, explicit: Mapping[str, str]) -> str | None:
    """The GitHub login for an e-mail, when the mapping or the address itself says it."""
    if not email:
        return None
    lowered = {key.lower(): value for key, value in explicit.items()}
    if email.lower() in lowered:
        return lowered[email.lower()]
    match = _NOREPLY.match(email)
    return match["login"] if match else None


def canonical_people(repo: RepoView, people: Sequence[Person]) -> list[Person]:
    """The same people as the repository's .mailmap names them (one git call for all)."""
    contacts = [f"{p.name or ''} <{p.email or ''}>" for p in people]
    if not contacts:
        return []
    if not repo.has_mailmap():
        return list(people)
    try:
        out = str(repo.git.check_mailmap(*contacts)).splitlines()
    except git.GitCommandError:
        return list(people)
    if len(out) != len(people):
        return list(people)
    canonical = []
    for person, line in zip(people, out, strict=True):
        match = _MAILMAP_LINE.match(line.strip())
        if match is None:
            canonical.append(person)
            continue
        canonical.append(
            Person(
                name=match["name"] or person.name,
                email=match["email"] or person.email,
                github_login=person.github_login,
                slack_id=person.slack_id,
            )
        )
    return canonical
