"""Enclosing functions, per language."""

from __future__ import annotations

import pytest

from linkers.scope import Scope, enclosing_scope

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
