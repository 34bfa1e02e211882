"""SZZ on a real fix: which commits last changed the lines the fix changed (the benchmark corpus's procedure,
and what ``incidentbot learn`` labels a resolved incident with).

- ``modified``: the fix changed or deleted existing source lines; ``git blame -w`` of those lines at the fix's
  parent gives the bug-inducing commits.
- ``add-only``: the fix only added lines; the non-blank lines just above and below each insertion stand in
  (a weaker truth).
Test files, blank lines, comments and lone brackets are left out. ``bic_refined`` adds, for every SZZ
culprit that only reformatted the blamed line (same text once whitespace is removed and quotes unified), the
commit that wrote the line (followed up to three reformattings back), and, where an SZZ culprit is listed in the
repository's own ``.git-blame-ignore-revs`` (a formatting sweep), the commit blame finds past it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from unidiff.patch import Hunk, PatchSet

from linkers.codekind import is_test_path
from linkers.scope import enclosing_scope

SOURCE_SUFFIXES = (".py", ".java")
_SKIP_LINE = re.compile(r"^\s*(#|//|/\*|\*|\"\"\"|'''|$)|^\s*[{}()\[\];,]*\s*$")
_TEST_EXTRA = re.compile(r"(^|/)(src/test/|conftest\.py$|test/)")


@dataclass(frozen=True)
class SzzResult:
    bic: list[str]
    bic_refined: list[str]
    kind: str  # "modified" | "add-only"
    fix_locations: list[dict[str, object]]


def git(git_dir: Path, *args: str) -> str:
    """``git --git-dir GIT_DIR ARGS``' output; RuntimeError with git's message when it fails."""
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, errors="replace", check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])}: {done.stderr.strip()[:300]}")
    return done.stdout


def is_source(path: str) -> bool:
    """A Python or Java source file, not a test."""
    return path.endswith(SOURCE_SUFFIXES) and not is_test_path(path) and not _TEST_EXTRA.search(path)


def normalise(text: str) -> str:
    """The code with whitespace removed and quotes unified: equal for a line that was only reformatted."""
    return "".join(text.split()).replace("'", '"').rstrip(",")


def szz(git_dir: Path, fix: str, parent: str | None = None, patch: str | None = None) -> SzzResult | None:
    """SZZ for ``fix`` against ``parent`` (default ``fix^``); ``patch`` (a unified diff parent→fix) replaces
    the commit's own diff, e.g. a minimised fix such as Defects4J's. None when the fix changed no source line."""
    parent = parent or git(git_dir, "rev-parse", f"{fix}^").strip()
    text = patch if patch is not None else git(git_dir, "diff", "-U0", "--no-renames", parent, fix, "--")
    removed: dict[str, set[int]] = {}
    neighbours: dict[str, set[int]] = {}
    locations: list[dict[str, object]] = []
    for pf in PatchSet(text):
        path = (pf.source_file or "").removeprefix("a/")
        if pf.is_added_file or not is_source(path):
            continue
        old = git(git_dir, "show", f"{parent}:{path}").splitlines()
        changed: set[int] = set()
        for hunk in pf:
            gone = [ln.source_line_no for ln in hunk if ln.is_removed and ln.source_line_no]
            keep = [n for n in gone if not _SKIP_LINE.match(old[n - 1])]
            removed.setdefault(path, set()).update(keep)
            changed.update(gone)
            if not any(ln.is_removed for ln in hunk) and any(ln.is_added for ln in hunk):
                for at in _insertion_points(hunk):  # source line after which lines go (0 = at the top)
                    changed.add(max(1, at))
                    for n in _nearest_code(old, at):
                        neighbours.setdefault(path, set()).add(n)
        functions: dict[str, list[int]] = {}
        lines = tuple(old)
        for n in sorted(changed):
            scope = enclosing_scope(lines, n, path)
            functions.setdefault(scope.name if scope else "", []).append(n)
        locations += [{"path": path, "function": name, "lines": ns} for name, ns in functions.items()]
    kind = "modified" if any(removed.values()) else "add-only"
    targets = removed if kind == "modified" else neighbours
    bic: list[str] = []
    refined: list[str] = []
    ignored = _ignored_revs(git_dir, parent)
    for path, numbers in sorted(targets.items()):
        for number in sorted(numbers):
            sha, orig_path, orig_line = blame_line(git_dir, parent, path, number)
            if sha not in bic:
                bic.append(sha)
            writers = _writers_past_reformatting(git_dir, sha, orig_path, orig_line)
            if sha in ignored:  # a commit the repository itself lists as cosmetic (.git-blame-ignore-revs)
                writers.append(blame_line(git_dir, parent, path, number, ignored)[0])
            for writer in writers:
                if writer not in refined:
                    refined.append(writer)
    if not bic:
        return None
    return SzzResult(bic, bic + [s for s in refined if s not in bic], kind, locations)


def _insertion_points(hunk: Hunk) -> list[int]:
    """The source line after which each run of added lines goes: ``source_start`` in a ``-U0`` hunk, else the
    last context line before the run (a hunk with context starts at its first context line)."""
    points: list[int] = []
    last = hunk.source_start if hunk.source_length == 0 else hunk.source_start - 1
    previous_added = False
    for ln in hunk:
        if ln.is_added and not previous_added:
            points.append(last)
        elif not ln.is_added and ln.source_line_no:
            last = ln.source_line_no
        previous_added = ln.is_added
    return points


def _nearest_code(old: list[str], after: int) -> list[int]:
    """The nearest non-blank, non-comment line above and below an insertion after line ``after``."""
    found = []
    for numbers in (range(after, 0, -1), range(after + 1, len(old) + 1)):
        n = next((n for n in numbers if not _SKIP_LINE.match(old[n - 1])), None)
        if n is not None:
            found.append(n)
    return found


def _ignored_revs(git_dir: Path, rev: str) -> frozenset[str]:
    """The full hashes the repository's ``.git-blame-ignore-revs`` lists at ``rev`` (empty when it has none)."""
    try:
        text = git(git_dir, "show", f"{rev}:.git-blame-ignore-revs")
    except RuntimeError:
        return frozenset()
    return frozenset(line.split()[0] for line in text.splitlines() if re.match(r"^[0-9a-f]{40}\b", line))


def blame_line(
    git_dir: Path, rev: str, path: str, number: int, ignore: frozenset[str] = frozenset()
) -> tuple[str, str, int]:
    """(commit, its path for the file, its line number) that last changed ``path:number`` at ``rev``, ``-w``;
    ``ignore``: commits to blame past (as ``git blame --ignore-rev``)."""
    skip = [arg for sha in sorted(ignore) for arg in ("--ignore-rev", sha)]
    out = git(git_dir, "blame", "-w", *skip, "--porcelain", "-L", f"{number},{number}", rev, "--", path)
    first = out.splitlines()[0].split()
    sha, orig_line = first[0], int(first[1])
    orig_path = path
    for line in out.splitlines():
        if line.startswith("filename "):
            orig_path = line[len("filename ") :]
    return sha, orig_path, orig_line


def _writers_past_reformatting(git_dir: Path, sha: str, path: str, line: int, depth: int = 3) -> list[str]:
    """Where ``sha`` only reformatted ``path:line``, the commit that wrote that line (recursively)."""
    if depth == 0:
        return []
    try:
        text = git(git_dir, "show", f"{sha}:{path}").splitlines()
        parents = git(git_dir, "rev-list", "--parents", "-n", "1", sha).split()[1:]
    except RuntimeError:
        return []
    if not parents or not 0 < line <= len(text):
        return []
    code = normalise(text[line - 1])
    if len(code) < 4:
        return []
    try:
        diff = git(git_dir, "diff", "-U0", "--no-renames", parents[0], sha, "--", path)
    except RuntimeError:
        return []
    for pf in PatchSet(diff):
        for hunk in pf:
            added = [ln for ln in hunk if ln.is_added and ln.target_line_no == line]
            if not added:
                continue
            for ln in hunk:
                if ln.is_removed and normalise(ln.value) == code and ln.source_line_no:
                    try:
                        writer, orig_path, orig_line = blame_line(git_dir, parents[0], path, ln.source_line_no)
                    except RuntimeError:
                        return []
                    return [writer, *_writers_past_reformatting(git_dir, writer, orig_path, orig_line, depth - 1)]
    return []
