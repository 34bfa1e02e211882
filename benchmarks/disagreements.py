"""Where incidentbot's first suspect and plain deepest-frame blame name different commits, who was right, and
why incidentbot did not lead with blame's commit. ``make bench`` puts the table into its accuracy section;

    python -m benchmarks.disagreements [--cases DIR] [--repos-dir DIR]

prints it on its own (it runs only the deepest-frame baseline, in a minute or two).

SZZ labels come from ``git blame -w`` of the lines a fix changed, the same blame the baseline runs; where that
blame stops at a commit that only reformatted the line, both name the reformatting commit, while incidentbot
blames past it to the commit that wrote the code. The table makes that visible, case by case.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.baselines import TraceInput, deepest_frame_blame
from benchmarks.checkouts import checkout, clone_once, git
from benchmarks.features import CORPUS_DIR, CaseRows, load_corpus, rows_for_all, section_command
from benchmarks.fit import CaseScore, cross_validate

log = logging.getLogger(__name__)

IGNORED = "listed in the repository's `.git-blame-ignore-revs`: incidentbot blames past it"
COSMETIC = "only reformatted the failing line (incidentbot's cosmetic test): incidentbot blames past it"
OTHER = "incidentbot ranked another commit first"


def why_not_ours(blame_sha: str, case: CaseRows, ignore_revs: set[str]) -> str:
    """Why incidentbot did not lead with the commit plain blame names."""
    if blame_sha in ignore_revs:
        return IGNORED
    theirs = next((s["features"] for s in case.suspects if s["sha"] == blame_sha), None)
    ours = any(s["features"].get("exact_deepest") for s in case.suspects)
    if theirs is not None and (theirs.get("cosmetic_only") or (ours and not theirs.get("exact_deepest"))):
        return COSMETIC  # blame of the failing line went past it to the commit that wrote the code
    return OTHER


def section(
    rows: Sequence[CaseRows],
    cv: dict[str, CaseScore],
    deepest: dict[str, str | None],
    bic: dict[str, set[str]],
    facts: dict[str, tuple[set[str], dict[str, str]]],
) -> list[str]:
    """``deepest``: case id → the commit deepest-frame blame names; ``facts``: case id → (the commits of its
    ``.git-blame-ignore-revs``, sha → subject line)."""
    ours_right: list[tuple[CaseRows, str]] = []
    blame_right: list[tuple[CaseRows, str, str]] = []
    neither = 0
    for case in rows:
        first, theirs = cv[case.id].first, deepest.get(case.id)
        if first == theirs:
            continue
        we, they = first in bic[case.id], theirs in bic[case.id]
        if we and not they:
            ours_right.append((case, first or ""))
        elif they and not we:
            ignore_revs, _ = facts[case.id]
            blame_right.append((case, theirs or "", why_not_ours(theirs or "", case, ignore_revs)))
        else:
            neither += 1
    differ = len(ours_right) + len(blame_right) + neither
    reasons = [why for _, _, why in blame_right]
    out = [
        "### Where incidentbot's first suspect and deepest-frame blame disagree (cross-validated, `bic`)",
        "",
        f"Of {len(rows)} cases they name different commits in {differ}: incidentbot is right in "
        f"{len(ours_right)}, deepest-frame blame in {len(blame_right)}, neither in {neither}. "
        "SZZ labels are `git blame -w` of the fixed lines, the same blame as the baseline: where it stops at a "
        "commit that only reformatted a line, the label and the baseline name that commit, and incidentbot, "
        "which blames past it to the commit that wrote the code, counts as wrong.",
        "",
    ]
    if blame_right:
        out += [
            f"Blame right ({len(blame_right)}): {reasons.count(IGNORED)} listed in `.git-blame-ignore-revs`, "
            f"{reasons.count(COSMETIC)} judged a reformat, {reasons.count(OTHER)} ranked below another commit.",
            "",
            "| case | commit deepest-frame blame names | its subject | why incidentbot did not lead with it |",
            "|---|---|---|---|",
        ]
        for case, sha, why in blame_right:
            out.append(f"| {case.id} | {sha[:10]} | {_cell(facts[case.id][1].get(sha, ''))} | {why} |")
        out.append("")
    if ours_right:
        out += [
            f"incidentbot right ({len(ours_right)}):",
            "",
            "| case | incidentbot's first suspect | its subject |",
            "|---|---|---|",
        ]
        for case, sha in ours_right:
            out.append(f"| {case.id} | {sha[:10]} | {_cell(facts[case.id][1].get(sha, ''))} |")
        out.append("")
    return out


def repository_facts(clone: Path, head: str, shas: Sequence[str]) -> tuple[set[str], dict[str, str]]:
    """The full shas of ``.git-blame-ignore-revs`` at ``head`` and the subject line of each of ``shas``."""
    listed = git(clone, "show", f"{head}:.git-blame-ignore-revs", check=False)
    ignore = {line.strip() for line in listed.splitlines() if line.strip() and not line.startswith("#")}
    subjects = {}
    for sha in shas:
        subjects[sha] = git(clone, "show", "-s", "--format=%s", sha, check=False).strip()
    return ignore, subjects


def _cell(text: str) -> str:
    return text.replace("|", "\\|")[:70]


def run(repos: Path, cases_dir: Path = CORPUS_DIR) -> list[str]:
    raw = load_corpus(cases_dir)
    rows = rows_for_all(raw, repos)
    cv = {s.id: s for s in cross_validate(rows)}
    deepest: dict[str, str | None] = {}
    for case, clone in checked_out(raw, repos):
        answer = deepest_frame_blame(TraceInput.read(clone, case["trace"], datetime.fromisoformat(case["head_time"])))
        deepest[case["id"]] = answer.commits[0] if answer.commits else None
    return section_for(raw, rows, cv, deepest, repos)


def section_for(
    raw: Sequence[dict[str, Any]],
    rows: Sequence[CaseRows],
    cv: dict[str, CaseScore],
    deepest: dict[str, str | None],
    repos: Path,
) -> list[str]:
    """The section, reading each case's ignore list and commit subjects from its clone."""
    facts = {}
    for case, clone in checked_out(raw, repos, check_out=False):
        named = [sha for sha in (deepest.get(case["id"]), cv[case["id"]].first) if sha]
        facts[case["id"]] = repository_facts(clone, case["head"], named)
    return section(rows, cv, deepest, {c["id"]: set(c["bic"]) for c in raw}, facts)


def checked_out(
    raw: Sequence[dict[str, Any]], repos: Path, check_out: bool = True
) -> Iterator[tuple[dict[str, Any], Path]]:
    """Each case with its repository's isolated clone (``benchmarks/work/repos``), at its head if asked."""
    clones: dict[str, Path] = {}
    for case in raw:
        repo = case["repo"]
        if repo not in clones:
            clones[repo] = clone_once(repo, repos, [c["head"] for c in raw if c["repo"] == repo])
        if check_out:
            checkout(clones[repo], case["head"])
        yield case, clones[repo]


def main(argv: Sequence[str] | None = None) -> int:
    return section_command(__doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
