"""The fitted ranking on the scenarios its issue names, through the real command and the shipped weights.

These check what any sound ranking must do, whatever the fit: they fail if a refit (or a rule) breaks them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from incidentbot.models import Evidence, ExceptionInfo, Frame, Trace
from incidentbot.repo import RepoView
from incidentbot.settings import Ranking
from linkers.blame import Blamer
from tests.gitbuilder import ALICE, BOB, CAROL, DAVE, GitRepoBuilder

VALIDATE_V1 = """def validate(code):
    if not code:
        raise ValueError("empty discount code")
    return code.upper()
"""
VALIDATE_V2 = """LEGACY = {"SPRING10", "WINTER5"}


def validate(code):
    if not code:
        raise ValueError("empty discount code")
    if code.upper() in LEGACY:
        raise ValueError(f"legacy discount code {code} is no longer accepted")
    return code.upper()
"""
CHECKOUT_V1 = """from shop.discounts import validate


def checkout(cart, code):
    total = sum(cart)
    code = validate(code)
    return total, code
"""
CHECKOUT_V2 = """from shop.discounts import validate


def checkout(cart, code):
    total = sum(item for item in cart)
    code = validate(code.strip())
    return total, code
"""


def _triage(repo: Path, trace: str, first_seen: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "incidentbot", "triage", "-", "--repo", str(repo), "--first-seen", first_seen, "--json"],
        input=trace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_new_guard_that_raises_is_the_culprit_and_the_location(git_repo: GitRepoBuilder) -> None:
    # A validation added recently starts rejecting input that used to pass: the classic regression. Two other
    # commits touched the caller's lines since; neither is the cause.
    git_repo.commit(
        "Discount codes",
        ALICE,
        "2024-01-10T10:00:00",
        {"shop/__init__.py": "", "shop/discounts.py": VALIDATE_V1, "shop/checkout.py": CHECKOUT_V1},
    )
    culprit = git_repo.commit(
        "Reject legacy discount codes", BOB, "2024-04-01T10:00:00", {"shop/discounts.py": VALIDATE_V2}
    )
    git_repo.commit("Strip codes before validating", CAROL, "2024-04-05T10:00:00", {"shop/checkout.py": CHECKOUT_V2})
    git_repo.commit("Sum cart items explicitly", DAVE, "2024-04-06T10:00:00", {"shop/checkout.py": CHECKOUT_V2 + "\n"})
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/shop/checkout.py", line 6, in checkout\n'
        "    code = validate(code.strip())\n"
        '  File "/srv/app/shop/discounts.py", line 8, in validate\n'
        '    raise ValueError(f"legacy discount code {code} is no longer accepted")\n'
        "ValueError: legacy discount code SPRING10 is no longer accepted\n"
    )
    report = _triage(git_repo.root, trace, "2024-04-08T09:00:00+00:00")
    assert report["suspects"][0]["commit"] == culprit
    assert report["location"]["path"] == "shop/discounts.py" and report["location"]["line"] == 8
    assert report["location"]["function"] == "validate"
    assert report["owners"][0]["email"] == BOB.email
    assert any("raise" in reason or "failing line" in reason for reason in report["suspects"][0]["reasons"])


def _blame_flags(repo: GitRepoBuilder, rev: str, path: str, line: int) -> list[tuple[str, bool]]:
    view = RepoView(repo.root)
    frame = Frame(f"/srv/app/{path}", "f", lineno=line, repo_path=path, repo_line=line, in_app=True)
    evidence = Evidence(
        trace=Trace(exceptions=(ExceptionInfo("E", "m", frames=(frame,)),)), fingerprint="x", revision=rev
    )
    blamed = Blamer(Ranking(blame_window=0)).link(evidence, view).blame
    return [(b.sha, b.cosmetic) for b in blamed if b.line == line]


def test_only_the_same_statement_in_the_same_place_is_cosmetic(git_repo: GitRepoBuilder) -> None:
    base = "def total(items, rate):\n    value = compute(items, rate)\n    return value\n"
    writer = git_repo.commit("Compute totals", ALICE, "2024-01-01T00:00:00", {"a.py": base})
    wrapped = "def total(items, rate):\n    value = compute(\n        items, rate,\n    )\n    return value\n"
    formatter = git_repo.commit("Wrap the long call", DAVE, "2024-02-01T00:00:00", {"a.py": wrapped})
    # Re-wrapping the same statement in place is cosmetic: blame goes on to the commit that wrote it.
    flags = _blame_flags(git_repo, formatter, "a.py", 3)
    assert (formatter, True) in flags and (writer, False) in flags


def test_joining_a_wrapped_call_is_cosmetic(git_repo: GitRepoBuilder) -> None:
    wrapped = "def total(items, rate):\n    value = compute(\n        items, rate\n    )\n    return value\n"
    writer = git_repo.commit("Compute totals", ALICE, "2024-01-01T00:00:00", {"a.py": wrapped})
    joined = "def total(items, rate):\n    value = compute(items, rate)\n    return value\n"
    formatter = git_repo.commit("Join the call", DAVE, "2024-02-01T00:00:00", {"a.py": joined})
    flags = _blame_flags(git_repo, formatter, "a.py", 2)
    assert (formatter, True) in flags and (writer, False) in flags


def test_new_code_that_copies_a_line_is_not_cosmetic(git_repo: GitRepoBuilder) -> None:
    base = "def total(items):\n    value = sum(items)\n    return value\n"
    git_repo.commit("Totals", ALICE, "2024-01-01T00:00:00", {"a.py": base})
    # A new function whose line reads like one elsewhere in the file (up to quotes and spaces) is new behaviour.
    added = base + "\n\ndef subtotal(items):\n    value=sum(items)\n    return value * 2\n"
    new_code = git_repo.commit("Add subtotal", BOB, "2024-02-01T00:00:00", {"a.py": added})
    assert _blame_flags(git_repo, new_code, "a.py", 7) == [(new_code, False)]


def test_a_moved_block_is_not_cosmetic(git_repo: GitRepoBuilder) -> None:
    before = "def a():\n    x = load('cfg')\n    return x\n\n\ndef b():\n    return 2\n"
    git_repo.commit("a and b", ALICE, "2024-01-01T00:00:00", {"a.py": before})
    after = 'def b():\n    return 2\n\n\ndef a():\n    x = load("cfg")\n    return x\n'
    moved = git_repo.commit("Move a below b", BOB, "2024-02-01T00:00:00", {"a.py": after})
    assert _blame_flags(git_repo, moved, "a.py", 6) == [(moved, False)]
