"""Case repositories: find a local copy (or clone from GitHub) and check out a case's commit in a clone whose
refs, remote and reflogs show nothing after that commit, so no later history can leak into an answer.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_ROOT / "benchmarks" / "work"
DEFAULT_REPOS_DIR = PROJECT_ROOT.parent / ".mirror"
REPOS_ENV = "INCIDENTBOT_BENCH_REPOS"


class CheckoutError(RuntimeError):
    """A case repository could not be found or cloned; the message says what to do."""


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run one git command in ``repo`` and return its stdout."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise CheckoutError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout


def repos_dir(given: Path | None) -> Path:
    """The folder of local repository copies: --repos-dir, else $INCIDENTBOT_BENCH_REPOS, else ../.mirror."""
    if given is not None:
        return given
    from_env = os.environ.get(REPOS_ENV)
    return Path(from_env) if from_env else DEFAULT_REPOS_DIR


def find_source(repo: str, local: Path) -> str:
    """Where to clone ``owner/name`` from: a local ``owner+name/repo`` or ``owner/name`` copy, else GitHub."""
    owner_name = repo.replace("/", "+")
    for candidate in (local / owner_name / "repo", local / repo):
        if (candidate / "HEAD").is_file() or (candidate / ".git").exists():
            return str(candidate)
    return f"https://github.com/{repo}.git"


def clone_once(repo: str, local: Path, needed: list[str], into: Path = WORK_DIR / "repos") -> Path:
    """One isolated clone per repository under ``into`` (benchmarks/work/repos), reused while it holds ``needed``."""
    target = into / repo.split("/")[-1]
    if target.exists() and _has_commits(target, needed) and _is_isolated(target):
        return target
    if target.exists():
        subprocess.run(["rm", "-rf", str(target)], check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = find_source(repo, local)
    log.info("cloning %s from %s", repo, source)
    # --no-hardlinks: the local copies are read-only third-party data; share nothing with them.
    done = subprocess.run(
        ["git", "clone", "-q", "--no-checkout", "--no-hardlinks", source, str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CheckoutError(
            f"cannot clone {repo} from {source}: {done.stderr.strip()}; "
            f"put a copy at {local}/{repo.replace('/', '+')}/repo or pass --repos-dir "
            f"(or set {REPOS_ENV}) when the network is unavailable"
        )
    _isolate(target, needed[0])
    missing = [sha for sha in needed if not _has_commits(target, [sha])]
    if missing:
        raise CheckoutError(f"{repo}: commits {', '.join(m[:10] for m in missing)} are not in {source}")
    return target


def checkout(clone: Path, head: str) -> None:
    """Check out ``head`` detached and clean, then forget the previous position so it cannot leak.

    Repository snapshots may lack their largest blobs (data files of several MiB): those paths are left out of
    the work tree by a sparse checkout instead of failing the case.
    """
    _exclude_missing_blobs(clone, head)
    git(clone, "checkout", "-q", "-f", "--detach", head)
    git(clone, "clean", "-fdxq")
    git(clone, "reflog", "expire", "--expire=now", "--all")


def _exclude_missing_blobs(clone: Path, head: str) -> None:
    listing = git(clone, "ls-tree", "-r", "-z", head)
    entries = [e.split("\t", 1) for e in listing.split("\0") if "\t" in e]
    blobs = [(meta.split()[2], path) for meta, path in entries if meta.split()[1] == "blob"]
    done = subprocess.run(
        ["git", "cat-file", "--batch-check"],
        cwd=clone,
        input="".join(f"{sha}\n" for sha, _ in blobs),
        capture_output=True,
        text=True,
        check=False,
    )
    missing = [
        path for (_, path), line in zip(blobs, done.stdout.splitlines(), strict=False) if line.endswith(" missing")
    ]
    if missing:
        log.info("%s: %d blob(s) absent from the snapshot, left out of the checkout", head[:10], len(missing))
        git(clone, "config", "core.sparseCheckout", "true")
        info = clone / ".git" / "info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "sparse-checkout").write_text("/*\n" + "".join(f"!/{p}\n" for p in missing))
    elif git(clone, "config", "--get", "core.sparseCheckout", check=False).strip() == "true":
        git(clone, "config", "core.sparseCheckout", "false")


def _isolate(clone: Path, first_head: str) -> None:
    # Automatic gc would prune the now unreachable case commits; reflogs would remember later positions.
    git(clone, "config", "gc.auto", "0")
    git(clone, "config", "core.logAllRefUpdates", "false")
    git(clone, "remote", "remove", "origin")
    git(clone, "update-ref", "--no-deref", "HEAD", first_head)
    for ref in git(clone, "for-each-ref", "--format=%(refname)").split():
        git(clone, "update-ref", "-d", ref)
    git(clone, "reflog", "expire", "--expire=now", "--all")


def _is_isolated(clone: Path) -> bool:
    return not git(clone, "for-each-ref", check=False).strip() and not git(clone, "remote", check=False).strip()


def _has_commits(clone: Path, shas: list[str]) -> bool:
    return all(
        subprocess.run(
            ["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=clone, capture_output=True, check=False
        ).returncode
        == 0
        for sha in shas
    )
