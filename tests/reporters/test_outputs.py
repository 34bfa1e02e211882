"""The three local outputs: the JSON schema, Markdown that trace text cannot break, a console report."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from incidentbot.draft.template import draft_report
from incidentbot.models import (
    CodeLocation,
    Evidence,
    ExceptionInfo,
    Frame,
    Owner,
    Person,
    SuspectCommit,
    Trace,
)
from incidentbot.render_safe import md_block, md_code, md_text
from reporters.console import ConsoleReporter
from reporters.json_report import JsonReporter
from reporters.markdown import MarkdownReporter

NOW = datetime(2024, 5, 2, tzinfo=UTC)
HOSTILE = (
    "```\n<!channel> @here @everyone <img src=x onerror=alert(1)> #123 fixes #9 [click](javascript:alert(1)) [/bold]"
)


def _evidence(message: str = "boom", full: bool = True) -> Evidence:
    frame = Frame(
        "/srv/app/shop/cart.py",
        "total",
        lineno=7,
        context_line=f"raise ValueError({message!r})",
        in_app=True,
        repo_path="shop/cart.py",
        repo_line=7,
        alignment="exact",
    )
    trace = Trace(exceptions=(ExceptionInfo("ValueError", message, frames=(frame,)),), first_seen=NOW)
    if not full:
        return Evidence(trace=trace, fingerprint="f" * 32)
    author = Person("Bob Builder", "bob@example.com", "bob-gh")
    suspect = SuspectCommit("b" * 40, author, NOW, NOW, "Change totals", 0.82, ("last changed the failing line",))
    return Evidence(
        trace=trace,
        fingerprint="f" * 32,
        revision="c" * 40,
        revision_reason="--rev main",
        location=CodeLocation("shop/cart.py", 7, "total", 0, 0, url="https://github.com/o/r/blob/ccc/shop/cart.py#L7"),
        suspects=(suspect,),
        owners=(Owner("codeowners", "CODEOWNERS rule", team="@org/shop"), Owner("suspect-author", "wrote it", author)),
        redactions=2,
        warnings=("a warning",),
    )


def test_json_has_the_documented_schema() -> None:
    data = json.loads(JsonReporter().render(draft_report(_evidence(), now=NOW)))
    assert isinstance(data["fingerprint"], str) and isinstance(data["title"], str)
    assert data["exception"] == {"type": "ValueError", "value": "boom"}
    assert re.fullmatch(r"[0-9a-f]{40}", data["revision"])
    assert set(data["frames"][0]) >= {"path", "repo_path", "line", "function", "in_app"}
    assert data["location"] == {
        "path": "shop/cart.py",
        "line": 7,
        "function": "total",
        "url": "https://github.com/o/r/blob/ccc/shop/cart.py#L7",
    }
    suspect = data["suspects"][0]
    assert set(suspect) >= {"commit", "author_name", "author_email", "committed_at", "summary", "score", "reasons"}
    assert re.fullmatch(r"[0-9a-f]{40}", suspect["commit"]) and 0 <= suspect["score"] <= 1
    datetime.fromisoformat(suspect["committed_at"])
    assert [o["source"] for o in data["owners"]] == ["codeowners", "suspect-author"]
    assert data["owners"][1] | {} == {
        "name": "Bob Builder",
        "email": "bob@example.com",
        "github": "bob-gh",
        "team": None,
        "source": "suspect-author",
        "reason": "wrote it",
    }
    assert data["redactions"] == 2 and data["warnings"] == ["a warning"]


def test_json_without_location_suspects_or_owners() -> None:
    data = json.loads(JsonReporter().render(draft_report(_evidence(full=False), now=NOW)))
    assert data["location"] is None and data["suspects"] == [] and data["owners"] == [] and data["revision"] is None


def test_markdown_never_renders_trace_text_as_markup() -> None:
    text = MarkdownReporter().render(draft_report(_evidence(HOSTILE), now=NOW))
    outside_code = re.sub(r"(`{3,})[^\n]*\n.*?\n\1", "", text, flags=re.S)  # fenced blocks are inert
    outside_code = re.sub(r"(`+).*?\1", "", outside_code)  # so are code spans
    for live in ("<!channel>", "@here", "@everyone", "<img", "#123", "](javascript:"):
        assert live not in outside_code, live
    # The fence around the trace is longer than any backtick run inside it.
    fences = re.findall(r"^(`{3,})", text, flags=re.M)
    assert max(len(f) for f in fences) >= 4


def test_markdown_without_evidence_reads_sensibly() -> None:
    text = MarkdownReporter().render(draft_report(_evidence(full=False), now=NOW))
    assert "No in-app frame could be mapped" in text and "No suspect commit" in text and "No owner found" in text


TERMINALS = {
    "unset": {},
    "no-color-dumb": {"NO_COLOR": "1", "TERM": "dumb"},
    "force-color": {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLORTERM": "truecolor"},
    "narrow": {"COLUMNS": "20", "LINES": "5"},
}


@pytest.mark.parametrize("terminal", sorted(TERMINALS))
def test_console_colour_only_when_asked_and_no_markup_injection(terminal: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Colour follows ``color`` alone: an explicit flag wins over NO_COLOR, TERM=dumb and FORCE_COLOR (the NO_COLOR
    convention), and the output is the same whatever terminal runs the tests."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLORTERM", "COLUMNS", "LINES", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in TERMINALS[terminal].items():
        monkeypatch.setenv(name, value)
    report = draft_report(_evidence("[bold red]fake[/] \x1b[31m"), now=NOW)
    plain = ConsoleReporter().render(report, color=False, now=NOW)
    coloured = ConsoleReporter().render(report, color=True, now=NOW)
    assert "\x1b" not in plain  # the message's own escape sequence is dropped, never sent to the terminal
    assert "\x1b[" in coloured
    assert "[bold red]fake[/]" in plain
    assert "Bob Builder" in plain and "82% (high)" in plain and "shop/cart.py:7" in plain
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert plain == ConsoleReporter().render(report, color=False, now=NOW)  # the same in every terminal


def test_title_strips_invisible_characters_and_newlines() -> None:
    report = draft_report(_evidence("pay\u202emoc.evil\u200b\nsecond line"), now=NOW)
    assert report.title == "ValueError: paymoc.evil in total"


def test_safe_rendering_helpers() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_block("x ``` y").startswith("````\n")
    assert "&#64;" in md_text("@here") and "&lt;" in md_text("<b>")
