"""rich's boxed tracebacks: what the golden samples (tests/data/traces/python_rich_*.txt) do not cover."""

from __future__ import annotations

from incidentbot.parse import parse_trace, rich_traceback
from incidentbot.settings import Limits

TOP = "╭──────── Traceback (most recent call last) ────────╮"
BOTTOM = "╰───────────────────────────────────────────────────╯"


def _row(text: str) -> str:
    return f"│ {text:<49} │"


def test_a_frame_whose_file_rich_could_not_read_is_kept_without_a_path() -> None:
    text = "\n".join([TOP, _row("in handler:12"), _row(""), _row("/srv/app/shop/pricing.py:8 in apply"), BOTTOM])
    text += "\nZeroDivisionError: division by zero\n"
    frames = parse_trace(text).primary.frames
    assert [(f.filename, f.lineno, f.function) for f in frames] == [
        ("<unknown>", 12, "handler"),
        ("/srv/app/shop/pricing.py", 8, "apply"),
    ]


def test_a_cut_box_keeps_its_frames_and_says_so() -> None:
    text = "\n".join([TOP, _row("/srv/app/shop/pricing.py:8 in apply"), _row(""), _row("❱ 8 │   return 1 / 0")])
    trace = parse_trace(text)
    assert trace.primary.frames[0].context_line == "return 1 / 0"
    assert trace.primary.type == "UnknownError" and trace.warnings


def test_a_box_that_is_no_traceback_is_not_read() -> None:
    panel = "\n".join(["╭──────── Deploy summary ────────╮", _row("/srv/app/shop/pricing.py:8 in apply"), BOTTOM])
    assert not rich_traceback.sniff(panel)
    assert rich_traceback.parse(panel, Limits()) is None
