"""Still more Python regressions mined with :mod:`benchmarks.corpus.mine`'s procedure (``mine.run``): fix
commits whose new test fails at the parent with an exception in project code and passes at the fix; bisection
labels the culprit, SZZ when bisection is inconclusive.

Projects here: pygments, jedi, w3lib, cattrs, more-itertools (starlette is mined by ``mine_more``).
Per-project notes:
- pygments: most lexer fixes add snippet/example files (``tests/snippets/*.txt``) collected by a conftest hook,
  not ``test*`` functions, so only fixes with a Python test qualify; commits whose ``external/pyodide``
  blobs the mirror lacks cannot be checked out and count as errors.
- jedi: its typeshed and django-stubs are git submodules the mirror's worktree lacks; after every checkout
  the directories are filled with links to those of a released jedi (the venv's for commits using typeshed's
  ``stubs/`` layout, 0.19.2's for older ones), so the typeshed may be newer or older than the commit's own;
  parso is the latest 0.8.x.
- cattrs uses a ``src/`` layout; pytest's ``pythonpath`` ini option puts ``src`` on ``sys.path``; its tests
  run with hypothesis' "fast" profile (``FAST=1``, 10 examples), so a crash found only by a longer search
  is missed.
- w3lib's tests before 2020 import ``six``.

Limits: those of ``mine`` (one venv per project, Python 3.11, commits needing other dependencies skipped).
Scratch lives under /tmp/corpus-mine_extra/ (``mine.SCRATCH`` is redirected there; paths are per project).

    python -m benchmarks.corpus.mine_extra --project pygments [--limit N] [--mirror DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

from benchmarks.corpus import mine
from benchmarks.corpus.mine import ProjectConfig, run

SCRATCH = Path("/tmp/corpus-mine_extra")

EXTRA_PROJECTS: dict[str, ProjectConfig] = {
    "pygments": ProjectConfig(
        "pygments",
        "pygments/pygments",
        "pygments",
        ("tests/",),
        ("pytest", "wcag-contrast-ratio", "lxml"),
        since="2018-01-01",
    ),
    "jedi": ProjectConfig(
        "jedi",
        "davidhalter/jedi",
        "jedi",
        ("test/",),
        ("pytest", "parso>=0.8.3,<0.9.0", "jedi", "docopt", "colorama", "attrs"),
    ),
    "w3lib": ProjectConfig(
        "w3lib", "scrapy/w3lib", "w3lib", ("tests/",), ("pytest", "six"), since="2018-01-01"
    ),  # six: tests before 2020
    "cattrs": ProjectConfig(
        "cattrs",
        "python-attrs/cattrs",
        "src/cattr",  # prefix of both src/cattr/ and src/cattrs/
        ("tests/",),
        (
            "pytest",
            "pytest-benchmark",
            "hypothesis",
            "attrs",
            "immutables",
            "typing_extensions",
            "exceptiongroup",
            "ujson",
            "orjson",
            "msgpack",
            "pyyaml",
            "tomlkit",
            "cbor2",
            "pymongo",
            "msgspec",
        ),
        pytest_args=("-o", "pythonpath=src"),
    ),
    "more-itertools": ProjectConfig(
        "more-itertools",
        "more-itertools/more-itertools",
        "more_itertools",
        ("tests/",),
        ("pytest",),
        since="2019-01-01",
    ),
}


def _jedi_site(wt: Path) -> Path:
    """Where to take the submodules from: jedi 0.20's layout (``typeshed/stubs``) or jedi 0.19.2's (older)."""
    typeshed_py = wt / "jedi" / "inference" / "gradual" / "typeshed.py"
    if typeshed_py.exists() and 'joinpath("stubs")' in typeshed_py.read_text(errors="replace"):
        return next((SCRATCH / "jedi" / "lib").glob("python3*/site-packages"))
    old = SCRATCH / "jedi-0.19"
    if not (old / "jedi").is_dir():
        pip = SCRATCH / "jedi" / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "--no-deps", "--target", str(old), "jedi==0.19.2"], check=True)
    return old


def _link_jedi_submodules(wt: Path) -> None:
    """Fill the worktree's submodule directories with links to a released jedi's.

    The links go inside the directories (git leaves a submodule path's content alone through checkout,
    clean and bisect), not in their place (git refuses a symbolic link at a submodule path)."""
    site = _jedi_site(wt)
    for name in ("typeshed", "django-stubs"):
        target = wt / "jedi" / "third_party" / name
        source = site / "jedi" / "third_party" / name
        target.mkdir(parents=True, exist_ok=True)
        links = sorted(target.iterdir())
        if [p.name for p in links] == sorted(c.name for c in source.iterdir()) and all(
            p.is_symlink() and p.readlink().parent == source for p in links
        ):
            continue
        for link in links:
            if link.is_symlink():
                link.unlink()
        for child in source.iterdir():
            (target / child.name).symlink_to(child)


def _with_jedi_submodules() -> None:
    """Wrap ``mine.overlay`` (run after every checkout, bisection steps included) to link the submodules."""
    plain = mine.overlay

    def overlay(wt: Path, rev: str | None, files: list[str]) -> None:
        plain(wt, rev, files)
        _link_jedi_submodules(wt)

    mine.overlay = overlay  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--project", required=True, choices=sorted(EXTRA_PROJECTS))
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args()
    mine.SCRATCH = SCRATCH  # keep clear of the other miners' scratch
    if args.project == "jedi":
        _with_jedi_submodules()
    if args.project == "cattrs":
        os.environ["FAST"] = "1"  # cattrs' conftest: hypothesis profile with 10 examples
    stats = run(EXTRA_PROJECTS[args.project], args.mirror, args.limit)
    print(json.dumps(stats.__dict__, indent=1))


if __name__ == "__main__":
    main()
