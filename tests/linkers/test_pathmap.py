"""Frames to tracked files: mappings, suffix matching, module fallback, in-app rules, and no way out of the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from incidentbot.models import Evidence, ExceptionInfo, Frame, Trace
from incidentbot.parse import parse_trace
from incidentbot.repo import RepoView
from incidentbot.settings import PathMapping
from linkers.pathmap import PathMapper, normalise
from tests.gitbuilder import ALICE, GitRepoBuilder

FILES = {
    "src/shop/__init__.py": "",
    "src/shop/cart.py": "def total(items):\n    return sum(items)\n",
    "src/shop/api/cart.py": "def view():\n    return 1\n",
    "src/billing/cart.py": "def charge():\n    return 2\n",
    "web/src/components/Button.tsx": "export const Button = () => null;\n",
    "vendor/requests/api.py": "def get():\n    pass\n",
    "json/decoder.py": "x = 1\n",
    "app/src/main/java/com/shop/Cart.java": "package com.shop;\nclass Cart {}\n",
    "etc/passwd": "not the real one\n",
}


@pytest.fixture
def repo(git_repo: GitRepoBuilder) -> tuple[RepoView, str]:
    sha = git_repo.commit("files", ALICE, "2024-01-01T00:00:00", dict(FILES))
    return RepoView(git_repo.root), sha


def _map(repo: tuple[RepoView, str], *frames: Frame, mapper: PathMapper | None = None) -> Evidence:
    view, sha = repo
    evidence = Evidence(
        trace=Trace(exceptions=(ExceptionInfo("E", "m", frames=frames),)), fingerprint="x", revision=sha
    )
    return (mapper or PathMapper((), (), ())).link(evidence, view)


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("/srv/app/src/shop/cart.py", "src/shop/cart.py"),
        ("/srv/app/src/shop/api/cart.py", "src/shop/api/cart.py"),
        ("C:\\deploy\\src\\billing\\cart.py", "src/billing/cart.py"),
        ("webpack:///./src/components/Button.tsx", "web/src/components/Button.tsx"),
        ("file:///srv/app/src/shop/cart.py", "src/shop/cart.py"),
        ("/srv/app/app/src/main/java/com/shop/Cart.java", "app/src/main/java/com/shop/Cart.java"),
    ],
)
def test_longest_suffix_match(repo: tuple[RepoView, str], reported: str, expected: str) -> None:
    frame = _map(repo, Frame(reported, "f", lineno=1)).trace.frames[0]
    assert frame.repo_path == expected
    assert frame.in_app is True


def test_ambiguous_basename_is_reported_not_guessed(repo: tuple[RepoView, str]) -> None:
    evidence = _map(repo, Frame("cart.py", "f", lineno=1))
    assert evidence.trace.frames[0].repo_path is None
    assert any("matches several files" in w and "path mapping" in w for w in evidence.warnings)


def test_ambiguity_resolved_by_roots_other_frames_reveal(repo: tuple[RepoView, str]) -> None:
    frames = (Frame("/deploy/src/shop/__init__.py", "f", lineno=1), Frame("/deploy/src/shop/cart.py", "g", lineno=1))
    mapped = _map(repo, *frames).trace.frames
    assert [f.repo_path for f in mapped] == ["src/shop/__init__.py", "src/shop/cart.py"]


def test_explicit_mapping_wins(repo: tuple[RepoView, str]) -> None:
    mapper = PathMapper((PathMapping(stack_root="/app/", source_root="src/billing/"),), (), ())
    frame = _map(repo, Frame("/app/cart.py", "f", lineno=1), mapper=mapper).trace.frames[0]
    assert frame.repo_path == "src/billing/cart.py"


def test_module_fallback(repo: tuple[RepoView, str]) -> None:
    frame = _map(repo, Frame("<frozen?>", "total", module="shop.cart", lineno=1)).trace.frames[0]
    assert frame.repo_path == "src/shop/cart.py"
    java = _map(repo, Frame("Cart.java", "run", module="com.shop.Cart", lineno=1)).trace.frames[0]
    assert java.repo_path == "app/src/main/java/com/shop/Cart.java"


def test_a_frame_sentrys_raw_view_names_by_module_maps_to_its_file(repo: tuple[RepoView, str]) -> None:
    raw_view = 'Traceback (most recent call last):\n  Module "shop.cart", line 2, in total\nTypeError: bad operand\n'
    frames = parse_trace(raw_view).exceptions[0].frames
    frame = _map(repo, *frames).trace.frames[0]
    assert (frame.repo_path, frame.function, frame.in_app) == ("src/shop/cart.py", "total", True)


@pytest.mark.parametrize(
    "reported",
    [
        "/usr/lib/python3.11/json/decoder.py",
        "/usr/local/lib/python3.11/site-packages/requests/api.py",
        "/app/node_modules/react/index.js",
        "<frozen importlib._bootstrap>",
        "node:internal/modules/cjs/loader",
        "/usr/local/go/src/runtime/panic.go",
    ],
)
def test_standard_library_and_third_party_are_not_ours(repo: tuple[RepoView, str], reported: str) -> None:
    frame = _map(repo, Frame(reported, "f", lineno=1)).trace.frames[0]
    assert frame.repo_path is None
    assert frame.in_app is False


def test_site_packages_of_our_own_package_is_ours(repo: tuple[RepoView, str]) -> None:
    frame = _map(repo, Frame("/usr/local/lib/python3.11/site-packages/shop/cart.py", "f", lineno=1)).trace.frames[0]
    assert frame.repo_path == "src/shop/cart.py" and frame.in_app is True


@pytest.mark.parametrize("root", ["", "src/"])
@pytest.mark.parametrize(
    "reported",
    [
        "/usr/local/lib/python3.11/site-packages/tomlish.py",
        "C:\\Python311\\Lib\\site-packages\\tomlish.py",
        "/home/u/.local/lib/python3.10/site-packages/tomlish.py",
    ],
)
def test_a_single_module_distribution_installed_is_ours(git_repo: GitRepoBuilder, root: str, reported: str) -> None:
    # A library shipped as one module (site-packages/tomlish.py) whose repository tracks tomlish.py.
    sha = git_repo.commit("module", ALICE, "2024-01-01T00:00:00", {f"{root}tomlish.py": "def loads(s):\n    1/0\n"})
    frame = _map((RepoView(git_repo.root), sha), Frame(reported, "loads", lineno=2)).trace.frames[0]
    assert frame.repo_path == f"{root}tomlish.py" and frame.in_app is True


@pytest.mark.parametrize(
    "reported",
    [
        "/usr/local/lib/python2.7/site-packages/Shop-1.0-py2.7.egg/shop/cart.py",
        "C:\\Python27\\lib\\site-packages\\shop-1.0-py2.7.egg\\shop\\cart.py",
    ],
)
def test_our_package_installed_as_an_egg_is_ours(repo: tuple[RepoView, str], reported: str) -> None:
    frame = _map(repo, Frame(reported, "f", lineno=1)).trace.frames[0]
    assert frame.repo_path == "src/shop/cart.py" and frame.in_app is True


def test_a_third_party_egg_stays_foreign(repo: tuple[RepoView, str]) -> None:
    # vendor/requests/api.py is tracked: an egg of requests must not be taken for it.
    reported = "/usr/lib/python2.7/site-packages/requests-2.0-py2.7.egg/requests/api.py"
    frame = _map(repo, Frame(reported, "f", lineno=1)).trace.frames[0]
    assert frame.repo_path is None and frame.in_app is False


def test_a_third_party_single_module_stays_foreign(repo: tuple[RepoView, str]) -> None:
    frame = _map(repo, Frame("/usr/local/lib/python3.11/site-packages/six.py", "f", lineno=1)).trace.frames[0]
    assert frame.repo_path is None and frame.in_app is False


def test_vendored_and_excluded_code_is_mapped_but_not_in_app(repo: tuple[RepoView, str]) -> None:
    frame = _map(repo, Frame("/srv/app/vendor/requests/api.py", "get", lineno=1)).trace.frames[0]
    assert frame.repo_path == "vendor/requests/api.py" and frame.in_app is False
    mapper = PathMapper((), (), ("src/billing",))
    billing = _map(repo, Frame("/srv/app/src/billing/cart.py", "charge", lineno=1), mapper=mapper).trace.frames[0]
    assert billing.in_app is False


def test_jvm_frames_are_not_ours(repo: tuple[RepoView, str]) -> None:
    frame = _map(repo, Frame("Integer.java", "parseInt", module="java.base/java.lang.Integer", lineno=1)).trace.frames[
        0
    ]
    assert frame.repo_path is None and frame.in_app is False


@pytest.mark.parametrize(
    "reported",
    ["/srv/app/../../etc/shadow", "~/.ssh/id_rsa", "/proc/self/environ", "/srv/app/a\0b.py", "/srv/app/a\nb.py", ""],
)
def test_paths_aimed_outside_map_to_nothing(repo: tuple[RepoView, str], reported: str) -> None:
    frame = _map(repo, Frame(reported, "f", lineno=1)).trace.frames[0]
    assert frame.repo_path is None


def test_a_repository_file_named_like_a_system_file_is_only_the_repositorys(repo: tuple[RepoView, str]) -> None:
    view, sha = repo
    frame = _map(repo, Frame("/etc/passwd", "f", lineno=1)).trace.frames[0]
    assert frame.repo_path == "etc/passwd"
    assert view.read_text("etc/passwd", sha) == "not the real one\n"


def test_unmapped_in_app_frames_from_sentry_stay_in_app_with_a_hint(repo: tuple[RepoView, str]) -> None:
    evidence = _map(repo, Frame("/srv/app/missing/thing.py", "f", lineno=1, in_app=True))
    frame = evidence.trace.frames[0]
    assert frame.in_app is True and frame.repo_path is None
    assert any("add a path mapping" in w for w in evidence.warnings)


def test_alignment_when_the_code_moved(git_repo: GitRepoBuilder) -> None:
    sha = git_repo.commit(
        "moved", ALICE, "2024-01-01T00:00:00", {"m.py": "import os\nimport sys\n\n\ndef f():\n    return 1 / 0\n"}
    )
    view = RepoView(git_repo.root)
    frames = (
        Frame("/srv/app/m.py", "f", lineno=3, context_line="return 1 / 0"),  # the code moved 3 lines down
        Frame("/srv/app/m.py", "f", lineno=6, context_line="return 1 / 0"),
        Frame("/srv/app/m.py", "f", lineno=2, context_line="something that is gone"),
        Frame("/srv/app/m.py", "f", lineno=99),
    )
    evidence = Evidence(
        trace=Trace(exceptions=(ExceptionInfo("E", "m", frames=frames),)), fingerprint="x", revision=sha
    )
    mapped = PathMapper((), (), ()).link(evidence, view)
    got = [(f.repo_line, f.alignment) for f in mapped.trace.frames]
    assert got == [(6, "moved"), (6, "exact"), (2, "unaligned"), (None, "unchecked")]
    assert any("m.py:2" in w and "not in the file" in w for w in mapped.warnings)
    assert any("m.py:99" in w and "past the end" in w for w in mapped.warnings)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("webpack:///./src/a.ts", "/src/a.ts"),
        ("C:\\app\\x.py", "/app/x.py"),
        ("https://host/static/app.js?v=1#x", "/static/app.js"),
        ("/srv/app/../etc/x", "/srv/etc/x"),
        ("./a/b.py", "a/b.py"),
        ("", ""),
    ],
)
def test_normalise(raw: str, clean: str) -> None:
    assert normalise(raw) == clean


def test_no_revision_is_a_warning(repo: tuple[RepoView, str]) -> None:
    view, _ = repo
    evidence = Evidence(trace=Trace(exceptions=(ExceptionInfo("E", "m"),)), fingerprint="x")
    assert PathMapper((), (), ()).link(evidence, view).warnings


def test_index_is_built_from_tracked_files_only(repo: tuple[RepoView, str], tmp_path: Path) -> None:
    view, _ = repo
    (view.root / "src" / "shop" / "untracked.py").write_text("x = 1\n")
    frame = _map(repo, Frame("/srv/app/src/shop/untracked.py", "f", lineno=1)).trace.frames[0]
    assert frame.repo_path is None
