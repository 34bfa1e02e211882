"""Java corpus cases from Defects4J trigger tests (Gson, Csv, Cli, Codec, Collections, JxPath, JacksonXml).

For every active bug of those projects (``framework/projects/<P>/active-bugs.csv`` in the Defects4J mirror):

1. The trace is the recorded stack trace of the first trigger test whose trace qualifies, kept whole (junit,
   reflection and ``Caused by:`` sections included). The *thrown exception* is the first one in the cause chain
   that has a frame outside JDK/junit/ant code (so JUnit's "Unexpected exception" wrapper yields its cause);
   its deepest such frame must lie in the project's main source directory (``dir-layout.csv``), else the test
   is rejected (test code, a dependency, or an assertion failure). ``exc_type`` is that exception's class.
2. The recorded line numbers belong to Defects4J's buggy version, which is ``revision.id.fixed`` with the
   minimised ``patches/<id>.src.patch`` applied (that patch runs fixed -> buggy). Each project frame's line is
   mapped to ``revision.id.buggy`` by a difflib line diff of the two versions of its file (equal lines, and in
   a replaced block the most similar line, ratio >= ``SIMILAR``). A case whose deepest project frame cannot be
   mapped is dropped; other unmappable project frames lose their line number (``(File.java)``).
3. Labels: ``szz`` on the minimised fix, turned into a unified diff ``revision.id.buggy`` -> "buggy plus the
   minimised fix" (the patch's hunks are carried over to ``revision.id.buggy`` by the same line mapping; a
   case whose fix hunks cannot be carried over is dropped).

Limits: Defects4J's post-checkout ``compile-errors`` patches are ignored (they only rewrite lines in place,
never shift them). Test frames keep their recorded numbers (they come from the fixed test file).

Run: ``python -m benchmarks.corpus.defects4j [--mirror DIR] [--only gson-5 ...] [--dry-run]``.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from unidiff import PatchSet

from benchmarks.corpus.case import CorpusCase, szz_case
from benchmarks.corpus.szz import is_source, szz

PROJECTS: dict[str, tuple[str, str]] = {  # Defects4J name -> (mirror dir, GitHub repo)
    "Gson": ("google+gson", "google/gson"),
    "Csv": ("apache+commons-csv", "apache/commons-csv"),
    "Cli": ("apache+commons-cli", "apache/commons-cli"),
    "Codec": ("apache+commons-codec", "apache/commons-codec"),
    "Collections": ("apache+commons-collections", "apache/commons-collections"),
    "JxPath": ("apache+commons-jxpath", "apache/commons-jxpath"),
    "JacksonXml": ("FasterXML+jackson-dataformat-xml", "FasterXML/jackson-dataformat-xml"),
}
D4J = "rjust+defects4j"
_LIBRARY = ("java.", "javax.", "sun.", "jdk.", "com.sun.", "junit.", "org.junit.", "org.apache.tools.ant.")
_ASSERTION = re.compile(r"^(junit\.framework\.|org\.junit\.|org\.opentest4j\.)")
_FRAME = re.compile(r"^\s+at (?P<cls>[\w$.]+)\.(?P<meth>[\w$<>]+)\((?P<file>[^:()]+?)(?::(?P<line>\d+))?\)\s*$")
SIMILAR = 0.5
_EXC = re.compile(r"^(?:Caused by: )?(?P<exc>[\w$.]+(?:Exception|Error|Throwable|Failure|[A-Z]\w*))(?::|$)")


class Reject(Exception):
    """A candidate that cannot become a case; the message is the reason (counted in the report)."""


@dataclass
class Frame:
    index: int  # line index in the trace
    cls: str
    file: str
    line: int | None


@dataclass
class Chained:
    exc: str
    frames: list[Frame]


def git(git_dir: Path, *args: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])}: {done.stderr.strip()[:200]}")
    return done.stdout


@lru_cache(maxsize=4096)
def show(git_dir: Path, rev: str, path: str) -> str | None:
    try:
        return git(git_dir, "show", f"{rev}:{path}")
    except RuntimeError:
        return None


@lru_cache(maxsize=256)
def tree(git_dir: Path, rev: str) -> frozenset[str]:
    return frozenset(git(git_dir, "ls-tree", "-r", "--name-only", rev).splitlines())


# --- trigger traces -----------------------------------------------------------------------------------------


def trigger_blocks(text: str) -> list[tuple[str, list[str]]]:
    """``(test name, trace lines)`` per ``--- <test>`` block of a trigger_tests file."""
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("--- "):
            blocks.append((line[4:].strip(), []))
        elif blocks:
            blocks[-1][1].append(line)
    return [(name, lines) for name, lines in blocks if any(ln.strip() for ln in lines)]


def chain(lines: list[str]) -> list[Chained]:
    """The exception chain: the top exception, then each ``Caused by:``, with their frames."""
    out: list[Chained] = []
    for i, line in enumerate(lines):
        match = _FRAME.match(line)
        if match and out:
            number = int(match["line"]) if match["line"] else None
            out[-1].frames.append(Frame(i, match["cls"], match["file"], number))
        elif i == 0 or line.startswith("Caused by: "):
            exc = _EXC.match(line)
            out.append(Chained(exc["exc"] if exc else line.split(":")[0].removeprefix("Caused by: "), []))
    return out


def is_library(cls: str) -> bool:
    return cls.startswith(_LIBRARY)


# --- files and line mapping ---------------------------------------------------------------------------------


def source_dirs(d4j: Path, project: str, revs: tuple[str, ...]) -> tuple[str, str]:
    rows = {r[0]: (r[1], r[2]) for r in csv.reader(io.StringIO(show_d4j(d4j, project, "dir-layout.csv") or ""))}
    for rev in revs:
        if rev in rows:
            return rows[rev]
    raise Reject("no dir-layout entry")


def show_d4j(d4j: Path, project: str, name: str) -> str | None:
    return show(d4j, "HEAD", f"framework/projects/{project}/{name}")


def frame_path(frame: Frame, directory: str) -> str:
    package = frame.cls.rsplit(".", 1)[0] if "." in frame.cls else ""
    return "/".join(p for p in (directory, package.replace(".", "/"), frame.file) if p)


def line_map(old: list[str], new: list[str]) -> dict[int, int]:
    """1-based line of ``old`` -> line of ``new``: equal lines, and inside a replaced block the most similar
    non-blank line (``SIMILAR`` or more, ratio of the stripped texts), kept in order."""
    mapping: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            mapping.update({i1 + k + 1: j1 + k + 1 for k in range(i2 - i1)})
        elif tag == "replace":
            mapping.update(_match_block(old, new, range(i1, i2), range(j1, j2)))
    return mapping


def _match_block(old: list[str], new: list[str], olds: range, news: range) -> dict[int, int]:
    """Pairs of similar non-blank lines inside a replaced block, best first, keeping their order (1-based)."""
    pairs = sorted(
        ((similarity(old[i], new[j]), i, j) for i in olds for j in news if old[i].strip() and new[j].strip()),
        reverse=True,
    )
    chosen: dict[int, int] = {}
    for score, i, j in pairs:
        if score < SIMILAR or i in chosen or j in chosen.values():
            continue
        if all((i < a) == (j < b) for a, b in chosen.items()):
            chosen[i] = j
    return {i + 1: j + 1 for i, j in chosen.items()}


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.strip(), b.strip(), autojunk=False).ratio()


def apply_hunks(text: str, patch: PatchSet, path: str) -> str:
    """``text`` with the hunks of ``patch`` for ``path`` applied (context checked)."""
    lines = text.splitlines()
    for pf in patch:
        if strip(pf.target_file) != path and strip(pf.source_file) != path:
            continue
        for hunk in reversed(list(pf)):
            start = hunk.source_start - 1 if hunk.source_length else hunk.source_start
            source = [ln.value.rstrip("\n") for ln in hunk if ln.is_context or ln.is_removed]
            if [s.rstrip("\r") for s in lines[start : start + len(source)]] != [s.rstrip("\r") for s in source]:
                raise Reject("src patch does not apply to revision.id.fixed")
            lines[start : start + len(source)] = [ln.value.rstrip("\n") for ln in hunk if ln.is_context or ln.is_added]
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def strip(name: str | None) -> str:
    name = name or ""
    return name[2:] if name.startswith(("a/", "b/")) else name


def resolve_patch_paths(patch: PatchSet, files: frozenset[str], src_dir: str) -> dict[str, str]:
    """Patch path -> repository path at revision.id.fixed (adds the source dir or strips a level if needed)."""
    out: dict[str, str] = {}
    for pf in patch:
        name = strip(pf.source_file) if pf.source_file != "/dev/null" else strip(pf.target_file)
        for candidate in (name, f"{src_dir}/{name}", name.split("/", 1)[-1]):
            if candidate in files:
                out[name] = candidate
                break
        else:
            raise Reject(f"patch path not in revision.id.fixed: {name}")
    return out


# --- one bug ------------------------------------------------------------------------------------------------


@dataclass
class Bug:
    project: str
    bid: int
    buggy: str
    fixed: str


def build_case(mirror: Path, bug: Bug) -> CorpusCase:
    d4j = mirror / D4J / "repo"
    mirror_dir, repo = PROJECTS[bug.project]
    git_dir = mirror / mirror_dir / "repo"
    src_dir, test_dir = source_dirs(d4j, bug.project, (bug.buggy, bug.fixed))
    patch_text = show_d4j(d4j, bug.project, f"patches/{bug.bid}.src.patch")
    if not patch_text:
        raise Reject("no src patch")
    patch = PatchSet(patch_text)
    fixed_files = tree(git_dir, bug.fixed)
    paths = resolve_patch_paths(patch, fixed_files, src_dir)

    def d4j_buggy(path: str) -> str | None:
        fixed_text = show(git_dir, bug.fixed, path)
        if path not in paths.values() or fixed_text is None:
            return fixed_text
        name = next(k for k, v in paths.items() if v == path)
        return apply_hunks(fixed_text, patch, name)

    text = show_d4j(d4j, bug.project, f"trigger_tests/{bug.bid}") or ""
    reasons: list[str] = []
    for test, lines in trigger_blocks(text):
        try:
            trace, exc = qualify(git_dir, bug, lines, src_dir, test_dir, d4j_buggy)
        except Reject as why:
            reasons.append(str(why))
            continue
        labels = szz_labels(git_dir, bug, patch, paths, d4j_buggy)
        found = szz(git_dir, bug.fixed, parent=bug.buggy, patch=labels)
        if found is None:
            raise Reject("szz: the fix changed no source line")
        return szz_case(
            git_dir,
            found,
            id=f"{bug.project.lower()}-{bug.bid}",
            project=bug.project.lower(),
            language="java",
            repo=repo,
            head=bug.buggy,
            fix=bug.fixed,
            trace=trace,
            source=f"Defects4J {bug.project} {bug.bid}",
            test_command=test,
            exc_type=exc,
        )
    raise Reject(reasons[0] if reasons else "no trigger trace")


def qualify(git_dir: Path, bug: Bug, lines: list[str], src_dir: str, test_dir: str, d4j_buggy) -> tuple[str, str]:
    """The trace with project lines mapped to revision.id.buggy, and the thrown exception's class."""
    exceptions = chain(lines)
    if not exceptions or _ASSERTION.match(exceptions[0].exc):
        raise Reject("assertion failure")
    thrown = next((c for c in exceptions if any(not is_library(f.cls) for f in c.frames)), None)
    if thrown is None:
        raise Reject("no frame outside JDK/junit")
    deepest = next(f for f in thrown.frames if not is_library(f.cls))
    buggy_files = tree(git_dir, bug.buggy)
    if frame_path(deepest, src_dir) not in buggy_files:
        if thrown.exc == "java.lang.AssertionError":
            raise Reject("assertion failure")
        if frame_path(deepest, test_dir) in buggy_files or frame_path(deepest, test_dir) in tree(git_dir, bug.fixed):
            raise Reject("deepest frame in test code")
        raise Reject("deepest frame outside the project (dependency)")
    out = list(lines)
    for c in exceptions:
        for frame in c.frames:
            path = frame_path(frame, src_dir)
            if is_library(frame.cls) or frame.line is None or path not in buggy_files:
                continue
            mapped = map_line(git_dir, bug, path, frame.line, d4j_buggy)
            if mapped is None and frame is deepest:
                raise Reject("deepest project line not mappable to revision.id.buggy")
            old = f"({frame.file}:{frame.line})"
            new = f"({frame.file}:{mapped})" if mapped else f"({frame.file})"
            out[frame.index] = out[frame.index].replace(old, new)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n", thrown.exc


def map_line(git_dir: Path, bug: Bug, path: str, line: int, d4j_buggy) -> int | None:
    recorded = d4j_buggy(path)
    original = show(git_dir, bug.buggy, path)
    if recorded is None or original is None:
        return None
    if recorded == original:
        return line
    return _cached_map(recorded, original).get(line)


@lru_cache(maxsize=64)
def _cached_map(recorded: str, original: str) -> dict[int, int]:
    return line_map(recorded.splitlines(), original.splitlines())


def szz_labels(git_dir: Path, bug: Bug, patch: PatchSet, paths: dict[str, str], d4j_buggy) -> str:
    """The minimised fix as a unified diff revision.id.buggy -> (buggy + fix), repository-relative paths."""
    parts: list[str] = []
    for pf in patch:
        name = strip(pf.source_file) if pf.source_file != "/dev/null" else strip(pf.target_file)
        path = paths[name]
        if not is_source(path):
            continue
        original = show(git_dir, bug.buggy, path)
        recorded = d4j_buggy(path)
        fixed = show(git_dir, bug.fixed, path)
        if original is None or recorded is None or fixed is None:
            continue
        if recorded == original:
            target = fixed
        else:
            target = carry_over(recorded.splitlines(), fixed.splitlines(), original.splitlines())
        parts.append(unified(original, target if isinstance(target, str) else "\n".join(target) + "\n", path))
    return "".join(parts)


def unified(old: str, new: str, path: str) -> str:
    """``git diff --no-index`` of two texts (git's hunks, unlike difflib's, keep pure insertions pure)."""
    with tempfile.TemporaryDirectory(prefix="corpus-defects4j-") as tmp:
        a, b = Path(tmp, "a"), Path(tmp, "b")
        a.write_text(old)
        b.write_text(new)
        done = subprocess.run(
            ["git", "diff", "--no-index", "--no-color", "-U3", str(a), str(b)], capture_output=True, text=True
        )
    body = done.stdout.split("\n@@", 1)
    if len(body) < 2:
        return ""
    return f"--- a/{path}\n+++ b/{path}\n@@" + body[1]


def carry_over(recorded: list[str], fixed: list[str], original: list[str]) -> list[str]:
    """``original`` with the change recorded -> fixed applied where it happened: removed lines must map
    (``line_map``, consecutively); an insertion goes after the nearest mapped line above it (else before the
    nearest mapped line below)."""
    to_original = {k - 1: v - 1 for k, v in line_map(recorded, original).items()}
    out = list(original)
    matcher = difflib.SequenceMatcher(None, recorded, fixed, autojunk=False)
    edits = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    for _tag, i1, i2, j1, j2 in reversed(edits):
        if i2 > i1:
            if not all(k in to_original for k in range(i1, i2)) or to_original[i2 - 1] - to_original[i1] != i2 - 1 - i1:
                raise Reject("fix hunk not mappable to revision.id.buggy")
            start = to_original[i1]
            out[start : start + i2 - i1] = fixed[j1:j2]
            continue
        above = next((to_original[k] + 1 for k in range(i1 - 1, -1, -1) if k in to_original), None)
        below = next((to_original[k] for k in range(i1, len(recorded)) if k in to_original), None)
        if above is None and below is None or (above is not None and below is not None and above > below):
            raise Reject("fix hunk not mappable to revision.id.buggy")
        at = above if above is not None else below
        out[at:at] = fixed[j1:j2]
    return out


# --- driver -------------------------------------------------------------------------------------------------


def active_bugs(d4j: Path, project: str) -> list[Bug]:
    rows = csv.DictReader(io.StringIO(show_d4j(d4j, project, "active-bugs.csv") or ""))
    return [Bug(project, int(r["bug.id"]), r["revision.id.buggy"], r["revision.id.fixed"]) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--only", nargs="*", help="case ids to rebuild, e.g. gson-5")
    parser.add_argument("--dry-run", action="store_true", help="report, write nothing")
    args = parser.parse_args(argv)
    d4j = args.mirror / D4J / "repo"
    counts: dict[str, Counter[str]] = {}
    for project in PROJECTS:
        tally = counts.setdefault(project, Counter())
        for bug in active_bugs(d4j, project):
            cid = f"{project.lower()}-{bug.bid}"
            if args.only and cid not in args.only:
                continue
            try:
                case = build_case(args.mirror, bug)
            except (Reject, RuntimeError) as why:
                tally[f"rejected: {why}"] += 1
                print(f"{cid}: rejected: {why}", file=sys.stderr)
                continue
            empty = [loc["path"] for loc in case.fix_locations if not loc["function"]]
            note = f" (fix location without function: {empty})" if empty else ""
            if not args.dry_run:
                case.write()
            tally["kept"] += 1
            print(f"{cid}: kept {case.exc_type} {case.szz_kind} bic={len(case.bic)}{note}", file=sys.stderr)
    for project, tally in counts.items():
        print(project, dict(sorted(tally.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
