"""More Python regressions mined with :mod:`benchmarks.corpus.mine`'s procedure (``mine.run``): fix commits whose
new test fails at the parent with an exception in project code and passes at the fix; bisection labels the
culprit, SZZ when bisection is inconclusive.

Projects here: networkx, markdown-it-py, werkzeug, pypdf (and parsel, w3lib, starlette as alternatives).
Per-project notes:
- networkx keeps its tests next to the code (``networkx/**/tests/``); since ``mine`` matches test files by
  prefix, the test directories are collected from the repository's history before mining.
- werkzeug uses a ``src/`` layout; pytest's ``pythonpath`` ini option puts ``src`` on ``sys.path``.
- pypdf is mined from 2023 on (the package was ``PyPDF2`` before); tests that download files fail under
  ``pytest-socket`` outside project code and so do not qualify, nor do tests on the sample-files submodule.
  The fetched mirror lacks one blob (``resources/issue-604.pdf``), so no commit since 2022-05 can be checked
  out: the script stops with a message when a mirror has missing objects.
- starlette pins anyio 4.3.0 and python-multipart 0.0.12: later releases warn on names older code uses, and
  the suite turns warnings into errors.

Rebuilt as: networkx --limit 110, markdown-it-py --limit 80, werkzeug --limit 80, starlette --limit 80.

Limits: those of ``mine`` (one venv per project, Python 3.11, commits needing other dependencies skipped).
Scratch lives under /tmp/corpus-mine/<project> (``mine``'s per-project paths).

    python -m benchmarks.corpus.mine_more --project networkx [--limit N] [--mirror DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
from pathlib import Path

from benchmarks.corpus.mine import ProjectConfig, run

MORE_PROJECTS: dict[str, ProjectConfig] = {
    "networkx": ProjectConfig(
        "networkx",
        "networkx/networkx",
        "networkx",
        (),  # filled in by nested_test_dirs
        ("pytest", "numpy", "scipy"),
    ),
    "markdown-it-py": ProjectConfig(
        "markdown-it-py",
        "executablebooks/markdown-it-py",
        "markdown_it",
        ("tests/",),
        ("pytest", "pytest-regressions", "pytest-timeout", "mdurl", "linkify-it-py", "pyyaml", "attrs"),
        since="2020-01-01",
    ),
    "werkzeug": ProjectConfig(
        "werkzeug",
        "pallets/werkzeug",
        "src/werkzeug",
        ("tests/",),
        (
            "pytest",
            "pytest-timeout",
            "pytest-xprocess",
            "ephemeral-port-reserve",
            "cryptography",
            "watchdog",
            "markupsafe",
            "greenlet",
            "requests",
        ),
        since="2019-01-01",
        pytest_args=("-o", "pythonpath=src"),
    ),
    "pypdf": ProjectConfig(
        "pypdf",
        "py-pdf/pypdf",
        "pypdf",
        ("tests/",),
        ("pytest", "pytest-socket", "pytest-timeout", "pillow", "pycryptodome", "cryptography", "pyyaml", "fpdf2"),
        since="2023-01-01",
    ),
    "parsel": ProjectConfig(
        "parsel",
        "scrapy/parsel",
        "parsel",
        ("tests/",),
        ("pytest", "lxml", "cssselect", "jmespath", "w3lib", "packaging", "psutil"),
    ),
    "w3lib": ProjectConfig("w3lib", "scrapy/w3lib", "w3lib", ("tests/",), ("pytest",)),
    "starlette": ProjectConfig(
        "starlette",
        "encode/starlette",
        "starlette",
        ("tests/",),
        (
            "pytest",
            "anyio==4.3.0",  # later releases deprecate names older code uses (warnings are errors)
            "httpx",
            "itsdangerous",
            "jinja2",
            "python-multipart==0.0.12",  # provides `multipart` without a warning; newer code falls back to it
            "pyyaml",
            "trio",
            "typing_extensions",
            "requests",
        ),
    ),
}


def nested_test_dirs(git_dir: Path, cfg: ProjectConfig) -> tuple[str, ...]:
    """Every ``.../tests/`` directory under ``cfg.source_dir`` that a commit since ``cfg.since`` touched."""
    out = subprocess.run(
        [
            "git",
            "--git-dir",
            str(git_dir),
            "log",
            f"--since={cfg.since}",
            "--format=",
            "--name-only",
            "HEAD",
            "--",
            cfg.source_dir,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dirs = {path[: path.index("/tests/") + len("/tests/")] for path in out.splitlines() if "/tests/" in path}
    return tuple(sorted(dirs))


def missing_blobs(git_dir: Path) -> int:
    """How many objects reachable from HEAD the (partial) mirror lacks; any makes ``git checkout`` fail."""
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-list", "--objects", "--missing=print", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(line.startswith("?") for line in out.splitlines())


def configured(name: str, mirror: Path) -> ProjectConfig:
    cfg = MORE_PROJECTS[name]
    if not cfg.test_dirs:
        git_dir = mirror / cfg.repo.replace("/", "+") / "repo"
        cfg = dataclasses.replace(cfg, test_dirs=nested_test_dirs(git_dir, cfg))
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--project", required=True, choices=sorted(MORE_PROJECTS))
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args()
    cfg = configured(args.project, args.mirror)
    missing = missing_blobs(args.mirror / cfg.repo.replace("/", "+") / "repo")
    if missing:
        raise SystemExit(f"{cfg.repo}: the mirror lacks {missing} objects, so commits cannot be checked out")
    stats = run(cfg, args.mirror, args.limit)
    print(json.dumps(stats.__dict__, indent=1))


if __name__ == "__main__":
    main()
