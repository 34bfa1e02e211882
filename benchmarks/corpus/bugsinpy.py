"""Capture Python corpus cases from BugsInPy by running each bug's failing test at the buggy commit.

For each bug of the chosen projects (skipping the 20 shared cases, see ``shared_cases``):
1. extract the project at ``buggy_commit_id`` (``git archive``) and overlay the test files of
   ``fixed_commit_id`` (BugsInPy's convention: the tests come from the fixed version);
2. run the bug's failing test with pytest (``--tb=native -p no:cacheprovider``, a timeout) in a virtualenv of
   the pyenv Python nearest to ``python_version`` (one venv per project and Python; the bug's
   ``requirements.txt`` is installed when the test does not import);
3. keep the traceback only if the test fails at the buggy commit and passes at the fixed commit (same setup),
   the deepest frame is in the project's own non-test source (so no assertion failure in test code);
4. label with ``szz(fix=fixed, parent=buggy)``; write ``benchmarks/cases/<project>-<n>.json``.
Paths are made production-like: the checkout at ``/srv/app/``, packages under
``/usr/local/lib/pythonX.Y/site-packages/``; pytest's frames before the test function's are dropped.

Limits: library versions are today's resolution of the bug's pins (pins that do not install are skipped);
tests that need the network or services fail at both commits and are rejected; one test process at a time.

Usage: ``python -m benchmarks.corpus.bugsinpy [--mirror DIR] [--bugs N,...] [PROJECT ...]``
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shlex
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.corpus.case import CASES_DIR, CorpusCase, szz_case
from benchmarks.corpus.shared_cases import shared_ids
from benchmarks.corpus.szz import git, is_source, szz

PROJECTS = {  # BugsInPy name -> GitHub repository, in priority order
    "scrapy": "scrapy/scrapy",
    "ansible": "ansible/ansible",
    "fastapi": "tiangolo/fastapi",
    "tqdm": "tqdm/tqdm",
    "sanic": "sanic-org/sanic",
    "httpie": "httpie/cli",
    "cookiecutter": "cookiecutter/cookiecutter",
    "PySnooper": "cool-RR/PySnooper",
}
EXTRA_PATHS = {"ansible": ["lib", "test"]}  # added to PYTHONPATH besides the checkout
BASE_PACKAGES = {
    "ansible": ["pytest-mock<3.7", "pexpect", "passlib"],
    "PySnooper": ["python_toolbox", "six", "future", "decorator"],
    "cookiecutter": ["future", "pytest-mock<3.7"],
}  # test needs beyond requirements.txt
SKIP_PINS = {"pywin32", "soappy", "wstools", "pydivert", "pylibversion", "utils", "pkg-resources", "ansible-base"}
DEV_TOOLS = ("black", "flake8", "mkdocs", "mypy", "isort", "autoflake", "flit", "pylint", "coverage", "pytest-cov")
ALWAYS_PIN = {"fastapi", "sanic"}  # library versions differ between bugs: install each bug's pins
WORK = Path("/tmp/corpus-bugsinpy")
PYENV = Path("/root/.pyenv/versions")
TIMEOUT = 300
FRAME = re.compile(r'^  File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
RUNNER = re.compile(r'File "[^"]*/(_pytest|pluggy|unittest|twisted/trial)/')
_SECTION_END = re.compile(r"^(-{3,} Captured|_{3,} |={3,}|(_ ){3,})")


@dataclass(frozen=True)
class Bug:
    project: str
    number: int
    info: dict[str, str]
    commands: list[str]
    requirements: list[str]

    @property
    def id(self) -> str:
        return f"{self.project.lower()}-{self.number}"


@dataclass(frozen=True)
class Run:
    rc: int
    output: str


def load_bug(bugsinpy: Path, project: str, number: int) -> Bug:
    base = f"HEAD:projects/{project}/bugs/{number}"
    info = dict(re.findall(r'^(\w+)="([^"]*)"', git(bugsinpy, "show", f"{base}/bug.info"), re.M))
    commands = [c.strip() for c in git(bugsinpy, "show", f"{base}/run_test.sh").splitlines() if c.strip()]
    try:
        raw = subprocess.run(
            ["git", "--git-dir", str(bugsinpy), "show", f"{base}/requirements.txt"], capture_output=True, check=True
        ).stdout
        text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8", "replace")
    except subprocess.CalledProcessError:
        text = ""
    pins = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(("#", "-")) and "+" not in ln]
    own = project.lower()
    names = [pin_name(p) for p in pins]
    pins = [p for p, n in zip(pins, names, strict=True) if n not in SKIP_PINS | {own} and not n.startswith(DEV_TOOLS)]
    return Bug(project, number, info, commands, pins)


def extract(git_dir: Path, rev: str, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    data = subprocess.run(["git", "--git-dir", str(git_dir), "archive", rev], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="tar")


def overlay_tests(git_dir: Path, bug: Bug, dest: Path) -> None:
    """Copy the fixed version's test files (bug.info's test_file plus test files the fix changed)."""
    buggy, fixed = bug.info["buggy_commit_id"], bug.info["fixed_commit_id"]
    names = {t.strip() for t in bug.info.get("test_file", "").split(";") if t.strip()}
    changed = git(git_dir, "diff", "--name-only", "--no-renames", buggy, fixed, "--").split()
    names |= {p for p in changed if p.endswith(".py") and not is_source(p)}
    for name in sorted(names):
        done = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{fixed}:{name}"], capture_output=True)
        if done.returncode == 0:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(done.stdout)


def python_for(version: str) -> Path:
    minor = ".".join(version.split(".")[:2])
    found = sorted(PYENV.glob(f"{minor}.*")) or sorted(PYENV.glob("3.8.*"))
    return found[-1] / "bin" / "python"


def pip(venv: Path, *args: str) -> bool:
    cmd = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args]
    return subprocess.run(cmd, capture_output=True, timeout=1800).returncode == 0


def ensure_venv(bug: Bug, force_reqs: bool = False) -> Path:
    """The shared venv for the bug's project and Python; installs the bug's pins on first use or on demand."""
    python = python_for(bug.info.get("python_version", "3.8"))
    venv = WORK / "venv" / f"{bug.project}-{python.parent.parent.name}"
    marker = venv / "installed-pins.json"
    if not venv.exists():
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
        pip(venv, "--upgrade", "pip<22")
        pip(venv, "pytest<7.1", "mock", *BASE_PACKAGES.get(bug.project, []))
    loaded = json.loads(marker.read_text()) if marker.exists() else {}
    done: dict[str, str] = loaded if isinstance(loaded, dict) else {pin_name(p): p for p in loaded}  # name -> pin
    if bug.requirements and (force_reqs or not done or bug.project in ALWAYS_PIN):
        todo = [p for p in bug.requirements if done.get(pin_name(p)) != p]
        if todo and not pip(venv, *todo):
            for pin in todo:  # one by one: a pin without a wheel for this Python is skipped
                pip(venv, pin) or pip(venv, pin_name(pin))
        marker.write_text(json.dumps(done | {pin_name(p): p for p in todo}))
        if todo:
            pip(venv, "pytest<7.1")
    return venv


def pin_name(pin: str) -> str:
    return re.split(r"[=<>!~ ;\[]", pin)[0].lower()


def pytest_target(command: str, tree: Path) -> str | None:
    """The pytest node id of one run_test.sh line (pytest, python -m pytest, tox or python -m unittest)."""
    words = shlex.split(command)
    if "unittest" in words:
        dotted = next(w for w in reversed(words) if not w.startswith("-")).split(".")
        for cut in range(len(dotted), 0, -1):
            stem = "/".join(dotted[:cut])
            for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
                if (tree / candidate).is_file():
                    return "::".join([candidate, *dotted[cut:]])
        return None
    args = [w for w in words[1:] if not w.startswith("-") and w not in ("-m", "pytest")]
    return args[-1] if args else None


def run_test(venv: Path, tree: Path, bug: Bug, target: str) -> Run:
    extra = [str(tree / p) for p in EXTRA_PATHS.get(bug.project, [])]
    env = {
        "PATH": f"{venv}/bin:/usr/bin:/bin",
        "HOME": str(WORK / "home"),
        "PYTHONPATH": ":".join([str(tree), *extra]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
    }
    cmd = [str(venv / "bin/python"), "-m", "pytest", target, "--tb=native", "-p", "no:cacheprovider", "-q"]
    cmd += ["-o", "addopts=", "-W", "ignore::DeprecationWarning"]
    if target.split("::")[0].endswith("__init__.py"):  # pytest collects no tests from __init__.py by default
        cmd += ["-o", "python_files=__init__.py"]
    try:
        done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=TIMEOUT, errors="replace")
    except subprocess.TimeoutExpired:
        return Run(-1, "timeout")
    return Run(done.returncode, done.stdout + done.stderr)


def first_traceback(output: str) -> str | None:
    """The native traceback of the first failure in pytest's output."""
    lines = output.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call last):")), None)
    if start is None:
        return None
    # a chained exception starts earlier, with its own "Traceback" after the failure header
    end = start
    while end < len(lines) and not _SECTION_END.match(lines[end]):
        end += 1
    body = lines[start:end]
    while body and not body[-1].strip():
        body.pop()
    return "\n".join(body) + "\n"


def production_paths(trace: str, tree: Path, venv: Path) -> str:
    """Checkout -> /srv/app/, venv and pyenv libraries -> /usr/local/lib/pythonX.Y/."""
    version = next(venv.glob("lib/python3.*")).name
    trace = trace.replace(f"{tree}/", "/srv/app/")
    trace = trace.replace(f"{venv}/lib/{version}/site-packages/", f"/usr/local/lib/{version}/site-packages/")
    return re.sub(rf"{PYENV}/[^/]+/lib/{version}/", f"/usr/local/lib/{version}/", trace)


def drop_runner_frames(trace: str) -> str:
    """In each traceback of the chain, drop the test runner's leading frames (pytest, pluggy, unittest, trial);
    a traceback with no project frame after them is kept whole."""
    out: list[str] = []
    frames: list[list[str]] = []

    def flush() -> None:
        first = next((i for i, f in enumerate(frames) if not RUNNER.search(f[0])), len(frames))
        if first == len(frames) or not any(f[0].startswith('  File "/srv/app/') for f in frames[first:]):
            first = 0
        out.extend(line for frame in frames[first:] for line in frame)
        frames.clear()

    for line in trace.splitlines():
        if FRAME.match(line):
            frames.append([line])
        elif frames and line.startswith("    "):
            frames[-1].append(line)
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out) + "\n"


def last_frame_and_exception(trace: str) -> tuple[list[str], str]:
    """The frame paths and the exception type of the last traceback in the chain."""
    lines = trace.splitlines()
    paths: list[str] = []
    exc_at: int | None = None
    for i, line in enumerate(lines):
        match = FRAME.match(line)
        if line.startswith("Traceback (most recent call last):"):
            paths, exc_at = [], None
        elif match:
            paths.append(match["path"])
            exc_at = None
        elif paths and not line.startswith(" ") and exc_at is None and line.strip():
            exc_at = i
    exc = lines[exc_at] if exc_at is not None else ""
    return paths, exc.split(":")[0].strip()


ASSERTIONS = ("AssertionError", "FailTest")


def judge(trace: str) -> str | None:
    """None if the trace is worth keeping, else the rejection reason: the deepest frame of the project must be
    in its non-test source (library frames below it are fine, as in the shared cases)."""
    paths, exc = last_frame_and_exception(trace)
    app = [p.removeprefix("/srv/app/") for p in paths if p.startswith("/srv/app/")]
    if not app:
        return "no frame in the project"
    if is_source(app[-1]):
        return None
    if exc.endswith(ASSERTIONS):
        return "assertion failure in test code"
    return "deepest project frame in test code"


def capture(bug: Bug, git_dir: Path, repo: str) -> tuple[CorpusCase | None, str]:
    buggy, fixed = bug.info["buggy_commit_id"], bug.info["fixed_commit_id"]
    tree = WORK / "wt" / bug.id
    for stale in (WORK / "logs").glob(f"{bug.id}.*"):
        stale.unlink()
    extract(git_dir, buggy, tree)
    overlay_tests(git_dir, bug, tree)
    venv = ensure_venv(bug)
    for command in bug.commands:
        target = pytest_target(command, tree)
        if not target:
            continue
        run = run_test(venv, tree, bug, target)
        if run.rc != 1 and re.search(r"(ModuleNotFoundError|ImportError)", run.output):
            venv = ensure_venv(bug, force_reqs=True)
            run = run_test(venv, tree, bug, target)
        (WORK / "logs").mkdir(exist_ok=True)
        if run.rc != 1 or not first_traceback(run.output):
            (WORK / "logs" / f"{bug.id}.buggy.log").write_text(run.output)
            continue
        raw = first_traceback(run.output) or ""
        trace = drop_runner_frames(production_paths(raw, tree, venv))
        reason = judge(trace)
        (WORK / "logs").mkdir(exist_ok=True)
        (WORK / "logs" / f"{bug.id}.trace").write_text(trace)
        if reason:
            return None, reason
        fixed_tree = WORK / "wt" / f"{bug.id}-fixed"
        extract(git_dir, fixed, fixed_tree)
        done = run_test(venv, fixed_tree, bug, target)
        shutil.rmtree(fixed_tree, ignore_errors=True)
        if done.rc != 0:
            return None, "does not pass at the fixed commit"
        result = szz(git_dir, fixed, parent=buggy)
        if result is None:
            return None, "szz found no source line"
        case = szz_case(
            git_dir,
            result,
            id=bug.id,
            project=bug.project.lower(),
            language="python",
            repo=repo,
            head=buggy,
            fix=fixed,
            trace=trace,
            source=f"BugsInPy {bug.project} bug {bug.number}",
            test_command=command,
            exc_type=last_frame_and_exception(trace)[1],
        )
        return case, "kept"
    log = "".join(p.read_text() for p in (WORK / "logs").glob(f"{bug.id}.buggy.log"))
    if re.search(r"(ModuleNotFoundError|ImportError)", log):
        return None, "ImportError when collecting the test (missing module or API)"
    if "ERROR: not found" in log:
        return None, "test not collectable by pytest"
    if "passed" in log and "failed" not in log and " error" not in log:
        return None, "passes at the buggy commit"
    return None, "errors at the buggy commit (setup, import or timeout)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", default=list(PROJECTS))
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--bugs", default="", help="comma-separated bug numbers (default: all)")
    args = parser.parse_args()
    bugsinpy = args.mirror / "soarsmu+BugsInPy" / "repo"
    skip = shared_ids()
    for project in args.projects:
        repo = PROJECTS[project]
        git_dir = args.mirror / repo.replace("/", "+") / "repo"
        numbers = sorted(
            int(n) for n in git(bugsinpy, "ls-tree", "--name-only", f"HEAD:projects/{project}/bugs").split()
        )
        if args.bugs:
            numbers = [n for n in numbers if str(n) in args.bugs.split(",")]
        for number in numbers:
            bug = load_bug(bugsinpy, project, number)
            if bug.id in skip:
                continue
            try:
                case, status = capture(bug, git_dir, repo)
            except (RuntimeError, subprocess.SubprocessError, OSError) as err:
                case, status = None, f"error: {str(err)[:120]}"
            if case:
                case.write(CASES_DIR)
            print(f"{bug.id}: {status}", flush=True)
            shutil.rmtree(WORK / "wt" / bug.id, ignore_errors=True)


if __name__ == "__main__":
    main()
