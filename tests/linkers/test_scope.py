"""Enclosing functions, per language."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from linkers.scope import Scope, ScopeCache, enclosing_scope, python_functions

PY = """import functools


class Cart:
    @functools.lru_cache
    def total(self):
        def inner():
            return 1
        return inner()

    async def fetch(self):
        return await thing()


handler = lambda x: x
"""

JS = """export class Cart {
  total(items) {
    return items.reduce((a, b) => a + b, 0);
  }
}

const price = (item) => {
  return item.price * 2;
};

function tax(total) {
  if (total > 10) {
    return total * 0.2;
  }
  return 0;
}
"""

GO = """package shop

func (c *Cart) Total() int {
\tsum := 0
\tfor _, i := range c.items {
\t\tsum += i
\t}
\treturn sum
}
"""

JAVA = """package com.shop;

public class Cart {
    public int total(List<Integer> items) throws IOException {
        int sum = 0;
        return sum / items.size();
    }
}
"""

JAVA_HEADERS = """class Reader {
    @Override public void skipValue() throws IOException {
        int x = 1;
    }

    private static Type getActualType(
            Type typeToEvaluate, Type parentType) {
        return null;
    }

    GroupImpl(final List options,
              final String name) {
        if (a &&
            b) {
            z();
        }
    }
}
"""

RUBY = """class Cart
  def total
    items.sum
  end

  def empty?
    items.empty?
  end
end
"""


@pytest.mark.parametrize(
    ("text", "path", "line", "expected"),
    [
        (PY, "a.py", 9, Scope("Cart.total", 5, 9)),
        (PY, "a.py", 8, Scope("Cart.total.inner", 7, 8)),
        (PY, "a.py", 12, Scope("Cart.fetch", 11, 12)),
        (PY, "a.py", 15, None),
        (PY, "a.py", 1, None),
        (JS, "a.js", 3, Scope("total", 2, 4)),
        (JS, "a.ts", 8, Scope("price", 7, 9)),
        (JS, "a.js", 13, Scope("tax", 11, 16)),
        (GO, "a.go", 6, Scope("Total", 3, 9)),
        (JAVA, "A.java", 6, Scope("total", 4, 7)),
        (JAVA_HEADERS, "A.java", 3, Scope("skipValue", 2, 4)),  # an annotation on the header's line
        (JAVA_HEADERS, "A.java", 8, Scope("getActualType", 6, 9)),  # parameters on the next line
        (JAVA_HEADERS, "A.java", 15, Scope("GroupImpl", 11, 17)),  # a constructor; `if (` over two lines is no header
        (RUBY, "a.rb", 3, Scope("total", 2, 4)),
        (RUBY, "a.rb", 7, Scope("empty?", 6, 8)),
    ],
)
def test_enclosing_scope(text: str, path: str, line: int, expected: Scope | None) -> None:
    assert enclosing_scope(tuple(text.splitlines()), line, path) == expected


def test_broken_python_and_unknown_languages_give_none() -> None:
    assert enclosing_scope(("def f(:", "  pass"), 2, "a.py") is None
    assert enclosing_scope(("x = 1",), 1, "a.txt") is None
    assert enclosing_scope(("x",), 5, "a.py") is None


def test_minified_lines_are_not_scanned() -> None:
    lines = ("a" * 100_000 + "(", "x();")
    assert enclosing_scope(lines, 2, "a.js") is None


def _walked_scope(tree: ast.Module, line: int) -> Scope | None:
    """The enclosing function as found before ``FunctionTable``: one walk of the tree per line, pruned at every
    class or function whose span does not hold the line."""
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


NESTED = """import functools


def outer():
    @functools.cache
    def middle():
        class Local:
            @staticmethod
            def deep(): return 1
        def sibling():
            return lambda: 2
        return Local, sibling
    return middle


class A:
    class B:
        async def c(self):
            def d(): pass
            return d


async def blocks(x):
    try:
        def in_try(): pass
    except ValueError:
        def in_except(): pass
    else:
        def in_else(): pass
    finally:
        def in_finally(): pass
    while x:
        def in_while(): pass
    else:
        def in_while_else(): pass
    async with x as y:
        def in_with(): pass
    async for z in y:
        def in_for(): pass
    match x:
        case [1, *rest] if rest:
            def in_case(): pass
    if x:
        def in_if(): pass
    elif y:
        def in_elif(): pass
    return [lambda: 1 for _ in x]
"""


def test_the_function_table_answers_every_line_as_one_walk_per_line_did() -> None:
    """Every line of the linkers' own Python files and of nested examples: the same scope, name and span."""
    root = Path(__file__).resolve().parents[2]
    sources = [NESTED, PY, *(p.read_text() for p in sorted((root / "linkers").glob("*.py")))]
    checked = 0
    for text in sources:
        lines = tuple(text.splitlines())
        table, tree = python_functions(lines), ast.parse(text)
        for line in range(1, len(lines) + 1):
            assert table.enclosing(line) == _walked_scope(tree, line)
            checked += 1
        middle = len(lines) // 2 or 1
        assert enclosing_scope(lines, middle, "a.py") == table.enclosing(middle)
    assert checked > 2000


def test_the_scope_cache_parses_a_file_once_per_key_and_keeps_at_most_its_limit() -> None:
    cache = ScopeCache(max_files=2)
    lines = tuple(PY.splitlines())
    for key in ("rev1:a.py", "rev2:a.py", "rev3:a.py"):
        assert cache.enclosing(key, lines, 8, "a.py") == Scope("Cart.total.inner", 7, 8)
    assert len(cache) == 2  # the least recently used went
    # The key fixes the content: a key seen before answers from its table, not from the lines passed.
    assert cache.enclosing("rev3:a.py", ("x = 1",) * 20, 12, "a.py") == Scope("Cart.fetch", 11, 12)
    assert cache.enclosing("rev4:b.py", ("def f(:", "  pass"), 2, "b.py") is None  # does not parse: no scope
    assert cache.enclosing("rev5:a.rb", tuple(RUBY.splitlines()), 3, "a.rb") == Scope("total", 2, 4)
    assert cache.enclosing("rev3:a.py", lines, 99, "a.py") is None  # past the end
