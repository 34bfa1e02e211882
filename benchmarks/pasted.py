"""Pasted traces: each corpus trace triaged as a user pastes one from an issue, in a clone at the repository's
newest commit (the code has moved on since the crash), with no --rev and no first-seen.

Three answers per case, the same shipped weights for all:
- ``case revision``: --rev at the case's own head, what the accuracy benchmark measures (the ceiling here);
- ``HEAD``: --rev at the clone's newest commit, which is what the revision chosen by time gives a pasted trace
  when its running code is not recognised;
- ``recognised``: no --rev, so incidentbot recognises the running code by the trace's source lines
  (linkers/running_revision.py).

    python -m benchmarks.pasted --repos-dir ../.mirror

Clones go to benchmarks/work/latest/ (no work tree: triage reads git's objects).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.checkouts import WORK_DIR, find_source, repos_dir
from benchmarks.features import CORPUS_DIR
from incidentbot.parse import parse_trace
from incidentbot.pipeline import link, open_repo
from incidentbot.settings import Settings

log = logging.getLogger(__name__)
LATEST = WORK_DIR / "latest"
MODES = ("case revision", "HEAD", "recognised")


def latest_clone(repo: str, local: Path) -> Path:
    target = LATEST / repo.replace("/", "+")
    if not target.exists():
        source = find_source(repo, local)
        subprocess.run(["git", "clone", "-q", "--no-checkout", source, str(target)], check=True)
    return target


def suspects(case: dict[str, Any], clone: Path, rev: str | None) -> list[str]:
    """The suspects' commits, best first; a failure is a miss, never the end of the run."""
    open_repo.cache_clear()
    settings = Settings(repo=clone, rev=rev)
    try:
        evidence = link(parse_trace(case["trace"], settings.limits), settings, now=datetime.now(tz=UTC))
    except Exception as exc:
        log.warning("%s: %s: %s", case["id"], type(exc).__name__, exc)
        return []
    return [s.sha for s in evidence.suspects]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CORPUS_DIR)
    parser.add_argument("--repos-dir", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    local = repos_dir(args.repos_dir)
    cases = [json.loads(p.read_text()) for p in sorted(args.cases.glob("*.json"))]
    hits: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    for case in cases:
        clone = latest_clone(case["repo"], local)
        culprits = set(case["bic"])
        for mode, rev in zip(MODES, (case["head"], open_repo(clone.resolve()).head(), None), strict=True):
            found = suspects(case, clone, rev)
            top1, top3 = bool(found) and found[0] in culprits, bool(culprits & set(found[:3]))
            for group in (case["language"], "all"):
                hits[(group, mode)].append((top1, top3))
        log.info("%s done", case["id"])
    print("| cases | answer | top-1 | top-3 |\n|---|---|---|---|")
    for group in ("python", "java", "all"):
        for mode in MODES:
            rows = hits[(group, mode)]
            if rows:
                top1 = sum(a for a, _ in rows) / len(rows)
                top3 = sum(b for _, b in rows) / len(rows)
                print(f"| {group} ({len(rows)}) | {mode} | {top1:.2f} | {top3:.2f} |")


if __name__ == "__main__":
    main()
