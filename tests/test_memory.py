"""Memory of resolved incidents: which earlier incident a new one resembles (``incidentbot.memory``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from incidentbot.fingerprint import fingerprint
from incidentbot.memory import message_shape, seen_before, signature
from incidentbot.models import Evidence, ResolvedIncident, Signature
from incidentbot.parse import parse_trace

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _traceback(frames: list[tuple[str, int, str]], exc_type: str, message: str) -> str:
    lines = ["Traceback (most recent call last):"]
    for path, line, function in frames:
        lines += [f'  File "/srv/app/{path}", line {line}, in {function}', "    do_something()"]
    return "\n".join([*lines, f"{exc_type}: {message}"])


def _evidence(text: str) -> Evidence:
    trace = parse_trace(text)
    return Evidence(trace=trace, fingerprint=fingerprint(trace))


def _resolved(evidence: Evidence, number: int, days: int = 0) -> ResolvedIncident:
    sig = signature(evidence)
    assert sig is not None
    return ResolvedIncident(
        fingerprint=evidence.fingerprint,
        signature=sig,
        issue_number=number,
        issue_url=f"https://github.com/acme/shop/issues/{number}",
        fix_sha=f"{number:040x}",
        fix_summary=f"Fix #{number}",
        fixed_by="@erin",
        resolved_at=T0 + timedelta(days=days),
    )


def test_the_variable_parts_of_a_message_are_removed_and_its_words_kept() -> None:
    assert message_shape("Order 12345 not found in /srv/app/orders.py") == "Order <> not found in <>"
    assert message_shape("'NoneType' object has no attribute 'id'") == "<> object has no attribute <>"
    assert message_shape("timeout after 30.5s (request 9f8e7d6c5b4a)") == "timeout after <>s (request <>)"
    assert message_shape("<Cart object at 0x7f3a2b1c> is not iterable") == "<> is not iterable"
    assert message_shape("list index out of range") == "list index out of range"


def test_the_same_exception_in_the_same_function_is_seen_before_whatever_the_message_and_callers() -> None:
    old = _evidence(_traceback([("app.py", 10, "main"), ("shop/pricing.py", 13, "apply_coupon")], "KeyError", "'x'"))
    new = _evidence(_traceback([("jobs.py", 4, "nightly"), ("shop/pricing.py", 19, "apply_coupon")], "KeyError", "7"))
    (found,) = seen_before(new.fingerprint, signature(new), [_resolved(old, 41)])
    assert found.incident.issue_number == 41 and found.matched_on == "exception and function"


def test_the_same_file_and_message_is_seen_before_even_in_another_function() -> None:
    message = "invalid literal for int() with base 10: 'abc'"
    old = _evidence(_traceback([("shop/forms.py", 30, "parse_quantity")], "ValueError", message))
    new = _evidence(_traceback([("shop/forms.py", 52, "parse_amount")], "ValueError", message.replace("abc", "1O")))
    old_sig, new_sig = signature(old), signature(new)
    assert old_sig is not None and new_sig is not None
    # Without a location, the file is not known: a link needs the report's location (set by the linkers).
    assert seen_before(new.fingerprint, new_sig, [_resolved(old, 7)]) == ()
    located_old = Signature(old_sig.exception_type, old_sig.function, "shop/forms.py", old_sig.message)
    located_new = Signature(new_sig.exception_type, new_sig.function, "shop/forms.py", new_sig.message)
    past = replace(_resolved(old, 7), signature=located_old)
    (found,) = seen_before(new.fingerprint, located_new, [past])
    assert found.matched_on == "file and message"
    other_file = Signature(new_sig.exception_type, new_sig.function, "shop/cart.py", new_sig.message)
    assert seen_before(new.fingerprint, other_file, [past]) == ()


def test_another_exception_or_another_function_is_not_seen_before() -> None:
    old = _evidence(_traceback([("shop/pricing.py", 13, "apply_coupon")], "KeyError", "'spring10'"))
    other_type = _evidence(_traceback([("shop/pricing.py", 13, "apply_coupon")], "TypeError", "'spring10'"))
    other_function = _evidence(_traceback([("shop/pricing.py", 40, "apply_tax")], "KeyError", "'vat'"))
    for new in (other_type, other_function):
        assert seen_before(new.fingerprint, signature(new), [_resolved(old, 3)]) == ()


def test_the_same_error_again_is_a_regression_and_comes_first_then_the_newest_resolution() -> None:
    text = _traceback([("app.py", 5, "main"), ("shop/pricing.py", 13, "apply_coupon")], "KeyError", "'spring10'")
    again = _evidence(text)
    alike_old = _resolved(_evidence(text.replace("in main", "in nightly")), 2, days=1)
    alike_new = _resolved(_evidence(text.replace("in main", "in hourly")), 9, days=30)
    assert len({again.fingerprint, alike_old.fingerprint, alike_new.fingerprint}) == 3
    same = _resolved(again, 5, days=0)
    found = seen_before(again.fingerprint, signature(again), [alike_old, same, alike_new])
    assert [f.incident.issue_number for f in found] == [5, 9, 2]
    assert found[0].matched_on == "same error" and "regression" in found[0].reason


# A fixture of recurring incidents: each kind of failure was resolved once and comes back with other values,
# other line numbers and other callers; novel failures in the same files must link nothing.
KINDS = [
    ("shop/pricing.py", "apply_coupon", "KeyError", "'{v}'"),
    ("shop/cart.py", "total", "TypeError", "unsupported operand type(s) for +: 'int' and '{v}'"),
    ("shop/checkout.py", "charge", "ValueError", "amount must be positive, got {n}"),
    ("shop/orders.py", "load_order", "LookupError", "order {n} not found"),
    ("shop/users.py", "by_email", "AttributeError", "'NoneType' object has no attribute '{v}'"),
    ("shop/stock.py", "reserve", "RuntimeError", "stock for sku-{n} went negative ({n})"),
    ("shop/tax.py", "rate_for", "KeyError", "'{v}'"),
    ("shop/mail.py", "send_receipt", "ConnectionError", "could not reach smtp.example.org:{n}"),
    ("shop/search.py", "query", "IndexError", "list index out of range"),
    ("shop/forms.py", "parse_quantity", "ValueError", "invalid literal for int() with base 10: '{v}'"),
    ("shop/reports.py", "monthly", "ZeroDivisionError", "division by zero"),
    ("shop/auth.py", "check_token", "PermissionError", "token {h} expired at {n}"),
]
NOVEL = [
    ("shop/pricing.py", "round_price", "TypeError", "round() takes {v}"),
    ("shop/cart.py", "add_item", "KeyError", "'{v}'"),
    ("shop/orders.py", "ship", "RuntimeError", "carrier refused the parcel"),
    ("shop/users.py", "rename", "ValueError", "name too long"),
]


def _occurrence(kind: tuple[str, str, str, str], seed: int) -> Evidence:
    path, function, exc_type, message = kind
    callers = [("app.py", 10 + seed, "main"), (f"jobs/job{seed}.py", 3 + seed, f"job_{seed}")][: 1 + seed % 2]
    values = {"v": f"value{seed}x", "n": str(1000 + 37 * seed), "h": f"{seed:08x}deadbeef"}
    return _evidence(_traceback([*callers, (path, 20 + 3 * seed, function)], exc_type, message.format(**values)))


def test_recurring_incidents_of_the_fixture_link_the_right_earlier_issue() -> None:
    resolved = [_resolved(_occurrence(kind, 1), number, days=number) for number, kind in enumerate(KINDS, 100)]
    right = 0
    for number, kind in enumerate(KINDS, 100):
        for seed in (2, 3, 4):
            new = _occurrence(kind, seed)
            found = seen_before(new.fingerprint, signature(new), resolved)
            right += bool(found) and found[0].incident.issue_number == number
    share = right / (3 * len(KINDS))
    assert share >= 0.9, share
    for kind in NOVEL:
        new = _occurrence(kind, 5)
        assert seen_before(new.fingerprint, signature(new), resolved) == (), kind
