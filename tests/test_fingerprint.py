"""Repeats of one error share a fingerprint; line moves and message values do not change it."""

from __future__ import annotations

from dataclasses import replace

from incidentbot.fingerprint import fingerprint
from incidentbot.models import ExceptionInfo, Frame, Trace


def _trace(exc_type: str = "KeyError", message: str = "'sku-1'", line: int = 10, function: str = "total") -> Trace:
    frames = (
        Frame("/usr/lib/python3.11/json/decoder.py", "decode", lineno=5, in_app=False),
        Frame("/srv/app/shop/cart.py", function, lineno=line, in_app=True, repo_path="shop/cart.py"),
    )
    return Trace(exceptions=(ExceptionInfo(exc_type, message, frames=frames),))


def test_line_numbers_and_message_values_do_not_matter() -> None:
    assert fingerprint(_trace(line=10, message="'sku-1'")) == fingerprint(_trace(line=99, message="'sku-2'"))


def test_type_and_function_matter() -> None:
    base = fingerprint(_trace())
    assert fingerprint(_trace(exc_type="ValueError")) != base
    assert fingerprint(_trace(function="add")) != base


def test_without_in_app_frames_the_masked_message_counts() -> None:
    plain = Trace(exceptions=(ExceptionInfo("TimeoutError", "after 30 s on host 10.0.0.7"),))
    other = Trace(exceptions=(ExceptionInfo("TimeoutError", "after 45 s on host 10.0.0.9"),))
    different = Trace(exceptions=(ExceptionInfo("TimeoutError", "pool exhausted"),))
    assert fingerprint(plain) == fingerprint(other)
    assert fingerprint(plain) != fingerprint(different)


def test_is_stable_hex() -> None:
    value = fingerprint(_trace())
    assert len(value) == 32 and int(value, 16) >= 0
    assert fingerprint(replace(_trace(), source="sentry-event")) == value
