"""The function that encloses a line: its name and line range, for blame and for reasons.

Python files are read with ``ast`` (exact, decorators included); other languages by a light heuristic: brace
languages find the nearest function header above the line and its closing brace, Ruby its ``def … end`` by
indentation. Files over ``MAX_BYTES`` get no scope: the caller falls back to a window around the line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

MAX_BYTES = 2 * 1024 * 1024
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
        return _python_scope(lines, line)
    if path.endswith(".rb"):
        return _ruby_scope(lines, line)
    if path.endswith(_BRACE_SUFFIXES):
        return _brace_scope(lines, line)
    return None


def _python_scope(lines: tuple[str, ...], line: int) -> Scope | None:
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    best: Scope | None = None
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                if not start <= line <= end:
                    continue
                if not isinstance(child, ast.ClassDef) and (best is None or start >= best.start):
                    best = Scope(name, start, end)
                name += "."
            stack.append((child, name))
    return best


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
