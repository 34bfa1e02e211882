"""Property tests: no exception but ParseError escapes the parsers, whatever the text.

Fast in CI (a few hundred examples); INCIDENTBOT_FUZZ_EXAMPLES=20000 runs longer locally.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentbot.errors import ParseError
from incidentbot.parse import parse_trace

EXAMPLES = int(os.environ.get("INCIDENTBOT_FUZZ_EXAMPLES", "300"))
FRAGMENTS = [
    "Traceback (most recent call last):\n",
    '  File "/srv/app/a.py", line 3, in f\n',
    "    x = 1\n",
    "    ^^^^\n",
    "ValueError: v\n",
    "During handling of the above exception, another exception occurred:\n",
    "  + Exception Group Traceback (most recent call last):\n",
    "  +-+---------------- 1 ----------------\n",
    "    | ",
    "    at f (/a.js:1:2)\n",
    "\tat a.B.c(B.java:3)\n",
    "Caused by: java.lang.E: m\n",
    "\t... 2 more\n",
    "panic: p\n",
    "goroutine 1 [running]:\n",
    "main.f()\n",
    "\t/a.go:3 +0x1\n",
    "/a.rb:1:in 'f': m (E)\n",
    "\tfrom /b.rb:2:in 'g'\n",
    '{"exception": {"values": [',
    "]}}",
    "ZeroDivisionError                         Traceback (most recent call last)\n",
    "Cell In[3], line 2\n",
    "----> 8 return total / discount\n",
    "File /srv/app/a.py:8, in f(x)\n",
    "____ test_f ____\n",
    "pkg/a.py:3: in f\n",
    "pkg/a.py:3: ZeroDivisionError\n",
    ">       return 1 / 0\n",
    "E       ZeroDivisionError: division by zero\n",
    "_ _ _ _ _ _\n",
    "╭──── Traceback (most recent call last) ────╮\n",
    "│ /srv/app/a.py:8 in f                      │\n",
    "│ ❱ 8 │   return 1 / 0                       │\n",
    "│ ╭─ locals ─╮ │\n",
    "│                                           │\n",
    "╰───────────────────────────────────────────╯\n",
    "The above exception was the direct cause of \n",
    "  Stack trace:\n",
    "  2  src/a.py:8 in f\n",
    "  KeyError\n",
    "  at src/a.py:8 in f\n",
    "    →  8│ return 1 / 0\n",
    "The following error occurred when trying to handle this error:\n",
    "\x1b[31m",
    "\r\n",
    "\x00",
]
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parses_or_says_why(text: str) -> None:
    try:
        trace = parse_trace(text)
    except ParseError as exc:
        assert exc.hint
        return
    assert trace.exceptions
    for exc in trace.exceptions:
        assert isinstance(exc.type, str)


@SETTINGS
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    _parses_or_says_why(text)


@SETTINGS
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=20), max_size=40))
def test_shuffled_trace_fragments(parts: list[str]) -> None:
    _parses_or_says_why("".join(parts))


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "exception",
                        "values",
                        "stacktrace",
                        "frames",
                        "entries",
                        "type",
                        "data",
                        "lineno",
                        "filename",
                        "in_app",
                        "vars",
                        "release",
                        "threads",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=30,
    )
)
def test_sentry_shaped_json(value: object) -> None:
    _parses_or_says_why(json.dumps(value))


@SETTINGS
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=20), max_size=40).map("".join))
def test_each_text_parser_alone_returns_a_trace_or_none(text: str) -> None:
    """Every parser, not only the one that wins the sniffing, survives any text."""
    from incidentbot.parse import cleo_trace, ipython, pytest_report, python, rich_traceback, stacks
    from incidentbot.settings import Limits

    limits = Limits()
    own = (python.parse, ipython.parse, pytest_report.parse, rich_traceback.parse, cleo_trace.parse)
    text_parsers = (*own, *(parser for _, parser in stacks.TEXT_PARSERS))
    for parser in text_parsers:
        trace = parser(text, limits)
        assert trace is None or all(isinstance(e.type, str) for e in trace.exceptions)


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=30,
    ),
    st.sampled_from(["exception", "entries", "threads"]),
)
def test_sentry_event_parser_survives_any_value_under_its_keys(value: object, key: str) -> None:
    from incidentbot.parse.sentry_event import parse_event
    from incidentbot.settings import Limits

    trace = parse_event({key: value, "tags": value, "release": value, "timestamp": value}, Limits())
    assert trace is None or trace.exceptions
