"""A trace written by an attacker renders inert on Slack and on GitHub: no mention, link, image, HTML, reference,
closing keyword or broken fence, and no invisible characters in titles."""

from __future__ import annotations

import json
import re

import pytest

from incidentbot import settings
from incidentbot.models import Report
from reporters.github import GitHubReporter
from reporters.github_issue import issue_title
from reporters.slack import SlackReporter
from tests.linkers.history import ShopHistory
from tests.reporters.conftest import triaged

ATTACKS = [
    "<!channel> <!here> <!everyone> <!subteam^S123>",
    "@here @channel @everyone @octocat @acme/security-team",
    "<@U0123ABCD> <#C0123ABCD>",
    "<https://evil.example/login|Reset your password> [click](https://evil.example) https://evil.example",
    "![pixel](https://evil.example/track.png) <img src=x onerror=alert(1)> <script>alert(1)</script>",
    "fixes #1 closes acme/shop#2 resolves GH-3 #4",
    "``` ```` `````\n# Heading\n<details><summary>x</summary>",
    "*bold* _italic_ ~strike~ **strong** > quote",
    "a `b` @octocat <img src=x> `c` fixes #5",
    "\u202egnp.exe\u202c \u200bzero\u200dwidth\u2066isolate\u2069",
]


@pytest.fixture(params=ATTACKS, ids=[f"attack{i}" for i in range(len(ATTACKS))])
def hostile_report(request: pytest.FixtureRequest, shop: ShopHistory) -> Report:
    return triaged(shop, request.param)


def _github_body(report: Report) -> str:
    return GitHubReporter.preview(report, settings.load()).partition("\n\n")[2]


def _outside_code(markdown: str) -> str:
    """The Markdown with fenced blocks and code spans removed: what GitHub renders as rich text."""
    without_fences = re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", markdown, flags=re.S | re.M)
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", without_fences)


def test_github_body_renders_trace_text_inert(hostile_report: Report) -> None:
    body = _github_body(hostile_report)
    prose = _outside_code(body)
    assert not re.search(r"(?<![\\&#\w])@[A-Za-z]", prose), "a mention outside code"
    assert not re.search(r"(?<![\\&])#\d", prose.replace("#L", "")), "an issue reference outside code"
    assert "<img" not in prose and "<script" not in prose and "<!channel>" not in prose
    assert "evil.example" not in prose and "![" not in prose.replace("\\![", "")  # not even a bare URL
    assert "\u202e" not in body and "\u200b" not in body and "\u2066" not in body
    # Every fence opened is closed by the same fence: the trace cannot end its block early.
    fences = re.findall(r"^(`{3,})", body, flags=re.M)
    assert len(fences) % 2 == 0
    trace = body.split("### Trace\n", 1)[1]
    fence = re.match(r"`{3,}", trace)
    assert fence and max(
        (len(r) for r in re.findall(r"`+", trace[len(fence[0]) :].split("\n" + fence[0])[0])), default=0
    ) < len(fence[0])
    # Only incidentbot's own links remain: the repository's permalinks.
    for url in re.findall(r"\]\((\S+?)\)", prose):
        assert url.startswith("https://github.com/acme/shop/"), url


def test_slack_message_renders_trace_text_inert(hostile_report: Report) -> None:
    message = json.loads(SlackReporter.preview(hostile_report, settings.load()))
    text = json.dumps(message, ensure_ascii=False)
    for made in re.findall(r"<([^>]*)>", text):
        assert re.match(r"(!date\^\d+\^|https://github\.com/acme/shop/)", made), made
    assert "\u202e" not in text and "\u200b" not in text
    # Trace values in mrkdwn sit in code spans or blocks, where *bold* and _italic_ do not apply.
    for block in message["blocks"]:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"


def test_titles_lose_bidi_and_zero_width_characters(shop: ShopHistory) -> None:
    report = triaged(shop, "\u202egnp.exe\u202c \u200bzero\u200dwidth")
    assert issue_title(report) == "ZeroDivisionError: gnp.exe zerowidth in apply_discount"
    assert json.loads(SlackReporter.preview(report, settings.load()))["blocks"][0]["text"]["text"] == issue_title(
        report
    )
