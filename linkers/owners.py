"""Owners of the failing code: the top suspect's author, CODEOWNERS, and the failing lines' latest author.

The top suspect's author comes first: on the training corpus, cross-validated across projects, that names an
author of the culprit more often than a fitted model over the suspects' authors (benchmarks/results.md), and a
CODEOWNERS entry (a team, or a login with no name or e-mail) names the person who wrote the culprit only by
chance. The declared owners follow: the report's one-line summary names the first of them as "Owner"
(``incidentbot.draft.template.cause_and_owner``).

CODEOWNERS follows GitHub: the first of ``.github/CODEOWNERS``, ``CODEOWNERS``, ``docs/CODEOWNERS`` found at the
revision is used, and the last matching pattern wins (the ``codeowners`` package implements the matching).
Owners are deduplicated by e-mail, login or team, each keeping the first source that named it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Self

from codeowners import CodeOwners

from incidentbot.models import CommitInfo, Evidence, LineBlame, Owner, OwnerSource, Person
from incidentbot.repo import RepoView
from incidentbot.settings import Settings
from linkers.identity import canonical_people, github_login

CODEOWNERS_PLACES = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
SOURCE_ORDER: dict[OwnerSource, int] = {"suspect-author": 0, "codeowners": 1, "line-author": 2}  # best first


class OwnerFinder:
    name = "owners"

    def __init__(self, logins: dict[str, str]) -> None:
        self.logins = logins

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(dict(settings.github_logins))

    def link(self, evidence: Evidence, repo: RepoView) -> Evidence:
        if evidence.location is None or evidence.revision is None:
            return evidence
        warnings: list[str] = []
        found = codeowners_for(repo, evidence.revision, evidence.location.path, warnings)
        found += self._authors(evidence, repo)
        owners = _dedupe(sorted(found, key=lambda owner: SOURCE_ORDER[owner.source]))  # stable: rule order kept
        return replace(evidence, owners=owners, warnings=evidence.warnings + tuple(warnings))

    def _authors(self, evidence: Evidence, repo: RepoView) -> list[Owner]:
        found: list[tuple[Person, OwnerSource, str]] = []
        if evidence.suspects:
            top = evidence.suspects[0]
            found.append((top.author, "suspect-author", f"wrote the top suspect {top.sha[:7]} (score {top.score:.2f})"))
        latest = _latest_line_commit(evidence)
        if latest is not None:
            commit, line = latest
            found.append((commit.author, "line-author", f"last changed {line.path}:{line.line} in {commit.sha[:7]}"))
        people = canonical_people(repo, [person for person, _, _ in found])
        return [
            Owner(
                source=source,
                reason=reason,
                person=replace(person, github_login=person.github_login or github_login(person.email, self.logins)),
            )
            for person, (_, source, reason) in zip(people, found, strict=True)
        ]


def codeowners_for(repo: RepoView, rev: str, path: str, warnings: list[str]) -> list[Owner]:
    """The owners the first CODEOWNERS file at ``rev`` gives ``path`` (last matching rule wins)."""
    for place in CODEOWNERS_PLACES:
        rules = _parsed_codeowners(repo, rev, place)
        if rules is None:
            continue
        if isinstance(rules, Exception):
            warnings.append(f"{place} could not be read: {rules}")
            return []
        try:
            owners = rules.of(path)
        except Exception as exc:  # noqa: BLE001 - a malformed file is the repository's, not ours
            warnings.append(f"{place} could not be read: {exc}")
            return []
        reason = f"{place} rule for {path}"
        return [_owner(kind, handle, reason) for kind, handle in owners]
    return []


def _owner(kind: str, handle: str, reason: str) -> Owner:
    if kind == "TEAM":
        return Owner(source="codeowners", reason=reason, team=handle)
    if kind == "EMAIL":
        return Owner(source="codeowners", reason=reason, person=Person(email=handle))
    return Owner(source="codeowners", reason=reason, person=Person(github_login=handle.lstrip("@")))


def _latest_line_commit(evidence: Evidence) -> tuple[CommitInfo, LineBlame] | None:
    location = evidence.location
    assert location is not None
    commits = {c.sha: c for c in evidence.commits}
    lines = [
        b
        for b in evidence.blame
        if b.exception_index == location.exception_index
        and b.frame_index == location.frame_index
        and b.line == b.frame_line
        and not b.cosmetic
        and b.sha in commits
    ]
    if not lines:
        return None
    newest = max(lines, key=lambda b: commits[b.sha].committed_at)
    return commits[newest.sha], newest


def _dedupe(owners: list[Owner]) -> tuple[Owner, ...]:
    seen: set[str] = set()
    out: list[Owner] = []
    for owner in owners:
        keys = {k for k in _keys(owner) if k}
        if keys & seen:
            continue
        seen |= keys
        out.append(owner)
    return tuple(out)


def _keys(owner: Owner) -> set[str]:
    person = owner.person or Person()
    return {
        f"team:{(owner.team or '').lower()}" if owner.team else "",
        f"email:{(person.email or '').lower()}" if person.email else "",
        f"login:{(person.github_login or '').lower()}" if person.github_login else "",
    }


def _parsed_codeowners(repo: RepoView, rev: str, place: str) -> CodeOwners | Exception | None:
    """The CODEOWNERS file at ``place`` parsed once per revision (its rules compile to patterns, and a daemon
    asks for every event); None when there is no such file, the error when it does not parse."""

    def parse() -> CodeOwners | Exception | None:
        text = repo.read_text(place, rev)
        if text is None:
            return None
        try:
            return CodeOwners(text)
        except Exception as exc:  # noqa: BLE001 - kept, and reported where the file is used
            return exc

    return repo.once(("codeowners", rev, place), parse)
