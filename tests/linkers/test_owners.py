"""Owners: the top suspect's author, CODEOWNERS with GitHub's rules, the failing line's latest author."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incidentbot.draft.template import cause_and_owner
from incidentbot.models import (
    CodeLocation,
    CommitInfo,
    Evidence,
    ExceptionInfo,
    Frame,
    LineBlame,
    Person,
    SuspectCommit,
    Trace,
)
from incidentbot.render_safe import md_text
from incidentbot.repo import RepoView
from linkers.identity import canonical_people, github_login
from linkers.owners import OwnerFinder, codeowners_for
from tests.gitbuilder import ALICE, BOB, GitRepoBuilder

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def _evidence(
    sha: str,
    path: str = "src/pay/card.py",
    suspects: tuple[SuspectCommit, ...] = (),
    blame: tuple[LineBlame, ...] = (),
    commits: tuple[CommitInfo, ...] = (),
) -> Evidence:
    frame = Frame(f"/srv/{path}", "charge", lineno=2, repo_path=path, repo_line=2, in_app=True)
    return Evidence(
        trace=Trace(exceptions=(ExceptionInfo("E", "m", frames=(frame,)),)),
        fingerprint="x",
        revision=sha,
        location=CodeLocation(path, 2, "charge", 0, 0),
        suspects=suspects,
        blame=blame,
        commits=commits,
    )


def test_last_matching_rule_wins(git_repo: GitRepoBuilder) -> None:
    sha = git_repo.commit(
        "owners",
        ALICE,
        "2024-01-01T00:00:00",
        {
            ".github/CODEOWNERS": "* @org/everyone\n/src/pay/ @org/payments jane@example.com\n*.md @org/docs\n",
            "src/pay/card.py": "x = 1\ny = 2\n",
        },
    )
    owners = codeowners_for(RepoView(git_repo.root), sha, "src/pay/card.py", [])
    assert [(o.team, o.person.email if o.person else None) for o in owners] == [
        ("@org/payments", None),
        (None, "jane@example.com"),
    ]


def test_first_codeowners_file_found_wins(git_repo: GitRepoBuilder) -> None:
    sha = git_repo.commit(
        "owners",
        ALICE,
        "2024-01-01T00:00:00",
        {
            ".github/CODEOWNERS": "* @from-github-folder\n",
            "CODEOWNERS": "* @from-root\n",
            "docs/CODEOWNERS": "* @from-docs\n",
        },
    )
    repo = RepoView(git_repo.root)  # one view across revisions, as the daemon keeps it: rules are per revision
    owners = codeowners_for(repo, sha, "a.py", [])
    assert [o.person.github_login for o in owners if o.person] == ["from-github-folder"]
    git_repo.git("rm", "-q", ".github/CODEOWNERS")
    moved = git_repo.commit("move", ALICE, "2024-01-02T00:00:00")
    owners = codeowners_for(repo, moved, "a.py", [])
    assert [o.person.github_login for o in owners if o.person] == ["from-root"]
    assert [o.person.github_login for o in codeowners_for(repo, sha, "a.py", []) if o.person] == ["from-github-folder"]


BOB_PERSON = Person(name=BOB.name, email=BOB.email)
BOB_COMMIT = "a" * 40


def _owned_by_bob(git_repo: GitRepoBuilder, codeowners: str, with_line: bool) -> Evidence:
    """Owners of src/pay/card.py under ``codeowners``, Bob having written the top suspect (and, ``with_line``, the
    failing line too); Bob's e-mail maps to the login bob-gh."""
    sha = git_repo.commit(
        "owners", ALICE, "2024-01-01T00:00:00", {"CODEOWNERS": codeowners, "src/pay/card.py": "x = 1\ny = 2\n"}
    )
    suspect = SuspectCommit(BOB_COMMIT, BOB_PERSON, WHEN, WHEN, "break it", 0.8, ("r",))
    line = LineBlame("src/pay/card.py", 2, BOB_COMMIT, "src/pay/card.py", 2, 2, 0, 0, 0, True)
    commit = CommitInfo(BOB_COMMIT, BOB_PERSON, WHEN, WHEN, "break it")
    evidence = _evidence(
        sha, suspects=(suspect,), blame=(line,) if with_line else (), commits=(commit,) if with_line else ()
    )
    return OwnerFinder({"bob@example.com": "bob-gh"}).link(evidence, RepoView(git_repo.root))


def test_owner_finder_orders_and_deduplicates(git_repo: GitRepoBuilder) -> None:
    owners = _owned_by_bob(git_repo, "/src/ @org/payments\n", with_line=True).owners
    # The culprit's likely author first, then the declared owners; the line author is Bob again: merged.
    assert [o.source for o in owners] == ["suspect-author", "codeowners"]
    assert owners[0].person is not None and owners[0].person.github_login == "bob-gh"
    assert "aaaaaaa" in owners[0].reason
    assert owners[1].team == "@org/payments"


def test_summary_names_the_declared_owner_and_a_codeowner_who_wrote_the_suspect_once(
    git_repo: GitRepoBuilder,
) -> None:
    evidence = _owned_by_bob(git_repo, "/src/ @org/payments @bob-gh\n", with_line=False)
    assert [(o.source, o.team or (o.person and o.person.github_login)) for o in evidence.owners] == [
        ("suspect-author", "bob-gh"),  # CODEOWNERS names Bob too: one entry, the one that says why
        ("codeowners", "@org/payments"),
    ]
    summary = cause_and_owner(evidence)  # the cause names the author; "Owner" the declared team (escaped "@")
    assert summary == f" Most likely cause: `aaaaaaa` by {BOB.name} (score 0.80). Owner: {md_text('@org/payments')}."


def test_mailmap_canonicalises_authors(git_repo: GitRepoBuilder) -> None:
    git_repo.commit(
        "mailmap",
        ALICE,
        "2024-01-01T00:00:00",
        {".mailmap": "Robert Builder <bob@example.com> <bob@old-laptop.local>\n"},
    )
    people = canonical_people(
        RepoView(git_repo.root), [Person("bob", "bob@old-laptop.local"), Person("Ann", "ann@x.io")]
    )
    assert [(p.name, p.email) for p in people] == [("Robert Builder", "bob@example.com"), ("Ann", "ann@x.io")]


def test_mailmap_named_by_config_or_read_by_a_bare_repository(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    old_bob = [Person("bob", "bob@old-laptop.local")]
    git_repo.commit("code", ALICE, "2024-01-01T00:00:00", {"a.py": "x = 1\n"})
    assert [p.name for p in canonical_people(RepoView(git_repo.root), old_bob)] == ["bob"]  # no mailmap at all
    outside = tmp_path / "people.mailmap"
    outside.write_text("Robert Builder <bob@example.com> <bob@old-laptop.local>\n")
    git_repo.git("config", "mailmap.file", str(outside))
    assert [p.name for p in canonical_people(RepoView(git_repo.root), old_bob)] == ["Robert Builder"]
    git_repo.git("config", "--unset", "mailmap.file")
    git_repo.commit("mailmap", ALICE, "2024-01-02T00:00:00", {".mailmap": outside.read_text()})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo.root), str(bare)], check=True, capture_output=True)
    assert [p.name for p in canonical_people(RepoView(bare), old_bob)] == ["Robert Builder"]


def test_one_repository_view_sees_mailmap_config_set_and_unset(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    """A daemon keeps its RepoView: the parsed git config is reused only while its files are unchanged."""
    old_bob = [Person("bob", "bob@old-laptop.local")]
    git_repo.commit("code", ALICE, "2024-01-01T00:00:00", {"a.py": "x = 1\n"})
    repo = RepoView(git_repo.root)
    assert [p.name for p in canonical_people(repo, old_bob)] == ["bob"]
    outside = tmp_path / "people.mailmap"
    outside.write_text("Robert Builder <bob@example.com> <bob@old-laptop.local>\n")
    git_repo.git("config", "mailmap.file", str(outside))
    assert [p.name for p in canonical_people(repo, old_bob)] == ["Robert Builder"]
    git_repo.git("config", "--unset", "mailmap.file")
    assert [p.name for p in canonical_people(repo, old_bob)] == ["bob"]


@pytest.mark.parametrize(
    ("email", "login"),
    [
        ("12345+carol-gh@users.noreply.github.com", "carol-gh"),
        ("carol-gh@users.noreply.github.com", "carol-gh"),
        ("Jane@Example.com", "jane-mapped"),
        ("someone@example.com", None),
        (None, None),
        ("-bad-@users.noreply.github.com", None),
    ],
)
def test_github_login(email: str | None, login: str | None) -> None:
    assert github_login(email, {"jane@example.com": "jane-mapped"}) == login


def test_malformed_codeowners_and_missing_location_do_not_crash(git_repo: GitRepoBuilder) -> None:
    sha = git_repo.commit("owners", ALICE, "2024-01-01T00:00:00", {"CODEOWNERS": "[[[ ** \\\n@@@\n"})
    repo = RepoView(git_repo.root)
    for _ in range(2):  # the second ask is answered from what the first one kept: the same warning
        warnings: list[str] = []
        assert codeowners_for(repo, sha, "a.py", warnings) == []
        assert len(warnings) == 1 and warnings[0].startswith("CODEOWNERS could not be read:"), warnings
    no_location = Evidence(trace=Trace(exceptions=(ExceptionInfo("E", "m"),)), fingerprint="x", revision=sha)
    assert OwnerFinder({}).link(no_location, RepoView(git_repo.root)).owners == ()
