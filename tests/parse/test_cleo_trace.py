"""cleo's (Poetry's) error output: what the golden samples (tests/data/traces/python_cleo*.txt) do not cover."""

from __future__ import annotations

from incidentbot.parse import cleo_trace, parse_trace

POETRY = """Installing dependencies from lock file

Package operations: 1 install, 0 updates, 0 removals

Done

  KeyError

  'name'

  at ~/.local/share/pypoetry/venv/lib/python3.11/site-packages/poetry/installation/executor.py:123 in run
      119│         try:
      120│             result = self._execute_operation(operation)
      121│         except KeyError:
      122│             pass
    → 123│         name = package["name"]
      124│
"""


def test_a_one_word_progress_line_before_the_error_is_not_its_type() -> None:
    exc = parse_trace(POETRY).primary
    assert (exc.type, exc.value) == ("KeyError", "'name'")
    frame = exc.frames[-1]
    assert frame.filename.endswith("poetry/installation/executor.py") and frame.lineno == 123
    assert (frame.function, frame.context_line) == ("run", 'name = package["name"]')


def test_a_javascript_or_java_at_line_is_no_cleo_frame() -> None:
    assert not cleo_trace.sniff("Error: x\n    at f (/srv/app/a.js:3:9)\n\tat com.shop.Cart.total(Cart.java:3)\n")


def test_a_one_word_message_stays_the_message() -> None:
    text = "\n  KeyError\n\n  name\n\n  at src/app.py:3 in f\n    →  3│ return d[name]\n"
    exc = parse_trace(text).primary
    assert (exc.type, exc.value) == ("KeyError", "name")
    assert exc.frames[-1].context_line == "return d[name]"
