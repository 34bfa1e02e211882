"""Property tests of the renderers: whatever text a trace (or a commit) holds, every format renders without an
exception, stays valid for its format, carries no live markup, and never shows a generated secret.

Fast in CI (INCIDENTBOT_FUZZ_EXAMPLES, default 100 examples a property); set it to 20000 for a longer run.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentbot.draft.template import draft_report
from incidentbot.models import (
    CodeLocation,
    Evidence,
    ExceptionInfo,
    Frame,
    Owner,
    Person,
    Report,
    SuspectCommit,
    Trace,
)
from incidentbot.people import Directory
from incidentbot.scrub import scrub_trace
from incidentbot.settings import Redaction
from reporters.console import ConsoleReporter
from reporters.github_issue import preview as github_preview
from reporters.json_report import JsonReporter
from reporters.markdown import MarkdownReporter
from reporters.slack_blocks import first_occurrence, owner_labels, root_message
from tests.adversarial.cases_hostile import ATTACKS, INVISIBLE, TELL, TOKENS
from tests.adversarial.checks import INVISIBLE as INVISIBLE_RE
from tests.adversarial.checks import check_markdown, check_slack

EXAMPLES = int(os.environ.get("INCIDENTBOT_FUZZ_EXAMPLES", "100"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2024, 4, 12, 9, tzinfo=UTC)
# Every token that has a shape of its own (an AWS secret key has none: it is found only beside a sensitive word).
SECRET_VALUES = [v for k, v in TOKENS.items() if k != "aws-secret-key"]
EMAIL = "bob@example.com"  # a commit author's address: from git, never posted

hostile_text = st.lists(
    st.sampled_from([*ATTACKS.values(), *INVISIBLE.values(), "`", "```", "\n", "<", "&", "@", "#1", "|"])
    | st.text(max_size=30),
    max_size=8,
).map("".join)
secret = st.sampled_from(SECRET_VALUES)


@st.composite
def reports(draw: st.DrawFn) -> tuple[Report, str]:
    planted = draw(secret)
    text = st.builds(
        lambda a, s, b: f"{a} {s} {b}" if draw(st.booleans()) else a, hostile_text, st.just(planted), hostile_text
    )
    frames = tuple(
        Frame(
            filename=draw(hostile_text) or "x.py",
            function=draw(hostile_text),
            lineno=draw(st.none() | st.integers(min_value=1, max_value=10**6)),
            context_line=draw(text),
            vars=((draw(hostile_text), draw(text)),),
            in_app=True,
            repo_path=draw(st.sampled_from(["shop/pricing.py", None])),
            repo_line=8,
        )
        for _ in range(draw(st.integers(0, 4)))
    )
    trace = Trace(
        exceptions=(ExceptionInfo(draw(hostile_text) or "Error", draw(text), frames=frames),),
        url=draw(st.none() | text),
        tags=((draw(hostile_text), draw(text)),),
        warnings=(draw(text),),
    )
    trace, count = scrub_trace(trace, Redaction())
    author = Person(name=draw(hostile_text), email=EMAIL)
    suspect = SuspectCommit(
        sha="a3f80b8" + "0" * 33,
        author=author,
        authored_at=NOW,
        committed_at=NOW,
        summary=draw(hostile_text),
        score=draw(st.floats(0, 1)),
        reasons=(draw(hostile_text),),
    )
    location = CodeLocation(
        path="shop/pricing.py",
        line=8,
        function=draw(hostile_text),
        exception_index=0,
        frame_index=0,
        excerpt=tuple(draw(st.lists(hostile_text, max_size=3))),
        excerpt_start=7,
    )
    evidence = Evidence(
        trace=trace,
        fingerprint="0" * 32,
        revision="d" * 40,
        revision_reason=draw(hostile_text),
        location=draw(st.none() | st.just(location)) if frames else None,  # a location is one of the frames
        suspects=(suspect,) if draw(st.booleans()) else (),
        owners=(Owner("codeowners", draw(hostile_text), team="@acme/payments"), Owner("suspect-author", "", author)),
        redactions=count,
        warnings=(draw(hostile_text),),
    )
    tell = next(TELL[kind] for kind, value in TOKENS.items() if value == planted)  # what must not survive
    return draft_report(evidence, NOW, analysis_note=draw(hostile_text)), tell


def _no_secret(text: str, planted: str) -> None:
    assert planted not in text and planted not in json.dumps(text, ensure_ascii=False)


@SETTINGS
@given(reports())
def test_markdown_and_github_stay_inert(generated: tuple[Report, str]) -> None:
    report, planted = generated
    markdown = MarkdownReporter().render(report)
    title, _, body = github_preview(report, {}, NOW).partition("\n\n")
    for text in (markdown, body):
        check_markdown(text)
        assert not INVISIBLE_RE.search(text)
        _no_secret(text, planted)
    assert EMAIL.replace("@", "&#64;") not in body and EMAIL not in body
    assert "\n" not in title and len(title) <= 256 and not INVISIBLE_RE.search(title)


@SETTINGS
@given(reports())
def test_slack_message_stays_inert_and_within_limits(generated: tuple[Report, str]) -> None:
    report, planted = generated
    owners = owner_labels(report.evidence.owners, Directory())
    message = root_message(report, first_occurrence(report), owners, NOW)
    check_slack(json.loads(json.dumps(message)))
    _no_secret(json.dumps(message, ensure_ascii=False), planted)
    assert EMAIL not in json.dumps(message)


@SETTINGS
@given(reports())
def test_json_and_console_are_valid_and_clean(generated: tuple[Report, str]) -> None:
    report, planted = generated
    data = json.loads(JsonReporter().render(report))
    assert data["redactions"] == report.evidence.redactions
    console = ConsoleReporter().render(report, color=False, now=NOW)
    assert "\x1b" not in console and not INVISIBLE_RE.search(console)
    for text in (json.dumps(data, ensure_ascii=False), console):
        _no_secret(text, planted)
