"""Recompute ``bic_refined`` of the Python cases already built (the labels' ``bic`` stays as captured), after a
change to how SZZ refines its labels; the Java cases get theirs by re-running ``benchmarks.corpus.defects4j``
(seconds). Python cases are not rebuilt: that would run every test again.

    python -m benchmarks.corpus.refine [--mirror DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.corpus.case import CASES_DIR
from benchmarks.corpus.szz import szz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args(argv)
    changed = 0
    for path in sorted(CASES_DIR.glob("*.json")):
        case = json.loads(path.read_text())
        if case.get("language") != "python" or case.get("label_source") != "szz":
            continue
        git_dir = args.mirror / case["repo"].replace("/", "+") / "repo"
        result = szz(git_dir, case["fix"], parent=case["head"])
        if result is None:
            continue
        refined = case["bic"] + [sha for sha in result.bic_refined if sha not in case["bic"]]
        if refined != case.get("bic_refined"):
            case["bic_refined"] = refined
            path.write_text(json.dumps(case, indent=1, ensure_ascii=False) + "\n")
            changed += 1
    print(f"bic_refined changed in {changed} case(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
