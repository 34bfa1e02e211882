"""The function that encloses a line: its name and line range, for blame and for reasons.

Python files are read with ``ast`` (exact, decorators included); other languages by a light heuristic: brace
languages find the nearest function header above the line and its closing brace, Ruby its ``def … end`` by
indentation. Files over ``MAX_BYTES`` get no scope: the caller falls back to a window around the line.

A Python file is parsed once into a ``FunctionTable`` (every function's name and span); ``ScopeCache`` keeps the
tables of the files a process keeps seeing, so a frame in a file parsed before is a lookup.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

MAX_BYTES = 2 * 1024 * 1024
# The kind under which a file's functions are kept in the store: a new version when ``python_functions`` changes
# what it finds, so tables of the old parse are never read again (they age out).
FUNCTIONS_KIND = "functions-v1"
_BRACE_HEADER = re.compile(
    r"^\s*(?:export\s+)?(?:(?:public|private|protected|static|final|async|override|suspend|internal|abstract)\s+)*"
    r"(?:func\s+(?:\([^)]*\)\s*)?(?P<go>\w+)|function\s*\*?\s*(?P<js>\w+)|fun\s+(?P<kt>\w+)"
    r"|(?:const|let|var)\s+(?P<arrow>\w+)\s*=\s*(?:async\s*)?(?:\([^)]*\)|\w+)\s*=>"
    r"|(?:[\w<>\[\],.?]+\s+)+(?P<java>\w+)\s*\([^;]*\)\s*(?:throws\s+[\w.,\s]+)?\{?\s*$"
    r"|(?P<method>(?!if\b|for\b|while\b|switch\b|catch\b|return\b)\w+)\s*\([^;]*\)\s*\{)"
)
_ANNOTATIONS = re.compile(r"^\s*(?:@[\w.]+(?:\([^)]*\))?\s+)+")
_KEYWORDS = frozenset({"if", "for", "while", "switch", "catch", "return", "new", "else", "synchronized", "do", "try"})
_HEADER_LINES = 4  # a header's parameter list may run over this many lines
_RUBY_DEF = re.compile(r"^(?P<indent>\s*)def\s+(?:self\.)?(?P<name>[\w?!=]+)")
_BRACE_SUFFIXES = (
    ".js",
    ".jsx",
    ".ts",
    ".tsx",
    ".mjs",
    ".cjs",
    ".java",
    ".kt",
    ".go",
    ".c",
    ".cc",
    ".cpp",
    ".cs",
    ".swift",
    ".scala",
    ".rs",
    ".php",
)
_MAX_HEADER_DISTANCE = 400
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")  # the fields of a statement that hold statements
_MAX_HEADER_CHARS = 300


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    start: int  # 1-based, inclusive
    end: int


def enclosing_scope(lines: tuple[str, ...], line: int, path: str) -> Scope | None:
    """The innermost function around ``line`` (1-based), or None at module level or when unknown."""
    if not lines or not 0 < line <= len(lines) or sum(len(x) + 1 for x in lines) > MAX_BYTES:
        return None
    if path.endswith(".py"):
        return python_functions(lines).enclosing(line)
    if path.endswith(".rb"):
        return _ruby_scope(lines, line)
    if path.endswith(_BRACE_SUFFIXES):
        return _brace_scope(lines, line)
    return None


@dataclass(frozen=True, slots=True)
class FunctionTable:
    """A Python file's functions, parsed once: every (possibly nested) function with its qualified name and
    line span, so the scope of any line is a lookup."""

    functions: tuple[Scope, ...]  # a class is no scope but prefixes its methods' names

    def enclosing(self, line: int) -> Scope | None:
        """The innermost function around ``line``: of those whose span holds it, the one starting last (a nested
        definition starts on a later line than the one around it)."""
        best: Scope | None = None
        for scope in self.functions:
            if scope.start <= line <= scope.end and (best is None or scope.start >= best.start):
                best = scope
        return best


def python_functions(lines: tuple[str, ...]) -> FunctionTable:
    """Every function of a Python file (decorators included in its span), from one ``ast.parse``."""
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return FunctionTable(())  # no line of a file that does not parse has a scope
    found: list[Scope] = []
    # Only statements hold definitions (a lambda is no scope): the walk goes through bodies, never expressions.
    stack: list[tuple[list[ast.AST], str]] = [(list(tree.body), "")]
    while stack:
        nodes, prefix = stack.pop()
        for node in nodes:
            name = prefix
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{node.name}"
                if not isinstance(node, ast.ClassDef):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    found.append(Scope(name, start, node.end_lineno or node.lineno))
                name += "."
            for field in _BODIES:
                inner = getattr(node, field, None)
                if inner:
                    stack.append((inner, name))
    return FunctionTable(tuple(found))


def _brace_scope(lines: tuple[str, ...], line: int) -> Scope | None:
    for start in range(line, max(0, line - _MAX_HEADER_DISTANCE), -1):
        header = lines[start - 1]
        # Long lines (minified code) are never headers worth a regex over them.
        if len(header) > _MAX_HEADER_CHARS:
            continue
        match = _BRACE_HEADER.match(_header_text(lines, start))
        if not match:
            continue
        name = next(value for value in match.groupdict().values() if value)
        if name in _KEYWORDS:
            continue
        end = _closing_brace(lines, start)
        if end is not None and end >= line:
            return Scope(name, start, end)
    return None


def _header_text(lines: tuple[str, ...], start: int) -> str:
    """The header that starts at ``start``: annotations dropped, a parameter list spread over a few lines joined,
    and cut after its opening brace."""
    text = _ANNOTATIONS.sub("", lines[start - 1])
    number = start
    while "(" in text and "{" not in text and ";" not in text and number < min(len(lines), start + _HEADER_LINES):
        text += " " + lines[number].strip()
        number += 1
    return text.split("{", 1)[0] + "{" if "{" in text else text


def _closing_brace(lines: tuple[str, ...], start: int) -> int | None:
    depth, opened = 0, False
    for number in range(start, len(lines) + 1):
        text = re.sub(r"(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`|//.*$)", "", lines[number - 1])
        for char in text:
            if char == "{":
                depth, opened = depth + 1, True
            elif char == "}":
                depth -= 1
                if opened and depth == 0:
                    return number
        if not opened and number - start > 3:
            return None
    return None


def _ruby_scope(lines: tuple[str, ...], line: int) -> Scope | None:
    for start in range(line, max(0, line - _MAX_HEADER_DISTANCE), -1):
        match = _RUBY_DEF.match(lines[start - 1])
        if not match:
            continue
        closing = re.compile(rf"^{re.escape(match['indent'])}end\b")
        for end in range(start + 1, len(lines) + 1):
            if closing.match(lines[end - 1]):
                if end >= line:
                    return Scope(match["name"], start, end)
                break
    return None


class FactsStore(Protocol):
    """Where a file's functions are kept across processes by its blob's sha (``linkers.blame_index.BlameIndex``)."""

    def git_facts(self, kind: str, keys: Sequence[str]) -> dict[str, str]: ...

    def save_git_facts(self, kind: str, values: dict[str, str]) -> None: ...


class ScopeCache:
    """Python files' ``FunctionTable`` by a key that fixes the file's content (repository, revision, path),
    the least recently used dropped past ``max_files``; other languages are looked up line by line."""

    def __init__(self, max_files: int) -> None:
        self.max_files = max_files
        self._tables: OrderedDict[Hashable, FunctionTable] = OrderedDict()
        self._lock = threading.Lock()
        # Blobs the store was asked for and had no functions of: not asked again (a repeated error's files that
        # no frame needed parsed would otherwise cost a read of the store on every triage).
        self._not_kept: set[str] = set()

    def enclosing(
        self,
        key: Hashable,
        lines: tuple[str, ...],
        line: int,
        path: str,
        stored: FactsStore | None = None,
        blob: str | None = None,
    ) -> Scope | None:
        """``enclosing_scope(lines, line, path)``, parsing a Python file once per key; with ``stored`` and the
        file's ``blob`` sha, once per content across processes."""
        if not path.endswith(".py"):
            return enclosing_scope(lines, line, path)
        if not lines or not 0 < line <= len(lines):
            return None
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
                return table.enclosing(line)
        table = None
        if stored is not None and blob is not None and blob not in self._not_kept:
            table = self._kept(stored, blob)
        if table is None:
            too_big = sum(len(x) + 1 for x in lines) > MAX_BYTES
            table = FunctionTable(()) if too_big else python_functions(lines)
            if stored is not None and blob is not None:
                spans = [[f.name, f.start, f.end] for f in table.functions]
                stored.save_git_facts(FUNCTIONS_KIND, {blob: json.dumps(spans, ensure_ascii=False)})
                with self._lock:
                    self._not_kept.discard(blob)
        with self._lock:
            self._tables[key] = table
            while len(self._tables) > self.max_files:
                self._tables.popitem(last=False)
        return table.enclosing(line)

    def preload(self, wanted: Mapping[Hashable, str], stored: FactsStore) -> None:
        """Read the kept functions of the files not in memory (key → blob sha) in one ask of the store, so a
        trace's frames cost one store read, not one each."""
        with self._lock:
            missing = {
                key: blob for key, blob in wanted.items() if key not in self._tables and blob not in self._not_kept
            }
        if not missing:
            return
        kept = stored.git_facts(FUNCTIONS_KIND, sorted(set(missing.values())))
        with self._lock:
            if len(self._not_kept) > 4 * self.max_files:
                self._not_kept.clear()
            self._not_kept.update(blob for blob in missing.values() if blob not in kept)
            for key, blob in missing.items():
                table = _decode_table(kept.get(blob))
                if table is not None:
                    self._tables[key] = table
            while len(self._tables) > self.max_files:
                self._tables.popitem(last=False)

    @staticmethod
    def _kept(stored: FactsStore, blob: str) -> FunctionTable | None:
        return _decode_table(stored.git_facts(FUNCTIONS_KIND, [blob]).get(blob))

    def __len__(self) -> int:
        return len(self._tables)


def _decode_table(kept: str | None) -> FunctionTable | None:
    """A file's functions as the store keeps them; None when absent or a row that does not read (the file is
    parsed instead)."""
    if kept is None:
        return None
    try:
        return FunctionTable(tuple(Scope(str(n), int(start), int(end)) for n, start, end in json.loads(kept)))
    except (ValueError, TypeError):
        return None
