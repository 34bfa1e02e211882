"""Mine Python regressions from a pure-Python project's history: fix commits with a regression test, the
crash reproduced at the fix's parent and the culprit found by ``git bisect`` (SZZ labels as the fallback).

Per project (a small :class:`ProjectConfig`):
1. candidates: non-merge commits since ``since`` whose message suggests a fix and that change both source
   files (``szz.is_source``) and test files; newest first, up to ``--limit``;
2. the test functions the fix added or changed (diff of its test files, ``ast`` to find the enclosing
   ``test*`` function) are run at the parent P with the fix's test files overlaid; a test qualifies when it
   fails at P with an exception whose deepest frame is in the project's own non-test source (and is not a
   name the fix newly introduced), and passes at the fix F;
3. bisection between a passing ancestor (parents of the SZZ culprits, then P~50/200/800) and P labels the
   case ("bad" = same exception type from the same deepest function, "good" = the test passes, else skip);
   without a good commit or a conclusive bisection the SZZ labels stay;
4. the crash is captured at P, paths made production-like (``/srv/app/``, ``/usr/local/lib/python3.11/``).

Limits: one virtualenv per project serves every commit (the project runs from the worktree via PYTHONPATH),
so commits whose dependencies or Python support differ from the venv are skipped; tests run one at a time
with a timeout; only functions named ``test*`` are recognised. Scratch lives under /tmp/corpus-mine/.

    python -m benchmarks.corpus.mine --project astroid [--limit N] [--mirror DIR]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from unidiff import PatchSet

from benchmarks.corpus.case import CASES_DIR, CorpusCase, authors, commit_time
from benchmarks.corpus.szz import SzzResult, is_source, szz

SCRATCH = Path("/tmp/corpus-mine")
PYTHON = "/root/.pyenv/versions/3.11.7/bin/python"
FIX_WORDS = re.compile(r"\b(fix\w*|bug\w*|crash\w*|error\w*|regression\w*|issue|raise\w*)\b|#\d+", re.I)
TIMEOUT = 60
MAX_CASES = 40


@dataclass(frozen=True)
class ProjectConfig:
    name: str  # the case-id prefix and fold
    repo: str  # owner/name on GitHub
    source_dir: str  # the package directory in the repository
    test_dirs: tuple[str, ...]  # where the tests live
    requirements: tuple[str, ...]  # pip requirements of the test venv
    since: str = "2021-01-01"
    python: str = PYTHON
    pytest_args: tuple[str, ...] = ()


PROJECTS: dict[str, ProjectConfig] = {
    "astroid": ProjectConfig(
        "astroid",
        "pylint-dev/astroid",
        "astroid",
        ("tests/",),
        ("pytest", "typing_extensions", "lazy-object-proxy", "wrapt", "setuptools", "six"),
    ),
    "pint": ProjectConfig(
        "pint",
        "hgrecco/pint",
        "pint",
        ("pint/testsuite/",),
        (
            "pytest",
            "typing_extensions",
            "flexcache",
            "flexparser",
            "platformdirs",
            "appdirs",
            "packaging",
            "pytest-subtests",
            "pytest-benchmark",
            "numpy<2",  # pint before 0.24 (2024) does not import with numpy 2
        ),
    ),
    "parso": ProjectConfig("parso", "davidhalter/parso", "parso", ("test/",), ("pytest",)),
    "jsonschema": ProjectConfig(
        "jsonschema",
        "python-jsonschema/jsonschema",
        "jsonschema",
        ("jsonschema/tests/",),
        ("pytest", "attrs", "referencing", "rpds-py", "jsonschema-specifications", "pyrsistent"),
    ),
}


@dataclass
class Outcome:
    status: str  # "passed" | "failed" | "error" | "skipped" | "timeout" | "missing"
    text: str = ""  # the failure's longrepr


@dataclass
class Crash:
    exc_type: str
    path: str  # deepest frame, repository-relative ("" outside the worktree)
    function: str
    trace: str  # the raw traceback block


@dataclass
class Stats:
    candidates: int = 0
    kept_bisect: int = 0
    kept_szz: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


def git(git_dir: Path, *args: str, cwd: Path | None = None, check: bool = True) -> str:
    cmd = ["git", *args] if cwd else ["git", "--git-dir", str(git_dir), *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace", check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])}: {done.stderr.strip()[:300]}")
    return done.stdout + (done.stderr if not check else "")


# ---------------------------------------------------------------- environment


def venv(cfg: ProjectConfig) -> Path:
    """The project's test virtualenv, created on first use."""
    path = SCRATCH / cfg.name
    if not (path / "bin" / "python").exists():
        subprocess.run([cfg.python, "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", *cfg.requirements], check=True)
    return path


def worktree(git_dir: Path, cfg: ProjectConfig) -> Path:
    path = SCRATCH / f"wt-{cfg.name}"
    if not (path / ".git").exists():
        git(git_dir, "worktree", "prune")
        git(git_dir, "worktree", "add", "--detach", "-f", str(path), "HEAD")
    git(git_dir, "bisect", "reset", cwd=path, check=False)
    return path


def checkout(wt: Path, sha: str, overlay_from: str | None = None, files: list[str] | None = None) -> None:
    """Check out ``sha`` cleanly; then lay ``files`` as they are at ``overlay_from`` over it."""
    git(Path(), "checkout", "-f", "-q", "--detach", sha, cwd=wt)
    git(Path(), "clean", "-fdxq", cwd=wt)
    overlay(wt, overlay_from, files or [])


def overlay(wt: Path, rev: str | None, files: list[str]) -> None:
    for path in files if rev else []:
        target = wt / path
        done = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=wt, capture_output=True, check=False)
        if done.returncode != 0:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(done.stdout)


def restore(wt: Path) -> None:
    git(Path(), "checkout", "-f", "-q", "--", ".", cwd=wt, check=False)
    git(Path(), "clean", "-fdxq", cwd=wt, check=False)


def run_tests(wt: Path, env_dir: Path, cfg: ProjectConfig, nodeids: list[str]) -> dict[str, Outcome]:
    """Run ``nodeids`` with pytest (``-x``); the outcome of each test that ran, by node id."""
    report = SCRATCH / f"junit-{cfg.name}.xml"
    report.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONPATH=str(wt), PYTHONDONTWRITEBYTECODE="1", PATH=f"{env_dir}/bin:{env['PATH']}")
    cmd = [
        str(env_dir / "bin" / "python"),
        "-m",
        "pytest",
        "-x",
        "-q",
        "--tb=native",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        f"--junitxml={report}",
        *cfg.pytest_args,
        *nodeids,
    ]
    try:
        subprocess.run(cmd, cwd=wt, env=env, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return {n: Outcome("timeout") for n in nodeids}
    if not report.exists():
        return {}
    return parse_junit(report.read_text(errors="replace"))


def parse_junit(text: str) -> dict[str, Outcome]:
    out: dict[str, Outcome] = {}
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return out
    for case in root.iter("testcase"):
        name = case.get("name", "")
        key = f"{case.get('classname', '')}.{name.split('[')[0]}"
        status, body = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                status = {"failure": "failed"}.get(child.tag, child.tag)
                body = child.text or ""
                break
        prev = out.get(key)
        if prev is None or prev.status == "passed" or (prev.status == "skipped" and status != "passed"):
            out[key] = Outcome(status, body)
    return out


def junit_key(nodeid: str) -> str:
    """The junit ``classname.name`` of a pytest node id (``a/b.py::C::t`` → ``a.b.C.t``)."""
    path, *rest = nodeid.split("::")
    return ".".join([path.removesuffix(".py").replace("/", "."), *rest])


# ---------------------------------------------------------------- tracebacks

_FRAME = re.compile(r'^  File "([^"]+)", line (\d+), in (\S+)')


def last_block(text: str) -> str:
    """The traceback text from the first "Traceback (most recent call last):" on (chained ones included)."""
    i = text.find("Traceback (most recent call last):")
    return text[i:] if i >= 0 else ""


def parse_crash(text: str, wt: Path) -> Crash | None:
    block = last_block(text)
    if not block:
        return None
    last = block[block.rfind("Traceback (most recent call last):") :]
    lines = last.splitlines()
    frames = [(i, m) for i, line in enumerate(lines) if (m := _FRAME.match(line))]
    if not frames:
        return None
    i, m = frames[-1]
    exc_line = next((ln for ln in lines[i + 1 :] if ln and not ln.startswith(" ")), "")
    exc_type = exc_line.split(":")[0].strip()
    path = m.group(1)
    rel = path[len(str(wt)) + 1 :] if path.startswith(f"{wt}/") else ""
    return Crash(exc_type, rel, m.group(3), block)


def production_trace(block: str, wt: Path, env_dir: Path) -> str:
    """Pytest's frames before the test's own dropped; paths rewritten to production-like ones."""
    out: list[str] = []
    skipping, seen_app = False, False
    for line in block.rstrip("\n").splitlines():
        m = _FRAME.match(line)
        if m:
            seen_app = seen_app or m.group(1).startswith(f"{wt}/")
            skipping = not seen_app or "/_pytest/" in m.group(1) or "/pluggy/" in m.group(1)
        elif not line.startswith(" "):
            skipping = False
        if not skipping:
            out.append(line)
    text = "\n".join(out) + "\n"
    site = str(next((env_dir / "lib").glob("python3*/site-packages")))
    stdlib = str(Path(PYTHON).resolve().parent.parent / "lib" / "python3.11")
    for old, new in (
        (f"{wt}/", "/srv/app/"),
        (f"{site}/", "/usr/local/lib/python3.11/site-packages/"),
        (f"{stdlib}/", "/usr/local/lib/python3.11/"),
    ):
        text = text.replace(old, new)
    return text


# ---------------------------------------------------------------- candidates and tests


def is_test(cfg: ProjectConfig, path: str) -> bool:
    return path.startswith(cfg.test_dirs)


def candidates(git_dir: Path, cfg: ProjectConfig, limit: int) -> list[tuple[str, str]]:
    """(fix, parent) pairs, newest first."""
    out = git(
        git_dir,
        "log",
        "--no-merges",
        "--format=%x00%H %P%x01%s%x01%b%x02",
        f"--since={cfg.since}",
        "--name-only",
        "HEAD",
    )
    found: list[tuple[str, str]] = []
    seen: set[str] = set()  # patch ids: a cherry-picked fix counts once
    for entry in out.split("\x00")[1:]:
        head, subject, rest = entry.split("\x01", 2)
        shas = head.split()
        body, _, names = rest.partition("\x02")
        files = [f for f in names.splitlines() if f.strip()]
        if len(shas) != 2 or not FIX_WORDS.search(f"{subject}\n{body}"):
            continue
        src = any(is_source(f) and f.startswith(cfg.source_dir) and not is_test(cfg, f) for f in files)
        tst = any(is_test(cfg, f) and f.endswith(".py") for f in files)
        if src and tst and (pid := patch_id(git_dir, shas[0])) not in seen:
            seen.add(pid)
            found.append((shas[0], shas[1]))
        if len(found) >= limit:
            break
    return found


def patch_id(git_dir: Path, sha: str) -> str:
    diff = subprocess.run(["git", "--git-dir", str(git_dir), "show", sha], capture_output=True, check=False).stdout
    out = subprocess.run(["git", "patch-id", "--stable"], input=diff, capture_output=True, check=False).stdout.split()
    return out[0].decode() if out else sha


def changed_tests(git_dir: Path, cfg: ProjectConfig, fix: str, parent: str) -> tuple[list[str], list[str]]:
    """(node ids of the test functions the fix added or changed, every test-dir file the fix touched)."""
    names = git(git_dir, "diff", "--name-only", "--no-renames", parent, fix).split()
    test_files = [n for n in names if is_test(cfg, n)]
    nodeids: list[str] = []
    py_files = [f for f in test_files if f.endswith(".py")]
    diff = git(git_dir, "diff", "-U0", "--no-renames", parent, fix, "--", *py_files) if py_files else ""
    for pf in PatchSet(diff):
        path = pf.target_file.removeprefix("b/")
        base = path.rsplit("/", 1)[-1]
        if pf.is_removed_file or not base.startswith(("test", "unittest")):
            continue
        lines = {ln.target_line_no for h in pf for ln in h if ln.is_added and ln.target_line_no}
        try:
            tree = ast.parse(git(git_dir, "show", f"{fix}:{path}"))
        except (SyntaxError, RuntimeError):
            continue
        for nodeid in _tests_touching(tree, path, lines):
            if nodeid not in nodeids:
                nodeids.append(nodeid)
    return nodeids, test_files


def _tests_touching(tree: ast.Module, path: str, lines: set[int]) -> list[str]:
    out: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}::{node.name}")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if any(start <= n <= (node.end_lineno or node.lineno) for n in lines):
                    out.append(f"{prefix}::{node.name}")

    visit(tree.body, path)
    return out


# ---------------------------------------------------------------- one candidate


class Miner:
    def __init__(self, cfg: ProjectConfig, git_dir: Path) -> None:
        self.cfg, self.git_dir = cfg, git_dir
        self.env = venv(cfg)
        self.wt = worktree(git_dir, cfg)
        self.stats = Stats()
        self.log = (SCRATCH / f"{cfg.name}-log.jsonl").open("w")

    def note(self, fix: str, verdict: str, **extra: object) -> None:
        self.log.write(json.dumps({"fix": fix, "verdict": verdict, **extra}) + "\n")
        self.log.flush()
        print(f"{fix[:10]} {verdict} {extra or ''}", file=sys.stderr, flush=True)

    def own_source(self, rel: str) -> bool:
        return bool(rel) and rel.startswith(self.cfg.source_dir) and is_source(rel) and not is_test(self.cfg, rel)

    def new_name(self, crash: Crash, fix: str, parent: str) -> bool:
        """The exception names something the fix introduces (a new API the test uses)."""
        if crash.exc_type not in ("AttributeError", "ImportError", "NameError", "TypeError", "ModuleNotFoundError"):
            return False
        tail = crash.trace.rstrip().splitlines()[-1]
        for name in re.findall(r"'([A-Za-z_][\w.]*)'", tail):
            leaf = name.rsplit(".", 1)[-1]
            grep = subprocess.run(
                ["git", "--git-dir", str(self.git_dir), "grep", "-q", "-w", leaf, parent, "--", self.cfg.source_dir],
                capture_output=True,
                check=False,
            )
            if grep.returncode != 0:
                return True
        return False

    def test_at(self, sha: str, fix: str, files: list[str], nodeid: str) -> tuple[str, Crash | None]:
        checkout(self.wt, sha, fix, files)
        result = run_tests(self.wt, self.env, self.cfg, [nodeid]).get(junit_key(nodeid))
        if result is None:
            return "missing", None
        if result.status == "passed":
            return "passed", None
        if result.status != "failed":
            return result.status, None
        return "failed", parse_crash(result.text, self.wt)

    def mine(self, fix: str, parent: str) -> CorpusCase | None:
        nodeids, files = changed_tests(self.git_dir, self.cfg, fix, parent)
        if not nodeids:
            self.note(fix, "no-test-function")
            return None
        crash, test = self.first_crash(fix, parent, nodeids, files)
        if crash is None or test is None:
            return None
        checkout(self.wt, fix)
        after = run_tests(self.wt, self.env, self.cfg, [test]).get(junit_key(test))
        if after is None or after.status != "passed":
            self.note(fix, "not-passing-at-fix", test=test)
            return None
        try:
            found = szz(self.git_dir, fix, parent)
        except RuntimeError as err:
            self.note(fix, "szz-error", error=str(err)[:200])
            return None
        if found is None:
            self.note(fix, "szz-none")
            return None
        culprit = self.bisect(fix, parent, files, test, crash, found)
        return self.case(fix, parent, test, crash, found, culprit)

    def first_crash(
        self, fix: str, parent: str, nodeids: list[str], files: list[str]
    ) -> tuple[Crash | None, str | None]:
        """The first changed test that crashes at the parent in the project's source (three pytest rounds)."""
        todo = list(nodeids)
        reason = "passes-at-parent"
        for _ in range(3):
            if not todo:
                break
            checkout(self.wt, parent, fix, files)
            results = run_tests(self.wt, self.env, self.cfg, todo)
            if not any(junit_key(n) in results for n in todo):
                reason = "not-collected-at-parent"
                break
            failed = [
                (n, results[junit_key(n)])
                for n in todo
                if results.get(junit_key(n), Outcome("x")).status in ("failed", "error", "timeout")
            ]
            if not failed:
                break
            nodeid, outcome = failed[0]
            todo = todo[todo.index(nodeid) + 1 :]
            if outcome.status != "failed":
                reason = f"{outcome.status}-at-parent"
                continue
            crash = parse_crash(outcome.text, self.wt)
            if crash is None:
                reason = "no-traceback"
            elif not self.own_source(crash.path):
                reason = "assertion-in-test" if crash.exc_type == "AssertionError" else "deepest-frame-not-source"
            elif self.new_name(crash, fix, parent):
                reason = "new-name"
            else:
                return crash, nodeid
        self.note(fix, reason)
        return None, None

    def bisect(self, fix: str, parent: str, files: list[str], test: str, crash: Crash, found: SzzResult) -> str | None:
        good = self.find_good(fix, parent, files, test, found)
        if good is None:
            self.note(fix, "no-good-commit", test=test)
            return None
        wt = self.wt
        restore(wt)
        git(Path(), "bisect", "reset", cwd=wt, check=False)
        out = git(Path(), "bisect", "start", parent, good, cwd=wt, check=False)
        for _ in range(40):
            first = re.search(r"^([0-9a-f]{40}) is the first bad commit", out, re.M)
            if first:
                git(Path(), "bisect", "reset", cwd=wt, check=False)
                self.note(fix, "bisected", test=test, culprit=first.group(1))
                return first.group(1)
            if "Bisecting:" not in out:
                break
            sha = git(Path(), "rev-parse", "HEAD", cwd=wt).strip()
            overlay(wt, fix, files)
            result = run_tests(wt, self.env, self.cfg, [test]).get(junit_key(test))
            restore(wt)
            verdict = "skip"
            if result and result.status == "passed":
                verdict = "good"
            elif result and result.status == "failed":
                now = parse_crash(result.text, wt)
                if now and now.exc_type == crash.exc_type and now.function == crash.function and now.path == crash.path:
                    verdict = "bad"
            out = git(Path(), "bisect", verdict, sha, cwd=wt, check=False)
        git(Path(), "bisect", "reset", cwd=wt, check=False)
        self.note(fix, "bisect-inconclusive", test=test)
        return None

    def find_good(self, fix: str, parent: str, files: list[str], test: str, found: SzzResult) -> str | None:
        tries: list[str] = []
        for sha in found.bic:
            parents = git(self.git_dir, "rev-list", "--parents", "-n", "1", sha).split()[1:]
            tries += parents[:1]
        for steps in (50, 200, 800):
            sha = git(self.git_dir, "rev-parse", f"{parent}~{steps}", check=False).strip().splitlines()
            if sha and re.fullmatch(r"[0-9a-f]{40}", sha[0]):
                tries.append(sha[0])
        for sha in dict.fromkeys(tries):
            if (
                subprocess.run(
                    ["git", "--git-dir", str(self.git_dir), "merge-base", "--is-ancestor", sha, parent], check=False
                ).returncode
                == 0
            ):
                status, _ = self.test_at(sha, fix, files, test)
                if status == "passed":
                    return sha
        return None

    def case(self, fix: str, parent: str, test: str, crash: Crash, found: SzzResult, culprit: str | None) -> CorpusCase:
        bic = [culprit] if culprit else found.bic
        return CorpusCase(
            id="",
            project=self.cfg.name,
            language="python",
            repo=self.cfg.repo,
            head=parent,
            head_time=commit_time(self.git_dir, parent),
            fix=fix,
            trace=production_trace(crash.trace, self.wt, self.env),
            trace_format="python",
            bic=bic,
            bic_authors=authors(self.git_dir, bic),
            fix_locations=found.fix_locations,
            szz_kind=found.kind,
            label_source="bisect" if culprit else "szz",
            bic_refined=[culprit] if culprit else found.bic_refined,
            source=f"{'bisect' if culprit else 'mined'} {self.cfg.repo} {fix[:12]}",
            test_command=test,
            exc_type=crash.exc_type,
        )


def run(cfg: ProjectConfig, mirror: Path, limit: int) -> Stats:
    git_dir = mirror / cfg.repo.replace("/", "+") / "repo"
    SCRATCH.mkdir(parents=True, exist_ok=True)
    for old in CASES_DIR.glob(f"{cfg.name}-*.json"):
        old.unlink()
    miner = Miner(cfg, git_dir)
    n = 0
    kept: set[tuple[str, str, str]] = set()
    for fix, parent in candidates(git_dir, cfg, limit):
        if n >= MAX_CASES:
            break
        miner.stats.candidates += 1
        start = time.monotonic()
        try:
            case = miner.mine(fix, parent)
        except (RuntimeError, OSError, ValueError) as err:
            miner.note(fix, "error", error=str(err)[:200])
            case = None
        if case is None:
            miner.stats.reject(_last_verdict(cfg))
            continue
        key = (case.test_command, case.exc_type, case.trace.rstrip().rsplit("\n  File ", 1)[-1].split("\n")[0])
        if key in kept:  # the same crash fixed again (e.g. a backport under another patch id)
            miner.stats.reject("duplicate")
            continue
        kept.add(key)
        n += 1
        case.id = f"{cfg.name}-{n}"
        case.write()
        if case.label_source == "bisect":
            miner.stats.kept_bisect += 1
        else:
            miner.stats.kept_szz += 1
        print(f"wrote {case.id} ({case.label_source}, {time.monotonic() - start:.0f}s)", file=sys.stderr, flush=True)
    restore(miner.wt)
    return miner.stats


def _last_verdict(cfg: ProjectConfig) -> str:
    lines = (SCRATCH / f"{cfg.name}-log.jsonl").read_text().splitlines()
    return json.loads(lines[-1])["verdict"] if lines else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, choices=sorted(PROJECTS))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args()
    stats = run(PROJECTS[args.project], args.mirror, args.limit)
    print(json.dumps(stats.__dict__, indent=1))


if __name__ == "__main__":
    main()
