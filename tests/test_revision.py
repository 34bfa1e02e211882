"""The triage revision: --rev, then the release, then the last commit before first-seen."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incidentbot.errors import LinkError
from incidentbot.models import ExceptionInfo, Trace
from incidentbot.repo import RepoView
from incidentbot.revision import choose_revision
from tests.gitbuilder import ALICE, BOB, GitRepoBuilder

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _trace(release: str | None = None, first_seen: datetime | None = None) -> Trace:
    return Trace(exceptions=(ExceptionInfo("ValueError", "x"),), release=release, first_seen=first_seen)


@pytest.fixture
def three(git_repo: GitRepoBuilder) -> tuple[RepoView, list[str]]:
    shas = [
        git_repo.commit("one", ALICE, "2024-01-01T00:00:00", {"a.py": "1\n"}),
        git_repo.commit("two", BOB, "2024-02-01T00:00:00", {"a.py": "2\n"}),
        git_repo.commit("three", ALICE, "2024-03-01T00:00:00", {"a.py": "3\n"}),
    ]
    git_repo.git("tag", "v1.0", shas[0])
    git_repo.git("tag", "v1.1", shas[1])
    return RepoView(git_repo.root), shas


def test_explicit_rev_wins(three: tuple[RepoView, list[str]]) -> None:
    repo, shas = three
    chosen = choose_revision(repo, _trace(release=shas[2]), "v1.0", NOW)
    assert chosen.sha == shas[0]
    assert "--rev v1.0" in chosen.reason


@pytest.mark.parametrize("release", ["v1.1", "1.1", "shop@1.1", "shop@v1.1"])
def test_release_names_a_tag(three: tuple[RepoView, list[str]], release: str) -> None:
    repo, shas = three
    chosen = choose_revision(repo, _trace(release=release), None, NOW)
    assert chosen.sha == shas[1]
    # The previous tag gives the deploy range when none is given.
    assert chosen.release_range == (shas[0], shas[1])


def test_release_as_sha(three: tuple[RepoView, list[str]]) -> None:
    repo, shas = three
    assert choose_revision(repo, _trace(release=shas[1][:12]), None, NOW).sha == shas[1]


def test_first_seen_picks_the_last_commit_before_it(three: tuple[RepoView, list[str]]) -> None:
    repo, shas = three
    seen = datetime(2024, 2, 15, tzinfo=UTC)
    chosen = choose_revision(repo, _trace(release="not-a-ref", first_seen=seen), None, NOW)
    assert chosen.sha == shas[1]
    assert "first-seen" in chosen.reason


def test_no_first_seen_means_now(three: tuple[RepoView, list[str]]) -> None:
    repo, shas = three
    assert choose_revision(repo, _trace(), None, NOW).sha == shas[2]


def test_first_seen_before_all_history_falls_back_to_head_with_a_warning(
    three: tuple[RepoView, list[str]],
) -> None:
    repo, shas = three
    chosen = choose_revision(repo, _trace(first_seen=datetime(2000, 1, 1, tzinfo=UTC)), None, NOW)
    assert chosen.sha == shas[2]
    assert chosen.warnings


def test_explicit_release_range(three: tuple[RepoView, list[str]]) -> None:
    repo, shas = three
    chosen = choose_revision(repo, _trace(), None, NOW, "v1.0..v1.1")
    assert chosen.release_range == (shas[0], shas[1])


@pytest.mark.parametrize("bad", ["nope", "--output=/tmp/x", ""])
def test_unknown_rev_is_a_clear_error(three: tuple[RepoView, list[str]], bad: str) -> None:
    repo, _ = three
    if not bad:
        assert choose_revision(repo, _trace(), bad or None, NOW).sha
        return
    with pytest.raises(LinkError, match="revision not found") as info:
        choose_revision(repo, _trace(), bad, NOW)
    assert info.value.hint and "--rev" in info.value.hint


def test_bad_release_range(three: tuple[RepoView, list[str]]) -> None:
    repo, _ = three
    with pytest.raises(LinkError, match="release range not found"):
        choose_revision(repo, _trace(), None, NOW, "v1.0...nope")


def test_shallow_clone_is_refused_with_the_fix(three: tuple[RepoView, list[str]], tmp_path: Path) -> None:
    repo, _ = three
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(shallow)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(LinkError, match="shallow clone") as info:
        choose_revision(RepoView(shallow), _trace(), None, NOW)
    assert "git fetch --unshallow" in (info.value.hint or "")


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match="not a git repository") as info:
        RepoView(tmp_path / "nowhere")
    assert "--repo" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("rev", "release", "release_range"),
    [(None, None, None), ("HEAD", None, None), ("v1.0", None, None), (None, "v1.0", None), (None, None, "a..b")],
)
def test_a_repository_without_commits_says_so(
    tmp_path: Path, rev: str | None, release: str | None, release_range: str | None
) -> None:
    empty = tmp_path / "empty"
    subprocess.run(["git", "init", "-q", str(empty)], check=True, capture_output=True)
    with pytest.raises(LinkError, match="has no commits") as info:
        choose_revision(RepoView(empty), _trace(release=release), rev, NOW, release_range)
    assert "--repo" in (info.value.hint or "")


def test_last_commit_before_agrees_with_git_rev_list(git_repo: GitRepoBuilder) -> None:
    """The tip is read without a ``rev-list`` process when it is old enough; every other time asks git. Both
    must give git's own answer, around every commit's time, across a merge whose side branch is newer."""
    git_repo.commit("base", ALICE, "2024-01-01T00:00:00", {"a.py": "1\n"})
    git_repo.git("checkout", "-q", "-b", "side")
    git_repo.commit("side", BOB, "2024-03-01T00:00:00", {"b.py": "1\n"})
    git_repo.git("checkout", "-q", "-")
    git_repo.commit("main", ALICE, "2024-02-01T00:00:00", {"a.py": "2\n"})
    git_repo.merge("side", "merge side", ALICE, "2024-02-15T00:00:00")
    repo = RepoView(git_repo.root)
    times = [int(t) for t in git_repo.git("log", "--all", "--format=%ct").split()]
    for stamp in sorted({t + d for t in times for d in (-1, 0, 1)}):
        expected = git_repo.git("rev-list", "-1", "--first-parent", f"--before={stamp}", "HEAD", "--").strip()
        assert repo.commit_before(datetime.fromtimestamp(stamp, tz=UTC)) == (expected or None), stamp
    # The tip moves: a new commit is the answer at once, though the old tip's time was kept.
    newer = git_repo.commit("newer", BOB, "2024-04-01T00:00:00", {"a.py": "3\n"})
    assert repo.commit_before(datetime(2025, 1, 1, tzinfo=UTC)) == newer
    assert repo.commit_before(datetime(2023, 1, 1, tzinfo=UTC)) is None
