"""Blame through a first-parent history's grafts (linkers/history.py) gives exactly what plain ``git blame`` gives, on a
real repository with several authors, whitespace and formatting commits, a rename, a move with edits, a file
deleted and added again beside a deleted look-alike, a revert and an ignore list; and on the blame index's history
of merges, where a file that a merge changed is left to git."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidentbot.repo import RepoView
from linkers.blame import ignore_revs
from linkers.blame_git import _run_blame
from linkers.blame_index import BlameIndex, blob_lines
from linkers.history import USE_AFTER_BLAMES, FirstParentHistory
from tests.gitbuilder import ALICE, BOB, CAROL, DAVE, GitRepoBuilder, _identity
from tests.linkers.test_blame_index import History
from tests.linkers.test_blame_index import history as history  # the fixture of the merge-rich history

AUTHORS = (ALICE, BOB, CAROL)


class Linear:
    """Revisions oldest first; the hard cases for grafts, without a merge."""

    def __init__(self, builder: GitRepoBuilder) -> None:
        self.b = builder
        self.rng = random.Random(11)
        self.day = 0
        self.revisions: list[str] = []

    def _when(self) -> str:
        self.day += 1
        return (datetime(2024, 3, 1, 9, tzinfo=UTC) + timedelta(days=self.day)).isoformat()

    def _code(self, n: int, tag: str = "") -> list[str]:
        return [f"value_{tag}{self.rng.randint(0, 10**6)} = compute('{self.rng.choice('abc')}', {i})" for i in range(n)]

    def commit(self, message: str, files: dict[str, list[str] | None]) -> str:
        author = DAVE if "ormat" in message else self.rng.choice(AUTHORS)
        texts = {path: None if lines is None else "\n".join(lines) + "\n" for path, lines in files.items()}
        sha = self.b.commit(message, author, self._when(), texts)
        self.revisions.append(sha)
        return sha

    def read(self, path: str) -> list[str]:
        return (self.b.root / path).read_text().splitlines()

    def edit(self, path: str) -> str:
        lines = self.read(path)
        at = self.rng.randrange(len(lines))
        lines[at] = f"changed_{self.rng.randint(0, 10**6)} = compute('x', {at})"
        lines[at:at] = self._code(self.rng.randint(1, 3))
        return self.commit(f"Edit {path}", {path: lines})

    def build(self) -> Linear:
        self.commit("Start", {f"app/m{i}.py": self._code(20 + i) for i in range(6)})
        for i in (0, 1, 2, 0, 3):
            self.edit(f"app/m{i}.py")
        lines = self.read("app/m1.py")
        self.commit("Indent", {"app/m1.py": ["    " + x if n % 3 == 0 else x for n, x in enumerate(lines)]})
        formatting = self.commit("Format", {"app/m0.py": [x.replace("'", '"') for x in self.read("app/m0.py")]})
        self.b.rename("app/m2.py", "app/renamed.py")
        self.commit("Rename m2", {})
        self.edit("app/renamed.py")
        moved = self.read("app/m3.py")
        moved[2] = "edited_while_moving = 1"
        self.commit("Move m3 with an edit", {"app/m3.py": None, "app/moved.py": moved})
        self.edit("app/moved.py")
        look_alike = self.read("app/m4.py")
        self.commit("Drop m5", {"app/m5.py": None})
        self.commit("Drop m4", {"app/m4.py": None})  # after m5: a graft from m5's deletion would see m4 go
        self.commit("Unrelated", {"app/other.py": self._code(5)})
        self.commit("m5 again, much like the old m4", {"app/m5.py": [*look_alike, "extra = 1"]})
        self.edit("app/m5.py")
        reverted = self.edit("app/m1.py")
        self.b.git("revert", "--no-edit", reverted, env=_identity(ALICE, self._when()))
        self.revisions.append(self.b.git("rev-parse", "HEAD"))
        self.commit("Ignore the formatting in blame", {".git-blame-ignore-revs": [formatting]})
        for path in ("app/m0.py", "app/renamed.py", "app/m1.py"):
            self.edit(path)
        return self


@pytest.fixture
def linear(git_repo: GitRepoBuilder) -> Linear:
    return Linear(git_repo).build()


def _files(repo: RepoView, rev: str) -> list[str]:
    return [path for path in repo.tracked_files(rev) if path.endswith(".py") and blob_lines(repo, rev, path)]


def _compare_every_line(repo: RepoView, revisions: list[str]) -> tuple[int, int]:
    """Every line of every file at every revision, whole files and a range, through the grafts and plainly: the
    same answers (``previous`` included). How many files were grafted, and how many left to git."""
    grafted = plain = 0
    for rev in revisions:
        history = FirstParentHistory.read(repo, rev, min_commits=0)
        assert history is not None
        ignore = ignore_revs(repo, rev)
        for path in _files(repo, rev):
            for ranges in ([(1, len(blob_lines(repo, rev, path)))], [(2, 3)]):
                expected = _run_blame(repo, rev, path, ranges, ignore)
                found = _run_blame(repo, rev, path, ranges, ignore, history)
                assert found.lines == expected.lines, f"{rev[:8]} {path} {ranges}"
                assert found.commits == expected.commits, f"{rev[:8]} {path} {ranges}"
            if history.grafts(path) is None:
                plain += 1
            else:
                grafted += 1
    return grafted, plain


def test_every_line_at_every_revision_equals_plain_git_blame(linear: Linear) -> None:
    repo = RepoView(linear.b.root)
    grafted, plain = _compare_every_line(repo, linear.revisions)
    assert grafted > 2 * plain  # the grafts did most of the work (95 of 129 files when written)
    head = FirstParentHistory.read(repo, linear.revisions[-1], min_commits=0)
    assert head is not None
    assert head.grafts("app/moved.py") is None  # added where a file was deleted: maybe a rename, left to git
    assert head.grafts("app/m5.py") is not None  # added again where nothing was deleted: git's answer is creation
    assert head.grafts("app/renamed.py") is None


def test_with_merges_every_line_equals_plain_git_blame_and_side_branch_changes_are_left_to_git(
    history: History,
) -> None:
    """The blame index's history of hard cases: a conflicted merge, a merge taking a side branch's file whole, an
    unrelated history merged in, a rename, a revert, an ignore list."""
    repo = RepoView(history.b.root)
    grafted, plain = _compare_every_line(repo, history.main)
    head = FirstParentHistory.read(repo, history.main[-1], min_commits=0)
    assert head is not None
    assert head.grafts("app/d.py") is None  # the merge that took the side branch's d.py changed it
    assert grafted and plain, (grafted, plain)  # revisions before the merges are grafted, later ones some not


def test_grafts_git_refuses_leave_the_file_to_a_plain_blame(linear: Linear) -> None:
    """A history that no longer fits the repository (a commit gone, say): git fails, the answer is plain git's."""
    repo = RepoView(linear.b.root)
    rev = linear.revisions[-1]
    stale = FirstParentHistory(rev, {"app/m0.py": (("f" * 40, "M"),)}, {}, frozenset(), frozenset())
    assert stale.grafts("app/m0.py") is not None
    expected = _run_blame(repo, rev, "app/m0.py", [(1, 5)], ())
    assert expected.lines
    assert _run_blame(repo, rev, "app/m0.py", [(1, 5)], (), stale) == expected


def test_a_short_history_is_not_read(linear: Linear) -> None:
    """Below MIN_COMMITS git's own walk, with changed-path filters, is as fast: the pass would not pay."""
    repo = RepoView(linear.b.root)
    assert FirstParentHistory.read(repo, linear.revisions[-1]) is None
    assert FirstParentHistory.read(repo, linear.revisions[-1], min_commits=len(linear.revisions)) is not None


def test_the_index_reads_the_history_once_enough_files_are_blamed_and_answers_as_git(
    git_repo: GitRepoBuilder, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from incidentbot.store import open_store
    from linkers import history as history_module

    monkeypatch.setattr(history_module, "MIN_COMMITS", 0)  # a test repository's few commits

    rng = random.Random(3)
    files = {f"pkg/f{i:02d}.py": [f"line_{i}_{n} = {rng.randint(0, 99)}" for n in range(12)] for i in range(30)}
    git_repo.commit("Start", ALICE, "2024-01-01T10:00:00+00:00", {p: "\n".join(x) + "\n" for p, x in files.items()})
    for day, path in enumerate(sorted(files)[::3], start=2):
        files[path][rng.randrange(12)] = f"fixed_{day} = 1"
        author = AUTHORS[day % 3]
        text = "\n".join(files[path]) + "\n"
        git_repo.commit(f"Fix {path}", author, f"2024-01-{day:02d}T10:00:00+00:00", {path: text})
    repo = RepoView(git_repo.root)
    rev = git_repo.git("rev-parse", "HEAD")
    store = open_store(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    try:
        index = BlameIndex(store, 10**9, 10)
        paths = sorted(files)
        with caplog.at_level(logging.INFO, logger="linkers.history"):
            first = index.blame(repo, rev, {p: ([(1, 12)], ()) for p in paths[: USE_AFTER_BLAMES - 1]})
            assert not [r for r in caplog.records if "history" in r.getMessage()]  # a few files: git alone
            rest = index.blame(repo, rev, {p: ([(1, 12)], ()) for p in paths[USE_AFTER_BLAMES - 1 :]})
            assert [r for r in caplog.records if r.getMessage().startswith("read the history")]
        index.flush()
        for path, found in {**first, **rest}.items():
            expected = _run_blame(repo, rev, path, [(1, 12)], ())
            assert found.lines == expected.lines, path
            assert found.commits == expected.commits, path
    finally:
        store.close()
