"""Import the 20 shared accuracy cases (``../shared/bench/accuracy/cases/``) into ``benchmarks/cases/``.

Each case is copied unchanged and gains the corpus keys: ``project`` (the id's prefix), ``language``
"python", ``label_source`` "szz" and ``bic_refined`` (from ``szz`` on the case's fix). Where ``szz`` today
finds a different ``bic`` than the shared case, the shared ``bic`` is kept and the difference is printed.

Limits: needs each case's repository fetched as ``<mirror>/<owner>+<name>/repo``; a case whose repository is
missing is skipped with a message.

Usage: ``python -m benchmarks.corpus.shared_cases [--mirror DIR] [--shared DIR]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.corpus.case import CASES_DIR, CorpusCase, with_corpus_keys
from benchmarks.corpus.szz import szz

SHARED = Path(__file__).resolve().parents[3] / "shared" / "bench" / "accuracy" / "cases"


def shared_ids(shared: Path = SHARED) -> set[str]:
    """The ids of the shared cases (other capture scripts skip these)."""
    return {p.stem for p in shared.glob("*.json")}


def import_case(path: Path, mirror: Path, out: Path = CASES_DIR) -> str:
    """Copy one shared case into ``out`` with the corpus keys; returns a one-line status."""
    data = json.loads(path.read_text())
    git_dir = mirror / data["repo"].replace("/", "+") / "repo"
    if not git_dir.is_dir():
        return f"{data['id']}: skipped, no mirror at {git_dir}"
    result = szz(git_dir, data["fix"], parent=data["head"])
    note = "ok"
    refined = list(data["bic"])
    if result is None:
        note = "szz found no source line; bic_refined = bic"
    else:
        if sorted(result.bic) != sorted(data["bic"]):
            note = f"szz bic {result.bic} differs from shared bic {data['bic']} (kept shared)"
        refined += [s for s in result.bic_refined if s not in refined and s not in result.bic]
    case = CorpusCase(**(with_corpus_keys(data) | {"bic_refined": refined}))
    case.write(out)
    return f"{data['id']}: {note}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args()
    for path in sorted(args.shared.glob("*.json")):
        print(import_case(path, args.mirror))


if __name__ == "__main__":
    main()
