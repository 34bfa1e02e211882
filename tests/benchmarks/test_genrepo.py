"""The generated speed-benchmark repository is a valid, deterministic git repository of the requested size,
and the synthetic traces name real lines of it."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from benchmarks.genrepo import GenParams, generate
from benchmarks.plaintrace import parse_frames
from benchmarks.synthtrace import SpotIndex, function_lines, render

TINY = GenParams(commits=120, files=60, packages=4, authors=3, renames=2, seed=5)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_tiny_repo_has_the_requested_commits_and_files(tmp_path: Path) -> None:
    repo = generate(TINY, tmp_path / "gen")
    assert int(_git(repo, "rev-list", "--count", "HEAD")) == 120
    tracked = _git(repo, "ls-files").split()
    assert len(tracked) == 60
    _git(repo, "fsck", "--strict")
    assert _git(repo, "status", "--porcelain") == ""
    assert len(set(_git(repo, "log", "--format=%ae").split())) == 3
    assert len(_git(repo, "log", "--diff-filter=R", "-M", "--format=%H").split()) == 2
    for path in tracked:
        compile((repo / path).read_text(), path, "exec")


def test_same_parameters_give_the_same_history(tmp_path: Path) -> None:
    first = generate(TINY, tmp_path / "one")
    second = generate(TINY, tmp_path / "two")
    assert _git(first, "rev-parse", "HEAD") == _git(second, "rev-parse", "HEAD")
    other = generate(GenParams(commits=120, files=60, packages=4, authors=3, renames=2, seed=6), tmp_path / "x")
    assert _git(first, "rev-parse", "HEAD") != _git(other, "rev-parse", "HEAD")


def test_synthetic_trace_frames_name_real_function_lines(tmp_path: Path) -> None:
    repo = generate(TINY, tmp_path / "gen")
    spots = SpotIndex(repo).pick(random.Random(1), 12)
    assert len({spot.path for spot in spots}) == 12
    for frame in parse_frames(render(spots)):
        path = frame.path.removeprefix("/srv/app/")
        assert (repo / path).read_text().splitlines()[frame.line - 1].strip() == frame.code
        assert frame.function.startswith("step_")


def test_function_lines_skip_blank_comment_and_docstring_lines() -> None:
    text = (
        'import os\n\ndef outer(x):\n    """Doc."""\n    # note\n    y = x\n\n'
        "    def inner():\n        return y\n    return inner\n"
    )
    found = [(s.line, s.function, s.code) for s in function_lines("m.py", text)]
    assert found == [(6, "outer", "y = x"), (9, "inner", "return y"), (10, "outer", "return inner")]
