"""Partial, hostile or malformed input: what can be read plus a warning, or ParseError; never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from incidentbot.errors import ParseError
from incidentbot.parse import parse_trace
from incidentbot.settings import Limits

DATA = Path(__file__).resolve().parents[1] / "data" / "traces"
PYTHON = (DATA / "python_chained.txt").read_text()


@pytest.mark.parametrize("text", ["", "   \n\n", "hello world", "\x00\x01\x02\xff", "{", "[1, 2", "{}", "null", "[]"])
def test_nothing_recognisable_is_a_parse_error_with_a_hint(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_trace(text)
    assert info.value.hint and "Sentry event JSON" in info.value.hint


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.txt")))
@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_samples_give_what_can_be_read(name: str, cut: float) -> None:
    text = (DATA / name).read_text(errors="replace")
    part = text[: int(len(text) * cut)]
    try:
        trace = parse_trace(part)
    except ParseError:
        return
    assert trace.exceptions


def test_truncated_python_traceback_warns() -> None:
    part = PYTHON[: PYTHON.index("RuntimeError: config")]
    trace = parse_trace(part)
    assert trace.exceptions[-1].type == "UnknownError"
    assert any("ended before its exception line" in w for w in trace.warnings)


def test_missing_and_zero_line_numbers() -> None:
    text = 'Traceback (most recent call last):\n  File "/srv/app/a.py", line 0, in f\n    x()\nValueError: v\n'
    trace = parse_trace(text)
    assert trace.frames[0].lineno is None
    event = {"exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"filename": "a.py"}, {"lineno": 0}]}}]}}
    frames = parse_trace(json.dumps(event)).frames
    assert [f.lineno for f in frames] == [None, None]


def test_ten_thousand_frames_are_capped_to_the_innermost() -> None:
    frame = '  File "/srv/app/a.py", line {n}, in f{n}\n    f()\n'
    text = "Traceback (most recent call last):\n" + "".join(frame.format(n=n) for n in range(1, 10_001))
    trace = parse_trace(text + "RecursionError: too deep\n", Limits(max_frames=500))
    assert len(trace.frames) == 500
    assert trace.frames[-1].function == "f10000"
    assert any("kept the 500 nearest the raise" in w for w in trace.warnings)


def test_sixty_chained_exceptions_are_capped_to_the_last_raised() -> None:
    block = 'Traceback (most recent call last):\n  File "/srv/app/a.py", line {n}, in f\nE{n}: m\n'
    marker = "\nDuring handling of the above exception, another exception occurred:\n\n"
    text = marker.join(block.format(n=n) for n in range(60))
    trace = parse_trace(text, Limits(max_exceptions=50))
    assert len(trace.exceptions) == 50
    assert trace.exception_type == "E59"
    assert any("kept the last 50" in w for w in trace.warnings)


def test_a_five_megabyte_line_is_cut_not_parsed() -> None:
    text = PYTHON + "x" * 5_000_000 + "\n"
    trace = parse_trace(text)
    assert trace.exception_type == "RuntimeError"
    assert any("were cut" in w for w in trace.warnings)


def test_input_over_the_byte_limit_is_cut() -> None:
    trace = parse_trace(PYTHON + "noise\n" * 1000, Limits(max_input_bytes=len(PYTHON) + 10))
    assert any("input cut" in w for w in trace.warnings)


@pytest.mark.parametrize(
    "event",
    [
        {"exception": None},
        {"exception": {"values": None}},
        {"exception": {"values": [None, 3, "x"]}},
        {"exception": {"values": [{"type": None, "value": {"a": 1}, "stacktrace": {"frames": None}}]}},
        {
            "exception": {
                "values": [{"type": "E", "stacktrace": {"frames": [None, 1, {"lineno": "x", "in_app": "yes"}]}}]
            }
        },
        {"exception": {"values": []}, "threads": {"values": [{"crashed": True, "stacktrace": {"frames": [{}]}}]}},
        {"entries": [{"type": "exception", "data": None}]},
        {"entries": "nope", "exception": [{"type": "E", "value": "v"}]},
    ],
)
def test_sentry_json_with_nulls_and_wrong_types(event: dict[str, object]) -> None:
    try:
        trace = parse_trace(json.dumps(event))
    except ParseError:
        return
    assert trace.exceptions


def test_deeply_nested_json_does_not_crash() -> None:
    deep = "[" * 50_000 + "]" * 50_000
    with pytest.raises(ParseError):
        parse_trace(deep)
    nested: dict[str, object] = {"a": "Traceback (most recent call last):\n"}
    for _ in range(100):
        nested = {"n": nested}
    with pytest.raises(ParseError):
        parse_trace(json.dumps(nested))


def test_odd_frame_names_and_windows_paths() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "<frozen importlib._bootstrap>", line 1176, in _find_and_load\n'
        '  File "<string>", line 1, in <module>\n'
        '  File "/tmp/ipykernel_123/456.py", line 3, in <cell line: 3>\n'
        '  File "C:\\app\\src\\cart.py", line 7, in total\n'
        "    return a / b\n"
        "ZeroDivisionError: division by zero\n"
    )
    trace = parse_trace(text)
    assert [f.filename for f in trace.frames][-1] == "C:\\app\\src\\cart.py"
    assert trace.frames[2].function == "<cell line: 3>"


@pytest.mark.parametrize(
    "text",
    [
        "TypeError: x\n    at (/a.js:1:1\n    at fn (/b.js:x:y)\n",
        'Exception in thread "main" java.lang.X: m\n\tat a.b(C.java\n\t... 99 more\n',
        "panic: boom\n\ngoroutine 1 [running]:\nmain.f(\n\t/srv/a.go:notanumber\n",
        "/srv/a.rb:1:in 'f': m (E)\n\tfrom /srv/b.rb:x:in 'g'\n",
    ],
)
def test_malformed_stack_lines_of_other_languages(text: str) -> None:
    try:
        trace = parse_trace(text)
    except ParseError:
        return
    assert trace.exceptions


def test_a_valid_event_with_vars_nested_past_the_decoder_keeps_its_exception() -> None:
    frame = '{"filename": "shop/pricing.py", "lineno": 8, "vars": {"cart": ' + '{"d": ' * 5_000 + "1" + "}" * 5_000
    event = '{"exception": {"values": [{"type": "ZeroDivisionError", "stacktrace": {"frames": [' + frame + "}}]}}]}}"
    trace = parse_trace(event)
    assert trace.exception_type == "ZeroDivisionError"
    assert trace.frames[0].filename == "shop/pricing.py" and trace.frames[0].lineno == 8


def test_exception_names_in_any_script() -> None:
    text = 'Traceback (most recent call last):\n  File "/app/a.py", line 1, in f\n    x()\nОшибкаОплаты: отказ\n'
    trace = parse_trace(text)
    assert (trace.exception_type, trace.message) == ("ОшибкаОплаты", "отказ")
