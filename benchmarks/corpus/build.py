"""Rebuild the whole training corpus (``benchmarks/cases/``) from public sources, one source after another,
then check it: every case well-formed, no reserved project, no two cases from the same fix.

    python -m benchmarks.corpus.build [--mirror DIR] [--only SOURCE ...] [--check]

Each source is its own module with its own CLI (see ``benchmarks/corpus/README.md``); this runs them with
their defaults. ``--check`` only checks the cases already there. The repositories come from ``--mirror``
(``OWNER+NAME/repo`` bare copies, as the fetch tool lays them); building the Python cases runs each project's
tests in virtualenvs under ``/tmp/corpus-*`` and takes hours on two cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks.corpus.case import CASES_DIR, REQUIRED, load_all

# (source, module, arguments): run in this order; the limits are the ones the corpus was built with.
STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("shared", "benchmarks.corpus.shared_cases", ()),
    ("defects4j", "benchmarks.corpus.defects4j", ()),
    ("bugsinpy", "benchmarks.corpus.bugsinpy", ()),
    *(("mine", "benchmarks.corpus.mine", ("--project", p, "--limit", "300")) for p in ("astroid", "pint")),
    ("mine", "benchmarks.corpus.mine_more", ("--project", "networkx", "--limit", "110")),
    *(("mine", "benchmarks.corpus.mine_more", ("--project", p)) for p in ("markdown-it-py", "werkzeug", "starlette")),
    ("mine", "benchmarks.corpus.mine_extra", ("--project", "pygments", "--limit", "130")),
    *(
        ("mine", "benchmarks.corpus.mine_extra", ("--project", p))
        for p in ("jedi", "more-itertools", "cattrs", "w3lib")
    ),
)
#: Projects kept out of the corpus: an independent check measures the ranking on them.
RESERVED = frozenset(
    {
        *("black", "luigi", "thefuck", "tornado", "youtube-dl", "arrow", "freezegun", "fuzz-lightyear", "html2text"),
        *("isort", "jinja", "leo-editor", "python-markdown", "markdown", "pip-tools", "sqlparse", "toml", "tomlkit"),
        *("click", "flask", "requests", "httpx", "rich", "poetry", "pip", "pytest", "sphinx", "attrs"),
        *("marshmallow", "alembic", "tabulate", "dateutil", "python-dateutil", "flake8"),
        *("lang", "math", "time", "closure", "mockito", "jacksoncore", "jacksondatabind", "jsoup", "compress"),
    }
)


def check(directory: Path = CASES_DIR) -> list[str]:
    """Problems with the corpus as it stands, one line each (empty: fine)."""
    problems: list[str] = []
    fixes: Counter[tuple[str, str]] = Counter()
    for case in load_all(directory):
        ident = case.get("id", "?")
        missing = [key for key in (*REQUIRED, "project", "language", "label_source") if key not in case]
        if missing:
            problems.append(f"{ident}: missing {', '.join(missing)}")
            continue
        if case["project"].lower() in RESERVED or case["repo"].split("/")[-1].lower() in RESERVED:
            problems.append(f"{ident}: {case['project']} is reserved for the independent check")
        if not case["bic"]:
            problems.append(f"{ident}: no bug-inducing commit")
        if case["label_source"] not in ("szz", "bisect"):
            problems.append(f"{ident}: label_source {case['label_source']!r}")
        fixes[(case["repo"], case["fix"])] += 1
    problems += [f"{repo} fix {fix[:10]}: {n} cases" for (repo, fix), n in fixes.items() if n > 1]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--only", nargs="*", choices=sorted({s for s, _, _ in STEPS}), default=None)
    parser.add_argument("--check", action="store_true", help="only check the cases already built")
    args = parser.parse_args(argv)
    if not args.check:
        for source, module, extra in STEPS:
            if args.only and source not in args.only:
                continue
            command = [sys.executable, "-m", module, *extra, "--mirror", str(args.mirror)]
            print("$", " ".join(command[1:]), flush=True)
            subprocess.run(command, check=False)
    problems = check()
    cases = load_all()
    by_project = Counter(c.get("project", "?") for c in cases)
    print(
        f"{len(cases)} cases, {len(by_project)} projects: "
        + ", ".join(f"{p} {n}" for p, n in sorted(by_project.items()))
    )
    for line in problems:
        print("problem:", line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
