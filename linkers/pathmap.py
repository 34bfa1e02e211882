"""Map each frame's reported path to a file tracked at the triage revision, and decide what is in-app.

Order: configured code mappings (stack root → source root), then the longest whole-component suffix match
against the tracked files, then the Python or Java module name. Ties are broken by the stack roots that the
trace's unambiguous frames reveal; a tie that stays is reported, not guessed. Third-party and standard-library
paths are never matched, unless the package is the repository's own. Only tracked regular files are ever
considered, so no path in a trace can make incidentbot read a file outside the repository.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Self

from incidentbot.models import Evidence, ExceptionInfo, Frame
from incidentbot.repo import RepoView
from incidentbot.settings import PathMapping, Settings
from linkers.align import align_frame
from linkers.running_revision import infer_running_revision
from linkers.scope import FactsStore

# An egg (setuptools' easy_install, common in older traces) is one more folder: site-packages/Foo-1.0-py3.8.egg/foo/.
_THIRD_PARTY = re.compile(r"(^|/)(site-packages|dist-packages|node_modules)/(?:[^/]+\.egg/)?")
_STDLIB = re.compile(
    r"(^|/)lib/python\d(\.\d+)?/(?!site-packages/|dist-packages/)|^<[^>]*>$|^(/usr/local/go|/usr/lib/go[^/]*)/src/"
    r"|^node:|^internal/|(^|/)(Python\d+|python\d+)/Lib/(?!site-packages/)"
)
_JVM_PACKAGES = ("java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala.")
_VENDORED = ("vendor/", "third_party/", "third-party/", "thirdparty/", "external/", "node_modules/")
_URL_PREFIX = re.compile(r"^(?:webpack|app|file|https?|rsc|turbopack)://+(?:[^/]*/)?")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")
_SOURCE_FOLDERS = ("src", "lib", "python", "packages")
MAX_HISTORY = 2000  # the newest commits searched for where a file that is gone lived
_MAX_SUFFIX_MEMO = 8192  # paths whose candidates an index keeps (a daemon's traces name the same files)


@dataclass(frozen=True, slots=True)
class _Index:
    """Tracked files by basename, for suffix matching without scanning every file per frame."""

    by_name: dict[str, tuple[str, ...]]
    top_level: frozenset[str]
    # A repeated error maps the same paths again: each path's candidates are worked out once per index.
    suffix_memo: dict[str, tuple[str, ...]] = field(default_factory=dict)


class PathMapper:
    """Linker: sets each frame's ``repo_path``, ``repo_line``, ``alignment`` and final ``in_app``."""

    name = "pathmap"

    def __init__(
        self,
        mappings: tuple[PathMapping, ...],
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        stored: FactsStore | None = None,
    ):
        self.mappings = tuple(sorted(mappings, key=lambda m: -len(m.stack_root)))
        self.include = include
        self.exclude = tuple(prefix.rstrip("/") + "/" for prefix in exclude)
        self.stored = stored  # where the running code, once recognised, is kept for the next process

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        from linkers.blame_index import index_or_none

        return cls(settings.path_mappings, settings.in_app_include, settings.in_app_exclude, index_or_none(settings))

    def link(self, evidence: Evidence, repo: RepoView) -> Evidence:
        rev = evidence.revision
        if rev is None:
            return evidence.with_warning("no revision: frames were not mapped to the repository")
        mapped = self._map_at(evidence, repo, rev)
        if evidence.revision_pinned:
            return mapped
        frames = [f for exc in mapped.trace.exceptions for f in exc.frames]
        in_app = [f for f in frames if f.in_app and f.repo_path]
        gone = self._gone(frames, repo, rev, in_app)
        ordered = [gone.get(f, f) for f in frames if (f.in_app and f.repo_path) or f in gone]  # the raise last
        running = infer_running_revision(repo, rev, ordered, self.stored)
        if running is None:
            return mapped
        reason = (
            f"the commit whose files hold the trace's source lines ({running.matched} of {running.checked} frames; "
            f"the earliest of the newest such run), instead of the {evidence.revision_reason or 'revision by time'}"
        )
        moved = replace(evidence, revision=running.sha, revision_reason=reason)
        return self._map_at(moved, repo, running.sha)

    def _gone(self, frames: list[Frame], repo: RepoView, rev: str, in_app: list[Frame]) -> dict[Frame, Frame]:
        """Frames of our code whose file is not at ``rev`` (moved or deleted since the code ran), each to itself
        with the path it had in the history, when one path fits it best. Where other frames did map, only paths under
        the same deployment root count (a user's own script beside a library's frames is not looked for)."""
        index = _index(repo, rev)
        roots = {normalise(f.abs_path or f.filename).removesuffix(str(f.repo_path)) for f in in_app if f.repo_path}
        wanted = []
        for frame in frames:
            path = normalise(frame.abs_path or frame.filename)
            unreadable = not path or "\0" in path or "\n" in path or self._jvm(frame) or self._foreign(path, index)
            beside = not roots or any(path.startswith(root) for root in roots)
            if frame.repo_path is None and frame.context_line and not unreadable and beside:
                wanted.append((path, frame))
        if not wanted:
            return {}
        names = sorted({path.rsplit("/", 1)[-1] for path, _ in wanted})
        known = repo.paths_named(rev, names, MAX_HISTORY)
        history = _Index(_by_name(known), frozenset())
        found = {}
        for path, frame in wanted:
            installed = _THIRD_PARTY.search(path)
            candidates = _suffix_candidates(path[installed.end() :] if installed else path, history)
            if len(candidates) == 1:
                found[frame] = replace(frame, repo_path=candidates[0])
        return found

    def _map_at(self, evidence: Evidence, repo: RepoView, rev: str) -> Evidence:
        index = _index(repo, rev)
        tracked = repo.tracked_set(rev)
        warnings: list[str] = []
        roots = self._learn_roots(evidence, index, tracked)
        exceptions = []
        for exc in evidence.trace.exceptions:
            frames = tuple(self._map(frame, index, tracked, roots, repo, rev, warnings) for frame in exc.frames)
            exceptions.append(replace(exc, frames=frames))
        unmapped = _unmapped_in_app(exceptions)
        if unmapped:
            warnings.append(
                f"in-app frame(s) not found in the repository: {', '.join(unmapped[:5])} — add a path mapping "
                "([[path_mappings]] stack_root=... source_root=... in incidentbot.toml)"
            )
        trace = replace(evidence.trace, exceptions=tuple(exceptions))
        return replace(evidence, trace=trace, warnings=evidence.warnings + tuple(dict.fromkeys(warnings)))

    def _learn_roots(self, evidence: Evidence, index: _Index, tracked: frozenset[str]) -> dict[str, str]:
        """Stack root → source root pairs that unambiguous frames of this trace reveal."""
        roots: dict[str, str] = {}
        for exc in evidence.trace.exceptions:
            for frame in exc.frames:
                path = normalise(frame.abs_path or frame.filename)
                if self._foreign(path, index):
                    continue
                candidates = _suffix_candidates(path, index)
                if len(candidates) == 1:
                    match = candidates[0]
                    roots.setdefault(path[: len(path) - len(match)], "")
        return roots

    def _map(
        self,
        frame: Frame,
        index: _Index,
        tracked: frozenset[str],
        roots: dict[str, str],
        repo: RepoView,
        rev: str,
        warnings: list[str],
    ) -> Frame:
        repo_path = self._find(frame, index, tracked, roots, warnings)
        if repo_path is None:
            return replace(frame, repo_path=None, repo_line=None, in_app=bool(frame.in_app) and not self._jvm(frame))
        in_app = not repo_path.startswith(_VENDORED) and not repo_path.startswith(self.exclude)
        mapped = replace(frame, repo_path=repo_path, in_app=in_app)
        aligned, warning = align_frame(mapped, repo.read_lines(repo_path, rev))
        if warning:
            warnings.append(warning)
        return aligned

    def _find(
        self, frame: Frame, index: _Index, tracked: frozenset[str], roots: dict[str, str], warnings: list[str]
    ) -> str | None:
        path = normalise(frame.abs_path or frame.filename)
        if not path or "\0" in path or "\n" in path:
            return None
        for mapping in self.mappings:
            root = normalise(mapping.stack_root)
            if root and path.startswith(root):
                candidate = posixpath.normpath(posixpath.join(mapping.source_root, path[len(root) :].lstrip("/")))
                if candidate in tracked:
                    return candidate
        if self._foreign(path, index) or self._jvm(frame):
            return None
        installed = _THIRD_PARTY.search(path)
        if installed:  # our own package, installed: match what follows site-packages/
            path = path[installed.end() :]
        candidates = _suffix_candidates(path, index)
        if len(candidates) > 1:
            candidates = [c for c in candidates if any(path == root + c for root in roots)] or candidates
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            warnings.append(
                f"{frame.filename} matches several files ({', '.join(sorted(candidates)[:3])}); add a path mapping"
            )
            return None
        return _module_fallback(frame, tracked)

    def _foreign(self, path: str, index: _Index) -> bool:
        """Standard library or third-party code, unless the package is the repository's own."""
        if _STDLIB.search(path):
            return True
        match = _THIRD_PARTY.search(path)
        if not match:
            return False
        # A package folder, or a single-module distribution such as site-packages/toml.py.
        package = path[match.end() :].split("/", 1)[0].removesuffix(".py")
        own = package in index.top_level or any(package == inc.split(".")[0] for inc in self.include)
        return not own

    @staticmethod
    def _jvm(frame: Frame) -> bool:
        return bool(frame.module) and str(frame.module).startswith(_JVM_PACKAGES)


@lru_cache(maxsize=8192)
def normalise(path: str) -> str:
    """A reported path as a clean forward-slash path: URLs, Windows drives and ``..`` resolved lexically."""
    text = path.strip().replace("\\", "/")
    text = _URL_PREFIX.sub("/", text)
    text = text.split("?", 1)[0].split("#", 1)[0]
    text = _WINDOWS_DRIVE.sub("/", text)
    if text.startswith("~/"):
        text = text[1:]
    clean = posixpath.normpath(text) if text else ""
    return "" if clean in (".", "/") else clean


def _suffix_candidates(path: str, index: _Index) -> list[str]:
    """Tracked files sharing the longest run of trailing path components with ``path``."""
    known = index.suffix_memo.get(path)
    if known is None:
        if len(index.suffix_memo) >= _MAX_SUFFIX_MEMO:
            index.suffix_memo.clear()
        known = index.suffix_memo[path] = tuple(_longest_suffix_matches(path, index))
    return list(known)


def _longest_suffix_matches(path: str, index: _Index) -> list[str]:
    parts = [p for p in path.split("/") if p and p != ".."]
    if not parts:
        return []
    files = index.by_name.get(parts[-1], ())
    best, found = 0, []
    for candidate in files:
        cparts = candidate.split("/")
        shared = 0
        while shared < min(len(parts), len(cparts)) and parts[-1 - shared] == cparts[-1 - shared]:
            shared += 1
        # One path must end the other, or they share a folder and the file name (src/shop/x.py ~ /srv/shop/x.py);
        # a lone file name shared by unrelated paths is no match.
        if shared not in (len(cparts), len(parts)) and shared < 2:
            continue
        if shared > best:
            best, found = shared, [candidate]
        elif shared == best:
            found.append(candidate)
    return found


def _module_fallback(frame: Frame, tracked: frozenset[str]) -> str | None:
    """``shop.cart`` → ``shop/cart.py``; Java ``com.foo.Bar`` in ``Bar.java`` → ``…/com/foo/Bar.java``."""
    module = frame.module
    if not module or not re.fullmatch(r"[\w.$]+", module):
        return None
    base = module.replace(".", "/")
    if frame.filename.endswith((".java", ".kt", ".scala")):
        package = base.rsplit("/", 1)[0] if "/" in base else ""
        outer = frame.filename.split("/")[-1]
        wanted = f"{package}/{outer}" if package else outer
        matches = [p for p in tracked if p == wanted or p.endswith("/" + wanted)]
        return matches[0] if len(matches) == 1 else None
    for suffix in (f"{base}.py", f"{base}/__init__.py"):
        for prefix in ("", "src/", "lib/"):
            if prefix + suffix in tracked:
                return prefix + suffix
    return None


def _unmapped_in_app(exceptions: list[ExceptionInfo]) -> list[str]:
    return [f.filename for exc in exceptions for f in exc.frames if f.in_app and f.repo_path is None]


@lru_cache(maxsize=8)
def _index(repo: RepoView, rev: str) -> _Index:
    """The index of the files tracked at ``rev``, built once per repository view and revision."""
    files = repo.tracked_files(rev)
    top_level: set[str] = set()
    for path in files:
        parts = path.split("/")
        if len(parts) == 1:
            top_level.add(parts[0].removesuffix(".py"))
            continue
        top_level.add(parts[0])
        if parts[0] in _SOURCE_FOLDERS:
            top_level.add(parts[1].removesuffix(".py"))  # src/shop/… is the package shop, src/shop.py the module
    return _Index(_by_name(files), frozenset(top_level))


def _by_name(paths: Iterable[str]) -> dict[str, tuple[str, ...]]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        by_name[path.rsplit("/", 1)[-1]].append(path)
    return {name: tuple(found) for name, found in by_name.items()}
