"""Trace text that Slack would link or ping, and event fields that GitHub would render, stay inert; reasons
show their code as code.

Slack: mrkdwn links bare URLs and domains and shows ``@here``; trace-derived text sits in code spans or blocks
(the fallback ``text`` too), and the plain-text header shows URLs and broadcasts defanged. GitHub: every string
from the trace or the Sentry event sits in a code span or fence it cannot close.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from incidentbot import pipeline, settings
from incidentbot.models import Analysis, Report
from incidentbot.render_safe import md_text
from reporters.github import GitHubReporter
from reporters.markdown import MarkdownReporter
from reporters.slack import SlackReporter
from reporters.slack_blocks import first_occurrence, root_message
from tests.adversarial.checks import outside_code
from tests.linkers.history import ShopHistory
from tests.reporters.conftest import triaged

NOW = datetime(2024, 4, 12, 10, tzinfo=UTC)
LINKY = {
    "url": "GET https://evil.example/login?next=/ failed",
    "www": "fetch www.evil.example failed",
    "redacted-url-keeps-its-host": "POST https://shop.example/cart?token=abc123&page=2 returned 500",
    "broadcasts": "@here @channel @everyone please look",
    "schemes": "mailto:ops@evil.example ftp://files.evil.example/x",
    "slack-forms": "<!here> <!channel> <@U0123ABCD> <https://evil.example|click>",
}
BROADCAST = re.compile(r"@(?:here|channel|everyone)\b")


def _slack_outside_code(text: str) -> str:
    """mrkdwn without its code blocks and code spans: where Slack links, formats and shows mentions."""
    return re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))


def _mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    texts = [message["text"]]
    for block in message["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        if block["type"] == "context":
            texts += [element["text"] for element in block["elements"]]
    return texts


def _assert_slack_inert(message: dict[str, Any]) -> None:
    for text in _mrkdwn_texts(message):
        prose = _slack_outside_code(text)
        assert "://" not in prose.replace("https://github.com/acme/shop/", ""), text
        assert "www." not in prose and "evil.example" not in prose and "shop.example" not in prose, text
        assert not BROADCAST.search(prose), text
        for made in re.findall(r"<([^>]*)>", text):
            assert re.match(r"(!date\^\d+\^|https://github\.com/acme/shop/)", made), made
    header = message["blocks"][0]["text"]["text"]
    assert "://" not in header and "www." not in header and not BROADCAST.search(header), header


@pytest.mark.parametrize("name", sorted(LINKY))
def test_slack_neither_links_nor_pings_trace_text(name: str, shop: ShopHistory) -> None:
    report = triaged(shop, LINKY[name])
    _assert_slack_inert(json.loads(SlackReporter.preview(report, settings.load())))


def test_the_slack_fallback_text_is_trace_text_in_code(shop: ShopHistory) -> None:
    report = triaged(shop, LINKY["url"])
    message = json.loads(SlackReporter.preview(report, settings.load()))
    assert message["text"].startswith("`") and message["text"].endswith("`")
    assert "evil.example/login" in message["text"]  # still readable


def test_slack_renders_reasons_and_the_analysis_inert(shop: ShopHistory) -> None:
    report = triaged(shop, LINKY["broadcasts"])
    analysis = Analysis(
        model="gpt-test",
        summary="see https://evil.example/x and www.evil.example, @here",
        root_cause="`apply_discount` divides by zero; ping @channel at evil.example/page",
        evidence=("shop/pricing.py:8",),
        suggested_fix="Guard it like https://docs.shop.example/guard does; @everyone should review",
        confidence=0.5,
        severity="high",
        culprit_commit=None,
    )
    top = report.evidence.suspects[0]
    hostile_top = replace(top, reasons=(*top.reasons, "named in https://evil.example/r by @here"))
    evidence = replace(report.evidence, suspects=(hostile_top, *report.evidence.suspects[1:]))
    report = replace(report, analysis=analysis, analysis_note=None, evidence=evidence)
    message = root_message(report, first_occurrence(report), [], NOW)
    _assert_slack_inert(json.loads(json.dumps(message)))
    assert "`apply_discount`" in json.dumps(message)


def _sentry_event(shop: ShopHistory, marker: str) -> dict[str, Any]:
    pricing = (shop.builder.root / "shop/pricing.py").read_text().splitlines()
    line = next(i for i, t in enumerate(pricing, 1) if "return total / discount" in t)
    frame = {
        "filename": "shop/pricing.py",
        "abs_path": "/srv/app/shop/pricing.py",
        "function": f"apply_discount_{marker}fn",
        "module": f"shop.{marker}module",
        "lineno": line,
        "context_line": "    return total / discount",
        "in_app": True,
        "vars": {f"{marker}var": f"{marker}value"},
    }
    return {
        "event_id": "9f1c0e5d2b7a4c3e8f6a1b2c3d4e5f60",
        "platform": "python",
        "timestamp": "2024-04-12T09:00:00Z",
        "release": f"{marker}release",
        "environment": f"{marker}environment @here https://evil.example",
        "web_url": f"https://evil.example/{marker}url",
        "tags": {f"{marker}tag": f"{marker}tagvalue @everyone"},
        "exception": {
            "values": [
                {
                    "type": f"{marker}Error @octocat https://evil.example [x](https://evil.example)",
                    "value": f"{marker}message @octocat https://evil.example",
                    "module": f"{marker}exmodule",
                    "stacktrace": {"frames": [frame]},
                }
            ]
        },
    }


def test_every_event_field_in_the_github_body_is_inside_code(shop: ShopHistory) -> None:
    marker = "Zqxj"
    report = pipeline.triage(json.dumps(_sentry_event(shop, marker)), settings.load())
    evidence = replace(report.evidence, warnings=(*report.evidence.warnings, f"could not read {marker}warning @here"))
    report = replace(report, evidence=evidence)
    body = GitHubReporter.preview(report, settings.load()).partition("\n\n")[2]
    assert marker in body  # the event's fields are shown…
    prose = outside_code(body)
    assert marker not in prose, prose  # …and none of them outside code
    assert "evil.example" not in prose and "](https://evil" not in prose


def test_reasons_show_code_spans_in_markdown_and_github(shop: ShopHistory) -> None:
    report = triaged(shop)
    assert any("`apply_discount`" in reason for s in report.evidence.suspects for reason in s.reasons)
    for text in (MarkdownReporter().render(report), _github_body(report)):
        assert "\\`apply\\_discount\\`" not in text  # what it showed: escaped backticks
        assert "in `apply_discount`" in text


def _github_body(report: Report) -> str:
    return GitHubReporter.preview(report, settings.load()).partition("\n\n")[2]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("changed `apply_discount` in shop", "changed `apply_discount` in shop"),
        ("`@here` and @here", "`@here` and &#64;here"),
        ("a `x|y` cell", "a \\`x\\|y\\` cell"),  # a pipe would split a table cell around a code span
        ("unbalanced ` tick", "unbalanced \\` tick"),
        ("``double`` `", "\\`\\`double\\`\\` \\`"),
        ("`a` `b`", "`a` `b`"),
    ],
)
def test_md_text_renders_backtick_spans_as_code(text: str, rendered: str) -> None:
    assert md_text(text) == rendered
