"""Commit facts (``git log`` per commit) remembered per commit, bounded: the same answers as asking git."""

from __future__ import annotations

import shutil

from incidentbot.repo import RepoView
from linkers.suspects import FactsCache
from tests.gitbuilder import ALICE, BOB, GitRepoBuilder


def test_facts_come_from_git_once_and_stay_the_same(git_repo: GitRepoBuilder) -> None:
    first = git_repo.commit("add", ALICE, "2024-01-01T00:00:00", {"a.py": "x = 1\n", "b.py": "y = 2\n"})
    second = git_repo.commit("edit", BOB, "2024-01-02T00:00:00", {"a.py": "x = 1\nz = 3\n"})
    spaces = git_repo.commit("spaces", BOB, "2024-01-03T00:00:00", {"a.py": "x  =  1\nz = 3\n"})
    repo = RepoView(git_repo.root)
    shas = [first, second, spaces]
    direct = repo.commit_facts(shas)
    cache = FactsCache(max_commits=8)
    assert cache.get(repo, shas) == direct
    assert direct[spaces][1:] == (0, 0, 0)  # whitespace only: no file counts
    assert len(cache) == 3
    # Known commits are answered without git: with the repository gone, the answers stay.
    shutil.rmtree(git_repo.root / ".git")
    assert cache.get(repo, [second, first]) == {second: direct[second], first: direct[first]}


def test_the_cache_keeps_at_most_its_limit(git_repo: GitRepoBuilder) -> None:
    shas = [git_repo.commit(f"c{n}", ALICE, f"2024-01-0{n + 1}T00:00:00", {"a.py": f"x = {n}\n"}) for n in range(4)]
    repo = RepoView(git_repo.root)
    cache = FactsCache(max_commits=2)
    assert cache.get(repo, shas) == repo.commit_facts(shas)  # all asked are answered, even past the limit
    assert len(cache) == 2
    assert cache.get(repo, ["0" * 40]) == {}  # an unknown commit has no facts and is not kept
    assert len(cache) == 2
