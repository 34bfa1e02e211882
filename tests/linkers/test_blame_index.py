"""The blame index gives exactly what ``git blame`` gives, carried forward or not, on real repositories with
renames, merges of branches forked before the earlier revision, reverts, whitespace and formatting commits."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from incidentbot.repo import RepoView
from incidentbot.settings import Ranking, Settings
from incidentbot.store import Store, open_store
from incidentbot.store import blame_index as store_blame_index
from linkers import blame_index
from linkers.blame import Blamer, ignore_revs
from linkers.blame_git import FileBlame, _run_blame
from linkers.blame_index import BlameIndex, blob_lines, options_key, repository_key, shared_index
from linkers.blame_index_sqlite import SqliteIndexStore
from linkers.scope import FUNCTIONS_KIND, Scope
from tests.gitbuilder import ALICE, BOB, CAROL, DAVE, GitRepoBuilder, _identity
from tests.linkers.history import ShopHistory, build_shop, shop_traceback
from tests.linkers.test_suspects import _evidence
from tests.postgres import fresh_database

AUTHORS = (ALICE, BOB, CAROL)


@pytest.fixture(params=["sqlite", "sqlite3", "postgresql"], autouse=True)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test over every store: the SQLAlchemy Store on SQLite and on PostgreSQL (skipped without one), and
    stdlib sqlite3 on the tables the Store created."""
    BACKEND[0] = request.param
    with ExitStack() as stack:
        DATABASES.clear()
        DATABASES["stack"] = stack
        yield request.param
        for opened in OPENED:
            opened.close()
        OPENED.clear()
        for store in STORES:
            store.close()
        STORES.clear()
        DATABASES.clear()


BACKEND = ["sqlite"]
OPENED: list[SqliteIndexStore] = []
STORES: list[Store] = []
DATABASES: dict[str, Any] = {}


def _url(tmp_path: Path, name: str) -> str:
    if BACKEND[0] != "postgresql":
        return f"sqlite:///{tmp_path / name}.sqlite3"
    if name not in DATABASES:  # one fresh database per name, dropped after the test
        DATABASES[name] = DATABASES["stack"].enter_context(fresh_database("incidentbot_blame_index"))
    return str(DATABASES[name])


def _index(tmp_path: Path, name: str = "index", max_bytes: int = 10**9, keep: int = 100) -> BlameIndex:
    url = _url(tmp_path, name)
    store = open_store(url)
    STORES.append(store)
    if BACKEND[0] == "sqlite3":
        fast = SqliteIndexStore.open_existing(url)
        assert fast is not None
        OPENED.append(fast)
        return BlameIndex(fast, max_bytes, keep)
    return BlameIndex(store, max_bytes, keep)


def _direct(repo: RepoView, rev: str, path: str, ranges: list[tuple[int, int]], ignore: tuple[str, ...]) -> FileBlame:
    return _run_blame(repo, rev, path, ranges, ignore)  # git itself, no memo


def _same(found: FileBlame, expected: FileBlame, where: str) -> None:
    assert found.lines == expected.lines, where
    assert found.commits == expected.commits, where


def _files(repo: RepoView, rev: str) -> list[str]:
    return [path for path in repo.tracked_files(rev) if path.endswith(".py") and blob_lines(repo, rev, path)]


def _whole(repo: RepoView, rev: str, path: str) -> list[tuple[int, int]]:
    return [(1, len(blob_lines(repo, rev, path)))]


def _check_every_line(index: BlameIndex, repo: RepoView, rev: str, ignore: tuple[str, ...]) -> None:
    files = _files(repo, rev)
    found = index.blame(repo, rev, {path: (_whole(repo, rev, path), ignore) for path in files})
    index.flush()
    for path in files:
        _same(found[path], _direct(repo, rev, path, _whole(repo, rev, path), ignore), f"{rev[:8]} {path}")


# ---- a history with every hard case ---------------------------------------------------------------------------


def _code(rng: random.Random, n: int) -> list[str]:
    return [f"value_{rng.randint(0, 10**6)} = compute('{rng.choice('abcdef')}', {i})" for i in range(n)]


def _edit(rng: random.Random, lines: list[str]) -> list[str]:
    out = list(lines)
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        at = rng.randrange(len(out) + 1)
        if kind < 0.4 and out:
            out[min(at, len(out) - 1)] = f"changed_{rng.randint(0, 10**6)} = compute('x', {at})"
        elif kind < 0.7:
            out[at:at] = _code(rng, rng.randint(1, 3))
        elif len(out) > 5:
            del out[min(at, len(out) - 2) : min(at, len(out) - 2) + rng.randint(1, 2)]
    return out


class History:
    """Main-line revisions, oldest first, with the hard cases between them."""

    def __init__(self, builder: GitRepoBuilder) -> None:
        self.b = builder
        self.rng = random.Random(7)
        self.day = 0
        self.main: list[str] = []
        self.files = {"app/a.py": _code(self.rng, 30), "app/b.py": _code(self.rng, 25), "app/c.py": _code(self.rng, 20)}

    def _when(self) -> str:
        self.day += 1
        return (datetime(2024, 1, 1, 10, tzinfo=UTC) + timedelta(days=self.day)).isoformat()

    def commit(self, message: str, paths: list[str], main: bool = True) -> str:
        author = DAVE if "format" in message else self.rng.choice(AUTHORS)
        sha = self.b.commit(message, author, self._when(), {p: "\n".join(self.files[p]) + "\n" for p in paths})
        if main:
            self.main.append(sha)
        return sha

    def edit(self, path: str, main: bool = True) -> str:
        self.files[path] = _edit(self.rng, self.files[path])
        return self.commit(f"Edit {path}", [path], main)

    def build(self) -> History:
        self.commit("Start", list(self.files))
        for path in ("app/a.py", "app/b.py", "app/c.py", "app/a.py"):
            self.edit(path)
        self.b.git("checkout", "-q", "-b", "side")  # forked here: merged after later revisions
        side_files = dict(self.files)
        for path in ("app/b.py", "app/b.py", "app/a.py"):
            self.edit(path, main=False)
        self.files = side_files
        self.b.git("checkout", "-q", "main")
        for path in ("app/c.py", "app/a.py"):
            self.edit(path)
        # whitespace only: -w sees through it
        c_lines = self.files["app/c.py"]
        self.files["app/c.py"] = ["    " + line if i % 3 == 0 else line for i, line in enumerate(c_lines)]
        self.commit("Indent some lines", ["app/c.py"])
        # formatting: listed in .git-blame-ignore-revs later
        self.files["app/a.py"] = [line.replace("'", '"') for line in self.files["app/a.py"]]
        formatting = self.commit("Apply formatting", ["app/a.py"])
        self.edit("app/b.py")
        # both sides changed a.py and b.py; conflicts resolved for main's side, the rest merged
        self.b.git(
            "merge",
            "-q",
            "--no-ff",
            "-X",
            "ours",
            "-m",
            "Merge branch 'side'",
            "side",
            env=_identity(BOB, self._when()),
        )
        self.main.append(self.b.git("rev-parse", "HEAD"))
        self.files = {p: (self.b.root / p).read_text().splitlines() for p in self.files}
        # d.py: main changes it, then a merge takes the side branch's version whole, so blame follows the side
        # branch down to its fork point, an ancestor of the revisions before the merge (a boundary that is not R1).
        self.files["app/d.py"] = _code(self.rng, 12)
        self.commit("Add d", ["app/d.py"])
        self.b.git("checkout", "-q", "-b", "side2")
        self.edit("app/d.py", main=False)
        side_d = list(self.files["app/d.py"])
        self.b.git("checkout", "-q", "main")
        self.files["app/d.py"] = [line + "  # main" if i % 2 else line for i, line in enumerate(side_d)]
        self.commit("Comment d on main", ["app/d.py"])
        self.edit("app/a.py")
        self.b.git("merge", "-q", "--no-ff", "--no-commit", "-X", "ours", "side2")
        self.b.git("checkout", "side2", "--", "app/d.py")
        self.b.git("commit", "-q", "-m", "Merge branch 'side2', its d.py", env=_identity(CAROL, self._when()))
        self.main.append(self.b.git("rev-parse", "HEAD"))
        self.files["app/d.py"] = (self.b.root / "app/d.py").read_text().splitlines()
        # e.py: an unrelated history merged in, whose root commit is a boundary too
        self.b.git("checkout", "-q", "--orphan", "vendored")
        self.b.git("rm", "-rq", "--cached", ".")
        vendored = self.b.root / "vendor_src.py"
        self.b.git("clean", "-fdq")
        vendored.write_text("\n".join(_code(self.rng, 8)) + "\n")
        self.b.git("add", "vendor_src.py")
        self.b.git("commit", "-q", "-m", "Vendored root", env=_identity(DAVE, self._when()))
        self.b.git("checkout", "-q", "-f", "main")
        self.b.git(
            "merge",
            "-q",
            "--no-ff",
            "--allow-unrelated-histories",
            "-m",
            "Merge vendored",
            "vendored",
            env=_identity(BOB, self._when()),
        )
        self.main.append(self.b.git("rev-parse", "HEAD"))
        self.b.rename("vendor_src.py", "app/e.py")
        self.files["app/e.py"] = (self.b.root / "app/e.py").read_text().splitlines()
        self.edit("app/e.py")
        self.b.rename("app/c.py", "app/renamed_c.py")
        self.files["app/renamed_c.py"] = self.files.pop("app/c.py")
        self.commit("Rename c", [])
        self.edit("app/renamed_c.py")
        reverted = self.edit("app/b.py")
        self.b.git("revert", "--no-edit", reverted, env=_identity(ALICE, self._when()))
        self.main.append(self.b.git("rev-parse", "HEAD"))
        self.files["app/b.py"] = (self.b.root / "app/b.py").read_text().splitlines()
        self.b.write({".git-blame-ignore-revs": f"{formatting}\n"})
        self.commit("Ignore the formatting commit in blame", [])
        for path in ("app/a.py", "app/renamed_c.py", "app/b.py", "app/a.py"):
            self.edit(path)
        return self


@pytest.fixture
def history(git_repo: GitRepoBuilder) -> History:
    return History(git_repo).build()


def test_every_line_at_every_revision_equals_git_when_carried_forward(history: History, tmp_path: Path) -> None:
    repo = RepoView(history.b.root)
    index = _index(tmp_path)
    carried = 0
    for rev in history.main:
        _check_every_line(index, repo, rev, ignore_revs(repo, rev))
        carried += index.store.blame_index_stats().get("carried", 0)
    stats = index.store.blame_index_stats()
    assert stats["carried"] > 0  # most revisions were answered from the one before
    assert stats["misses"] >= len(_files(repo, history.main[0]))


def test_carried_over_a_long_range_with_a_fixed_ignore_list(history: History, tmp_path: Path) -> None:
    """From the first revision straight to each later one: every hard case lies in some range."""
    repo = RepoView(history.b.root)
    formatting = next(s for s in history.main if "formatting" in history.b.git("log", "-1", "--format=%s", s))
    for ignore in ((), (formatting,)):
        for later in history.main[1:]:
            index = _index(tmp_path, f"long-{len(ignore)}-{later[:8]}")
            _check_every_line(index, repo, history.main[0], ignore)
            _check_every_line(index, repo, later, ignore)
            assert index.store.blame_index_stats()["misses"] >= 1


@pytest.mark.parametrize("whole_file_lines", [0, blame_index.WHOLE_FILE_LINES])
def test_line_ranges_filled_lazily_equal_git(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_file_lines: int
) -> None:
    """Ranges asked a few at a time, at an old revision and then a new one (the old entry is filled on demand):
    with every file blamed by ranges first (0) and with short files blamed whole at once (the default)."""
    monkeypatch.setattr(blame_index, "WHOLE_FILE_LINES", whole_file_lines)
    repo = RepoView(history.b.root)
    index = _index(tmp_path)
    rng = random.Random(3)
    for rev in (history.main[2], history.main[9], history.main[-1]):
        ignore = ignore_revs(repo, rev)
        for _ in range(4):
            wanted: dict[str, tuple[list[tuple[int, int]], tuple[str, ...]]] = {}
            for path in _files(repo, rev):
                length = len(blob_lines(repo, rev, path))
                lo = rng.randint(1, length)
                wanted[path] = ([(lo, min(length, lo + rng.randint(0, 6)))], ignore)
            found = index.blame(repo, rev, wanted)
            index.flush()
            for path, (ranges, _) in wanted.items():
                _same(found[path], _direct(repo, rev, path, ranges, ignore), f"{rev[:8]} {path} {ranges}")


def test_a_new_index_on_the_same_store_answers_from_it(history: History, tmp_path: Path) -> None:
    """A new process (a new index over the same SQLite file) blames nothing again."""
    repo = RepoView(history.b.root)
    rev = history.main[-1]
    _check_every_line(_index(tmp_path), repo, rev, ())
    again = _index(tmp_path)
    before = again.store.blame_index_stats()
    _check_every_line(again, repo, rev, ())
    after = again.store.blame_index_stats()
    assert after["hits"] - before["hits"] == len(_files(repo, rev))
    assert after["misses"] == before["misses"]


# ---- the linker end to end -------------------------------------------------------------------------------------


@pytest.fixture
def shop(git_repo: GitRepoBuilder) -> ShopHistory:
    return build_shop(git_repo)


FRAMES = [
    ("shop/cart.py", "total", "return apply_discount("),
    ("shop/pricing.py", "apply_discount", "return total /"),
    ("shop/pricing.py", "tax", "def tax("),
]


@pytest.mark.parametrize("window", [0, 3])
def test_the_linker_with_the_index_blames_as_without(shop: ShopHistory, tmp_path: Path, window: int) -> None:
    """Cosmetic re-blame included, at every revision of the shop, twice (the second time from the index)."""
    repo = RepoView(shop.builder.root)
    ranking = Ranking(blame_window=window)
    index = _index(tmp_path)
    for rev in (shop.culprit, shop.rename, shop.bulk, shop.release, shop.after_release):
        evidence = _evidence(repo, rev, FRAMES, repo.commit_time(rev))
        plain = Blamer(ranking, commit_graph=False).link(evidence, RepoView(shop.builder.root))
        for _ in range(2):
            indexed = Blamer(ranking, commit_graph=False, index=index).link(evidence, RepoView(shop.builder.root))
            assert indexed.blame == plain.blame
            assert sorted(indexed.commits, key=lambda c: c.sha) == sorted(plain.commits, key=lambda c: c.sha)
    assert any(line.cosmetic for line in plain.blame)  # the second pass was exercised
    assert index.store.blame_index_stats()["hits"] > 0


class _Broken:
    def blame(self, *args: object) -> dict[str, FileBlame]:
        raise RuntimeError("disk full")


def test_a_failing_index_leaves_blame_to_git(shop: ShopHistory) -> None:
    repo = RepoView(shop.builder.root)
    evidence = _evidence(repo, shop.release, FRAMES, repo.commit_time(shop.release))
    plain = Blamer(Ranking(), commit_graph=False).link(evidence, repo)
    broken = Blamer(Ranking(), commit_graph=False, index=_Broken())  # type: ignore[arg-type]
    assert broken.link(evidence, RepoView(shop.builder.root)).blame == plain.blame


def test_from_settings_shares_the_configured_store(shop: ShopHistory, tmp_path: Path) -> None:
    settings = Settings(repo=shop.builder.root, database_url=f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    index = Blamer.from_settings(settings).index
    assert index is shared_index(settings)
    # A new store: created by sqlite3 alone (incidentbot.sqlite_schema), read the same way.
    assert index is not None and isinstance(index.store, SqliteIndexStore)
    OPENED.append(index.store)
    assert Blamer.from_settings(replace_settings(settings, blame_index=False)).index is None
    existing = replace_settings(settings, blame_index_revisions=3)  # another process, the store now exists
    fast = shared_index(existing)
    assert fast is not None and isinstance(fast.store, SqliteIndexStore)
    OPENED.append(fast.store)


@pytest.mark.parametrize("existing", [True, False])
def test_a_triage_process_does_not_import_sqlalchemy(shop: ShopHistory, tmp_path: Path, existing: bool) -> None:
    """Neither on an existing store nor when it creates the store (the first triage on a machine)."""
    url = f"sqlite:///{tmp_path / 'state' / 'cli.sqlite3'}"
    if existing:
        open_store(url).close()
    code = (
        "import sys; from pathlib import Path; from incidentbot import settings; from linkers.blame import Blamer; "
        f"b = Blamer.from_settings(settings.load(None, repo=Path({str(shop.builder.root)!r}), database_url={url!r})); "
        "print(type(b.index.store).__name__, 'sqlalchemy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["SqliteIndexStore", "False"]


def replace_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


# ---- bounds ----------------------------------------------------------------------------------------------------


def test_revisions_no_longer_used_are_evicted(history: History, tmp_path: Path) -> None:
    repo = RepoView(history.b.root)
    index = _index(tmp_path, keep=2)
    for rev in history.main[:5]:
        _check_every_line(index, repo, rev, ())
    assert index.store.blame_index_stats()["revisions"] == 2


def test_the_index_stays_under_its_byte_limit_dropping_the_least_recently_used(
    history: History, tmp_path: Path
) -> None:
    repo = RepoView(history.b.root)
    index = _index(tmp_path, max_bytes=20_000)
    for rev in history.main[:8]:
        _check_every_line(index, repo, rev, ())
    stats = index.store.blame_index_stats()
    assert 0 < stats["bytes"] <= 20_000
    newest, oldest = history.main[7], history.main[0]
    keys = [(path, options_key(repo, ())) for path in _files(repo, newest)]
    assert len(index.store.blame_entries(repository_key(repo), newest, keys)) == len(keys)
    assert index.store.blame_entries(repository_key(repo), oldest, keys) == {}


def test_status_shows_the_index_size_and_hit_rate(shop: ShopHistory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'incidentbot' / 'incidentbot.sqlite3'}"
    repo = RepoView(shop.builder.root)
    index = BlameIndex(open_store(url), 10**9, 4)
    evidence = _evidence(repo, shop.release, FRAMES, repo.commit_time(shop.release))
    for _ in range(3):
        Blamer(Ranking(), commit_graph=False, index=index).link(evidence, RepoView(shop.builder.root))
    stats = index.store.blame_index_stats()
    asked = stats["hits"] + stats["carried"] + stats["misses"]
    assert stats["hits"] > 0 and stats["misses"] > 0
    out = subprocess.run([sys.executable, "-m", "incidentbot", "status"], capture_output=True, text=True, check=True)
    line = next(text for text in out.stdout.splitlines() if text.startswith("blame index:"))
    assert f"{stats['entries']} files" in line
    assert f"hit rate {100 * stats['hits'] / asked:.0f}%" in line
    functions = len({path for path, *_ in FRAMES})  # each blamed Python file's functions, parsed once and kept
    assert index.store.git_facts_counts() == {FUNCTIONS_KIND: functions}
    assert f"git facts kept: 0 commits, {functions} files' functions" in out.stdout


def test_the_hard_cases_are_exercised(history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Renamed lines taken from R1's entry under the old path, and boundary commits other than R1 (a side
    branch's fork point, an unrelated root) blamed in full, every answer equal to git's."""
    seen = {"foreign boundary": 0, "renamed": 0, "from R1": 0, "in range": 0}
    real = blame_index._range_blame

    def spy(
        repo: RepoView, base: str, rev: str, path: str, lines: Sequence[int], ignore: Sequence[str]
    ) -> tuple[FileBlame, set[str]] | None:
        found = real(repo, base, rev, path, lines, ignore)
        for bl in found[0].lines.values() if found else ():
            if bl.sha in found[1] and bl.sha != base:  # type: ignore[index]
                seen["foreign boundary"] += 1
            elif bl.sha in found[1]:  # type: ignore[index]
                seen["from R1"] += 1
                seen["renamed"] += bl.orig_path != path
            else:
                seen["in range"] += 1
        return found

    monkeypatch.setattr(blame_index, "_range_blame", spy)
    repo = RepoView(history.b.root)
    for earlier, later in zip(history.main, history.main[1:], strict=False):
        index = _index(tmp_path, f"pair-{later[:8]}")
        _check_every_line(index, repo, earlier, ())
        _check_every_line(index, repo, later, ())
    assert all(seen.values()), seen


def test_files_no_commit_changed_are_carried_without_git_and_a_reverted_file_is_blamed_again(
    git_repo: GitRepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R1..R2 leaves calm.py alone and edits then reverts reverted.py, whose text at R2 is R1's again: calm.py
    is taken from R1's entry without a blame; reverted.py is blamed over the range, because git blames its
    reverted line on the revert. Both equal git's blame at R2."""
    lines = [f"value_{i} = compute({i})" for i in range(12)]
    text = "\n".join(lines) + "\n"
    first = git_repo.commit("Start", ALICE, "2024-01-01T10:00:00", {"app/calm.py": text, "app/reverted.py": text})
    edited = lines[:5] + ["value_5 = compute(-5)"] + lines[6:]
    git_repo.commit("Edit", BOB, "2024-01-02T10:00:00", {"app/reverted.py": "\n".join(edited) + "\n"})
    last = git_repo.commit("Revert the edit", CAROL, "2024-01-03T10:00:00", {"app/reverted.py": text})
    ranged: list[str] = []
    real = blame_index._range_blame

    def spy(
        repo: RepoView, base: str, rev: str, path: str, lines: Sequence[int], ignore: Sequence[str]
    ) -> tuple[FileBlame, set[str]] | None:
        ranged.append(path)
        return real(repo, base, rev, path, lines, ignore)

    monkeypatch.setattr(blame_index, "_range_blame", spy)
    repo = RepoView(git_repo.root)
    index = _index(tmp_path)
    _check_every_line(index, repo, first, ())
    _check_every_line(index, repo, last, ())
    assert ranged == ["app/reverted.py"]
    assert index.store.blame_index_stats()["carried"] == 2
    found = index.blame(repo, last, {"app/reverted.py": ([(6, 6)], ())})["app/reverted.py"]
    assert found.lines[6].sha == last  # the revert wrote the line back: git names it, not Start


def test_changed_paths_are_named_as_git_names_them_whatever_the_characters(git_repo: GitRepoBuilder) -> None:
    """A path with spaces, glob characters and non-ASCII letters is matched literally and read back unquoted: a
    changed file taken for untouched would be carried with a wrong blame."""
    weird = "sub dir/we[ir]d *name é.py"
    git_repo.commit("one", ALICE, "2024-01-01T10:00:00", {weird: "a = 1\nb = 2\n", "calm.py": "x = 1\n"})
    git_repo.commit("two", BOB, "2024-01-02T10:00:00", {weird: "a = 1\nb = 20\n"})
    repo = RepoView(git_repo.root)
    base, rev = repo.resolve("HEAD~1"), repo.resolve("HEAD")
    assert base and rev
    assert blame_index._paths_changed(repo, base, rev, [weird, "calm.py", "sub dir/we?d *name é.py"]) == {weird}


def test_entries_used_from_memory_stay_recent_in_the_store(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon answers hot files from memory; the store's LRU must still see them as used."""
    monkeypatch.setattr(blame_index, "TOUCH_SECONDS", -1.0)  # every use is written (the grain, not the logic)
    repo = RepoView(history.b.root)
    rev = history.main[-1]
    index = _index(tmp_path)
    _check_every_line(index, repo, rev, ())
    hot = _files(repo, rev)[0]

    reader = open_store(_url(tmp_path, "index"))
    STORES.append(reader)  # closed after the test

    def used() -> dict[str, float]:
        with reader.engine.connect() as conn:
            rows = conn.execute(sqlalchemy.select(store_blame_index.c.path, store_blame_index.c.used_at))
            return {str(path): float(when) for path, when in rows}

    before = used()
    index.blame(repo, rev, {hot: (_whole(repo, rev, hot), ())})
    index.flush()
    after = used()
    assert after[hot] > before[hot]
    assert all(after[path] == before[path] for path in before if path != hot)


def test_incidentbot_triage_processes_share_the_index_and_report_the_same(shop: ShopHistory, tmp_path: Path) -> None:
    """The CLI keeps the index in its store: a second process blames nothing again and reports the same."""
    shop.builder.git("checkout", "-q", shop.release)
    trace = tmp_path / "trace.txt"
    trace.write_text(shop_traceback(shop.builder.root))
    command = [sys.executable, "-m", "incidentbot", "triage", str(trace), "--repo", str(shop.builder.root), "--json"]
    command += ["--first-seen", "2024-04-12T09:00:00+00:00"]
    reports = [subprocess.run(command, capture_output=True, text=True, check=True).stdout for _ in range(2)]
    assert reports[0] == reports[1]
    plain = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, "INCIDENTBOT_BLAME_INDEX": "false"}
    )
    assert plain.stdout == reports[0]
    stats = open_store(Settings().effective_database_url).blame_index_stats()
    assert stats["misses"] > 0 and stats["hits"] >= stats["misses"]  # the second process: hits only


# ---- facts of single git objects, kept across processes --------------------------------------------------------


def test_commit_facts_and_functions_are_kept_for_the_next_process(shop: ShopHistory, tmp_path: Path) -> None:
    """What a triage learnt of commits (size, parents) and files (their functions) is in the store; a new process
    (new in-memory caches) takes it from there, equal to what git and a parse give."""
    from linkers.scope import ScopeCache, python_functions
    from linkers.suspects import FactsCache

    repo = RepoView(shop.builder.root)
    shas = [shop.culprit, shop.release]
    index = _index(tmp_path)
    assert FactsCache(10).get(repo, shas, index) == repo.commit_facts(shas)
    path = "shop/pricing.py"
    lines = repo.read_lines(path, shop.release)
    assert lines is not None
    blob = repo.blob_sha(path, shop.release)
    assert blob == shop.builder.git("rev-parse", f"{shop.release}:{path}")
    line = next(n for n, text in enumerate(lines, 1) if "return" in text)
    first = ScopeCache(10).enclosing(("r", shop.release, path), lines, line, path, index, blob)
    assert first is not None and first == python_functions(lines).enclosing(line)
    index.flush()  # as the blame linker does at the end of its pass: one write for the triage's new facts

    later = _index(tmp_path)  # another process on the same store
    assert later.git_facts("commit", shas).keys() == set(shas)
    assert later.git_facts(FUNCTIONS_KIND, [blob]).keys() == {blob}
    # What the store holds is what is answered: a planted value shows the store, not git, was asked.
    planted = _index(tmp_path, "planted")
    planted.save_git_facts("commit", {shop.culprit: '[["' + "0" * 40 + '"], 9, 99, 999]'})
    planted.save_git_facts(FUNCTIONS_KIND, {blob: '[["planted", 1, 1000]]'})
    assert FactsCache(10).get(repo, [shop.culprit], planted) == {shop.culprit: (("0" * 40,), 9, 99, 999)}
    assert ScopeCache(10).enclosing(("r", shop.release, path), lines, line, path, planted, blob) == Scope(
        "planted", 1, 1000
    )
    # A row that does not read is as good as none: git is asked, the file parsed.
    broken = _index(tmp_path, "broken")
    broken.save_git_facts("commit", {shop.culprit: "not json"})
    broken.save_git_facts(FUNCTIONS_KIND, {blob: '[["no", "numbers"]]'})
    assert FactsCache(10).get(repo, [shop.culprit], broken) == repo.commit_facts([shop.culprit])
    assert ScopeCache(10).enclosing(("r", shop.release, path), lines, line, path, broken, blob) == first


def test_functions_the_store_lacked_are_not_asked_for_again(shop: ShopHistory, tmp_path: Path) -> None:
    """A repeated error's files that no frame needed parsed cost no read of the store per triage: once the store had
    no functions of a blob, this process does not ask again, and parses the file itself if a frame comes to need it."""
    from linkers.scope import ScopeCache, python_functions

    repo = RepoView(shop.builder.root)
    path = "shop/pricing.py"
    lines = repo.read_lines(path, shop.release)
    blob = repo.blob_sha(path, shop.release)
    assert lines is not None and blob is not None
    line = next(n for n, text in enumerate(lines, 1) if "return" in text)
    index, cache, key = _index(tmp_path), ScopeCache(10), ("r", shop.release, path)
    cache.preload({key: blob}, index)
    assert len(cache) == 0  # the store has none
    other = _index(tmp_path)  # another process keeps an answer afterwards
    other.save_git_facts(FUNCTIONS_KIND, {blob: '[["planted", 1, 1000]]'})
    other.flush()
    cache.preload({key: blob}, index)
    assert len(cache) == 0  # not asked again
    assert cache.enclosing(key, lines, line, path, index, blob) == python_functions(lines).enclosing(line)
    assert ScopeCache(10).enclosing(key, lines, line, path, other, blob) == Scope("planted", 1, 1000)  # a new one asks


def test_git_facts_keep_their_first_value_and_the_oldest_are_evicted(tmp_path: Path) -> None:
    index = _index(tmp_path)
    index.save_git_facts("commit", {"a" * 40: "[[], 1, 1, 1]"})
    index.flush()
    index.save_git_facts("commit", {"a" * 40: "[[], 2, 2, 2]"})  # immutable: the first write stays
    index.flush()
    assert index.git_facts("commit", ["a" * 40]) == {"a" * 40: "[[], 1, 1, 1]"}
    for n in range(5):
        index.store.save_git_facts("commit", {f"{n:040d}": "[[], 0, 0, 0]"})
        time.sleep(0.01)  # written one after another: distinct times
    assert index.store.evict_git_facts(3) == 3
    assert sorted(index.git_facts("commit", ["a" * 40, *(f"{n:040d}" for n in range(5))])) == [
        f"{n:040d}" for n in (2, 3, 4)
    ]
    assert index.store.evict_git_facts(3) == 0
