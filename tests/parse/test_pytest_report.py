"""pytest's failure reports (``--tb=auto``, ``long``, ``short``, ``line``) read as traces.

The golden samples in tests/data/traces/pytest_*.txt were printed by pytest 9 (paths moved to /srv/app); these
tests cover what they do not: where the function comes from in a long entry, and text that only looks similar.
"""

from __future__ import annotations

import pytest

from incidentbot.parse import parse_trace, pytest_report


def _long_entry(body: str, location: str = "pkg/mod.py:7: ZeroDivisionError") -> str:
    return f"____ test_x ____\n\n{body}\n\n{location}\n"


def test_the_function_is_the_def_that_encloses_the_failing_line_not_a_nested_one() -> None:
    body = (
        "    def outer(values):\n"
        "        def inner():\n"
        "            return 1\n"
        "        for v in values:\n"
        ">           total = 1 / v\n"
        "E           ZeroDivisionError: division by zero"
    )
    frame = parse_trace(_long_entry(body)).primary.frames[-1]
    assert (frame.filename, frame.lineno, frame.function) == ("pkg/mod.py", 7, "outer")
    assert frame.context_line == "total = 1 / v"


def test_a_method_and_an_async_function_are_named() -> None:
    method = "    class Cart:\n        def total(self):\n>           return 1 / 0\nE           ZeroDivisionError: x"
    assert parse_trace(_long_entry(method)).primary.frames[-1].function == "total"
    coroutine = "    async def fetch(url):\n>       return 1 / 0\nE       ZeroDivisionError: x"
    assert parse_trace(_long_entry(coroutine)).primary.frames[-1].function == "fetch"


def test_module_level_code_has_no_function() -> None:
    body = "    import os\n>   VALUE = 1 / 0\nE   ZeroDivisionError: division by zero"
    frame = parse_trace(_long_entry(body, "pkg/settings.py:2: ZeroDivisionError")).primary.frames[-1]
    assert frame.function is None and frame.lineno == 2


def test_a_bare_assert_takes_its_type_from_the_location_line() -> None:
    body = "    def test_x():\n        x = 3\n>       assert x == 4\nE       assert 3 == 4"
    exc = parse_trace(_long_entry(body, "tests/test_x.py:3: AssertionError")).primary
    assert (exc.type, exc.value) == ("AssertionError", "assert 3 == 4")


def test_windows_paths_and_dotted_types() -> None:
    text = (
        "C:\\proj\\tests\\test_x.py:5: in test_x\n"
        "    load()\n"
        "C:\\proj\\pkg\\io.py:9: in load\n"
        "    raise errors.BadInput(name)\n"
        "E   pkg.errors.BadInput: cart.json\n"
    )
    exc = parse_trace(text).primary
    assert [(f.filename, f.lineno, f.function) for f in exc.frames] == [
        ("C:\\proj\\tests\\test_x.py", 5, "test_x"),
        ("C:\\proj\\pkg\\io.py", 9, "load"),
    ]
    assert (exc.type, exc.module, exc.value) == ("pkg.errors.BadInput", "pkg.errors", "cart.json")


def test_captured_output_after_the_traceback_is_not_read_as_frames() -> None:
    text = (
        "____ test_x ____\n"
        "pkg/mod.py:6: in f\n"
        "    return 1 / 0\n"
        "E   ZeroDivisionError: division by zero\n"
        "----------------------------- Captured stderr call -----------------------------\n"
        "pkg/other.py:3: DeprecationWarning: old\n"
    )
    assert [f.filename for f in parse_trace(text).primary.frames] == ["pkg/mod.py"]


@pytest.mark.parametrize(
    "text",
    [
        "app/models/cart.rb:12:in 'total': divided by 0 (ZeroDivisionError)\n\tfrom app.rb:3:in '<main>'\n",
        "pkg/mod.py:3: DeprecationWarning: old\n  warnings.warn('old')\n",
        "E   something without any location\n",
    ],
)
def test_text_that_only_looks_similar_is_no_pytest_report(text: str) -> None:
    assert not pytest_report.sniff(text)
