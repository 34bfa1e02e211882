"""A large synthetic repository for the speed benchmark, written deterministically through ``git fast-import``:
Python packages of functions whose lines change over a long history (a few files are hot, most are quiet, as
in real projects), several authors, fixed dates and a few renames. Cached under benchmarks/work by parameters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from benchmarks.checkouts import WORK_DIR

log = logging.getLogger(__name__)

FILES_PER_SEED_COMMIT = 50
_DONE_MARKER = "genrepo-complete.json"


@dataclass(frozen=True)
class GenParams:
    commits: int = 20_000
    files: int = 2_000
    packages: int = 40
    authors: int = 12
    renames: int = 12
    seed: int = 20240501
    # 2005-01-01T00:00:00Z: 20,000 commits about 5 hours apart end in 2016, so the revision a triage picks by
    # time is HEAD whatever day the benchmark runs (a history that reached past today made it blame an older
    # commit, and recognise the trace's lines at none).
    start_epoch: int = 1104537600

    def key(self) -> str:
        """A short stable name for these parameters, so a cached repository is reused only when they match."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class _Function:
    name: str
    body: list[str]


@dataclass
class _File:
    path: str
    functions: list[_Function] = field(default_factory=list)

    def render(self) -> bytes:
        parts = [f'"""Module {self.path}: generated for the incidentbot speed benchmark."""\n', "import math\n"]
        for function in self.functions:
            parts.append(f"\n\ndef {function.name}(value, scale=1):\n")
            parts.append(f'    """Compute step {function.name}."""\n')
            parts.append("    result = value * scale\n")
            parts.extend(f"    {line}\n" for line in function.body)
            parts.append("    return result\n")
        return "".join(parts).encode()


def generate(params: GenParams, root: Path | None = None) -> Path:
    """The repository for ``params`` (built once, then reused from benchmarks/work)."""
    target = root or WORK_DIR / f"genrepo-{params.key()}"
    if (target / ".git" / _DONE_MARKER).is_file():
        return target
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _git(target, "init", "-q", "-b", "main")
    importer = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=target, stdin=subprocess.PIPE)
    assert importer.stdin is not None
    _History(params).write(importer.stdin)
    importer.stdin.close()
    if importer.wait() != 0:
        raise RuntimeError(f"git fast-import failed building {target}")
    _git(target, "checkout", "-q", "-f", "main")
    (target / ".git" / _DONE_MARKER).write_text(json.dumps(asdict(params)))
    return target


class _History:
    """The whole history as a fast-import stream; one random generator, so the same parameters give the same
    commits, hashes included."""

    def __init__(self, params: GenParams) -> None:
        self.params = params
        self.rng = random.Random(params.seed)
        self.files: list[_File] = []
        self.weights: list[float] = []
        self.when = params.start_epoch
        self.counter = 0
        self.authors = [(f"Dev {i:02d}", f"dev{i:02d}@example.com") for i in range(params.authors)]

    def write(self, out: IO[bytes]) -> None:
        seed_commits = -(-self.params.files // FILES_PER_SEED_COMMIT)
        rename_every = max(1, self.params.commits // (self.params.renames + 1))
        for number in range(self.params.commits):
            if number < seed_commits:
                changed = [self._new_file() for _ in range(self._files_to_add())]
                self._commit(out, number, "Add modules", changed, [])
            elif self.params.renames and number % rename_every == 0:
                self._commit(out, number, "Move a module", *self._rename())
            else:
                changed = self._edit_some()
                self._commit(out, number, f"Change {changed[0].path}", changed, [])

    def _files_to_add(self) -> int:
        return min(FILES_PER_SEED_COMMIT, self.params.files - len(self.files))

    def _new_file(self) -> _File:
        index = len(self.files)
        package = f"pkg{index % self.params.packages:02d}"
        made = _File(f"app/{package}/mod{index:04d}.py")
        for number in range(self.rng.randint(4, 10)):
            body = [self._statement() for _ in range(self.rng.randint(3, 12))]
            made.functions.append(_Function(f"step_{index}_{number}", body))
        self.files.append(made)
        # Zipf-like activity: a few hot files take most of the edits, as in real projects.
        self.weights.append(1.0 / (self.rng.randint(1, len(self.files)) ** 0.9))
        return made

    def _statement(self) -> str:
        self.counter += 1
        kind = self.rng.randrange(4)
        if kind == 0:
            return f"result = result + {self.counter % 997}"
        if kind == 1:
            return f"result = math.floor(result * {1 + self.counter % 13}) // {1 + self.counter % 7}"
        if kind == 2:
            return f"result = max(result, value - {self.counter % 101})"
        return f"result = abs(result - {self.counter % 89})  # tweak {self.counter}"

    def _edit_some(self) -> list[_File]:
        count = self.rng.choice((1, 1, 1, 2, 2, 3))
        chosen = {id(f): f for f in self.rng.choices(self.files, weights=self.weights, k=count)}
        for edited in chosen.values():
            for _ in range(self.rng.randint(1, 3)):
                self._edit_function(self.rng.choice(edited.functions))
        return list(chosen.values())

    def _edit_function(self, function: _Function) -> None:
        roll = self.rng.random()
        where = self.rng.randrange(len(function.body) + 1)
        if roll < 0.3 or len(function.body) < 3:
            function.body.insert(where, self._statement())
        elif roll < 0.4:
            del function.body[min(where, len(function.body) - 1)]
        else:
            function.body[min(where, len(function.body) - 1)] = self._statement()

    def _rename(self) -> tuple[list[_File], list[tuple[str, str]]]:
        moved = self.rng.choice(self.files)
        old = moved.path
        moved.path = old.replace(".py", "_moved.py").replace("/mod", "/renamed_mod")
        return [moved], [(old, moved.path)]

    def _commit(
        self, out: IO[bytes], number: int, message: str, changed: list[_File], renames: list[tuple[str, str]]
    ) -> None:
        self.when += self.rng.randint(5 * 60, 10 * 3600)
        name, email = self.authors[self.rng.randrange(len(self.authors))]
        text = f"{message} ({number})\n".encode()
        out.write(b"commit refs/heads/main\n")
        out.write(f"author {name} <{email}> {self.when} +0000\n".encode())
        out.write(f"committer {name} <{email}> {self.when} +0000\n".encode())
        out.write(b"data %d\n%s" % (len(text), text))
        for old, new in renames:
            out.write(f'R "{old}" "{new}"\n'.encode())
        for one in changed:
            content = one.render()
            out.write(f"M 100644 inline {one.path}\ndata {len(content)}\n".encode() + content + b"\n")
        out.write(b"\n")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout
