"""One corpus case in the shared format (``../shared/bench/accuracy/README.md``), plus the corpus' own keys:
``project`` (the cross-validation fold), ``language``, ``label_source`` (``szz`` or ``bisect``) and
``bic_refined`` (the SZZ set plus the commits that wrote lines an SZZ culprit only reformatted).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.corpus.szz import SzzResult

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
REQUIRED = ("id", "repo", "head", "head_time", "trace", "bic", "bic_authors", "fix_locations", "szz_kind", "fix")


def with_corpus_keys(data: dict[str, Any]) -> dict[str, Any]:
    """A case in the shared format, with the corpus' own keys where it lacks them: ``project`` the id's prefix
    (``scrapy-12`` → ``scrapy``), ``language`` its ``trace_format`` (else ``python``), ``label_source``
    ``szz`` and ``bic_refined`` its ``bic``. So the cross-validation runs on any folder of shared cases."""
    out = dict(data)
    out.setdefault("project", str(out["id"]).rsplit("-", 1)[0])
    out.setdefault("language", out.get("trace_format") or "python")
    out.setdefault("label_source", "szz")
    out.setdefault("bic_refined", list(out["bic"]))
    return out


@dataclass
class CorpusCase:
    id: str  # "<project>-<n>"; unique in the corpus
    project: str  # the cross-validation fold: one per repository
    language: str  # "python" | "java"
    repo: str  # owner/name on GitHub
    head: str  # the running revision: 40-hex
    head_time: str  # its committer time, ISO 8601: first-seen
    fix: str  # the fixing commit
    trace: str  # production-like text (see the README)
    trace_format: str  # "python" | "java"
    bic: list[str]  # the bug-inducing commits (any counts as a hit)
    bic_authors: list[dict[str, str]]  # {"name", "email"}
    fix_locations: list[dict[str, Any]]  # {"path", "function", "lines"}
    szz_kind: str  # "modified" | "add-only" | "bisect"
    label_source: str  # "szz" | "bisect"
    bic_refined: list[str] = field(default_factory=list)
    source: str = ""  # provenance, e.g. "BugsInPy scrapy bug 3", "Defects4J Gson 5"
    test_command: str = ""
    exc_type: str = ""

    def write(self, directory: Path = CASES_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.id}.json"
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n")
        return path


def szz_case(
    git_dir: Path,
    result: SzzResult,
    *,
    id: str,
    project: str,
    language: str,
    repo: str,
    head: str,
    fix: str,
    trace: str,
    source: str,
    test_command: str,
    exc_type: str,
) -> CorpusCase:
    """A case labelled by SZZ: its commits, authors and fix locations from ``result``."""
    return CorpusCase(
        id=id,
        project=project,
        language=language,
        repo=repo,
        head=head,
        head_time=commit_time(git_dir, head),
        fix=fix,
        trace=trace,
        trace_format=language,
        bic=result.bic,
        bic_authors=authors(git_dir, result.bic),
        fix_locations=result.fix_locations,
        szz_kind=result.kind,
        label_source="szz",
        bic_refined=result.bic_refined,
        source=source,
        test_command=test_command,
        exc_type=exc_type,
    )


def _show(git_dir: Path, sha: str, fmt: str) -> str:
    """``git show -s --format=FMT SHA`` in a bare repository."""
    command = ["git", "--git-dir", str(git_dir), "show", "-s", f"--format={fmt}", sha]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def commit_time(git_dir: Path, sha: str) -> str:
    """The committer time of ``sha`` as ISO 8601 with its offset normalised to UTC."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(_show(git_dir, sha, "%ct")), tz=UTC).isoformat()


def authors(git_dir: Path, shas: list[str]) -> list[dict[str, str]]:
    """``{"name", "email"}`` of each commit's author, in order, without repeats."""
    seen: list[dict[str, str]] = []
    for sha in shas:
        name, email = _show(git_dir, sha, "%an%x00%ae").split("\x00")
        entry = {"name": name, "email": email}
        if entry not in seen:
            seen.append(entry)
    return seen


def load_all(directory: Path = CASES_DIR) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
