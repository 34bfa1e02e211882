"""RepoView: tracked files only, and git's commit-graph written once when asked."""

from __future__ import annotations

import os
from pathlib import Path

from incidentbot.repo import RepoView
from tests.gitbuilder import ALICE, BOB, GitRepoBuilder


def test_commit_graph_is_written_once_with_changed_path_filters(git_repo: GitRepoBuilder) -> None:
    git_repo.commit("one", ALICE, "2024-01-01T00:00:00", {"a.py": "x = 1\n"})
    git_repo.commit("two", BOB, "2024-01-02T00:00:00", {"a.py": "x = 2\n"})
    repo = RepoView(git_repo.root)
    assert not repo.has_changed_path_filters()
    assert repo.ensure_commit_graph() is None
    assert repo.has_changed_path_filters()
    # A second view of the same repository finds it and writes nothing.
    graph = git_repo.root / ".git" / "objects" / "info" / "commit-graph"
    stamp = graph.stat().st_mtime_ns
    assert RepoView(git_repo.root).ensure_commit_graph() is None
    assert graph.stat().st_mtime_ns == stamp


def test_symlinks_and_untracked_files_are_not_readable(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("TOP SECRET\n")
    (git_repo.root / "link.py").symlink_to(outside)
    git_repo.git("add", "link.py")
    sha = git_repo.commit("add a link", ALICE, "2024-01-01T00:00:00", {"a.py": "x = 1\n"})
    (git_repo.root / "untracked.py").write_text("y = 2\n")
    repo = RepoView(git_repo.root)
    assert repo.tracked_files(sha) == ("a.py",)
    assert repo.read_text("link.py", sha) is None
    assert repo.read_text("untracked.py", sha) is None
    assert repo.read_text("../secret.txt", sha) is None
    assert repo.read_text(os.fspath(outside), sha) is None
    assert repo.read_text("a.py", sha) == "x = 1\n"


def test_commit_graph_in_a_detached_checkout_without_refs(git_repo: GitRepoBuilder) -> None:
    sha = git_repo.commit("one", ALICE, "2024-01-01T00:00:00", {"a.py": "x = 1\n"})
    git_repo.git("checkout", "-q", "--detach", sha)
    git_repo.git("branch", "-q", "-D", "main")
    repo = RepoView(git_repo.root)
    assert repo.ensure_commit_graph() is None
    assert repo.has_changed_path_filters()


def test_a_folder_inside_a_checkout_means_that_checkout(git_repo: GitRepoBuilder) -> None:
    git_repo.commit("one", ALICE, "2024-01-01T00:00:00", {"src/a.py": "x = 1\n"})
    assert RepoView(git_repo.root / "src").root == git_repo.root


def test_github_remote_becomes_permalink_base(git_repo: GitRepoBuilder) -> None:
    git_repo.commit("one", ALICE, "2024-01-01T00:00:00", {"a.py": "x = 1\n"})
    assert RepoView(git_repo.root).github_url() is None
    git_repo.git("remote", "add", "origin", "git@github.com:shop-co/shop.git")
    assert RepoView(git_repo.root).github_url() == "https://github.com/shop-co/shop"


def test_changed_blocks_are_gits_line_diff_of_two_versions(git_repo: GitRepoBuilder) -> None:
    old = "".join(f"line_{n} = {n}\n" for n in range(1, 11))
    lines = old.splitlines(keepends=True)
    # line 2 rewritten, a line added after line 5, line 8 removed; the file renamed on the way
    new = "".join([lines[0], "line_2 = 'two'\n", *lines[2:5], "added = 1\n", *lines[5:7], *lines[8:]])
    first = git_repo.commit("one", ALICE, "2024-01-01T00:00:00", {"a.py": old})
    second = git_repo.commit("two", BOB, "2024-01-02T00:00:00", {"a.py": None, "b.py": new})
    repo = RepoView(git_repo.root)
    assert repo.changed_blocks((first, "a.py"), (second, "b.py")) == [
        ((1, 2), (1, 2)),  # replaced: old line 2 by new line 2
        ((5, 5), (5, 6)),  # added: nothing of the old file, new line 6
        ((7, 8), (8, 8)),  # removed: old line 8, nothing of the new file
    ]
    assert repo.changed_blocks((first, "a.py"), (first, "a.py")) == []
    assert repo.changed_blocks((first, "b.py"), (second, "b.py")) is None  # no such version


def test_a_full_sha_is_resolved_once_and_a_ref_every_time(git_repo: GitRepoBuilder) -> None:
    first = git_repo.commit("one", ALICE, "2024-01-01T00:00:00", {"a.py": "1\n"})
    repo = RepoView(git_repo.root)
    asked: list[tuple[str, ...]] = []

    class Counting:
        """git as RepoView calls it, counting the rev-parse calls."""

        def __init__(self, real: object) -> None:
            self.real = real

        def rev_parse(self, *args: str) -> str:
            asked.append(args)
            return str(self.real.rev_parse(*args))  # type: ignore[attr-defined]

    repo.git = Counting(repo.git)  # type: ignore[assignment]
    assert repo.resolve(first) == first
    assert repo.resolve(first) == first
    assert repo.resolve("HEAD") == first
    second = git_repo.commit("two", BOB, "2024-01-02T00:00:00", {"a.py": "2\n"})
    assert repo.resolve("HEAD") == second  # a ref moves: asked again
    assert repo.resolve("f" * 40) is None  # a sha the repository lacks is never remembered
    assert repo.resolve("f" * 40) is None
    assert len(asked) == 5


def test_commit_facts_of_many_commits_equal_each_asked_alone(git_repo: GitRepoBuilder) -> None:
    """Split over several git processes, every commit's facts are those it has alone."""
    shas = [
        git_repo.commit(f"c{i}", ALICE if i % 2 else BOB, f"2024-01-0{i + 1}T00:00:00", {"a.py": "x\n" * (i + 1)})
        for i in range(7)
    ]
    repo = RepoView(git_repo.root)
    together = repo.commit_facts(list(reversed(shas)))
    assert together == {sha: repo.commit_facts([sha])[sha] for sha in shas}
    assert together[shas[3]] == ((shas[2],), 1, 1, 0)  # one file, one line added
