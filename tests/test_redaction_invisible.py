"""Secrets split by invisible characters: a reader (or a model) joins ``gh<U+200B>p_…`` back into a token, so
redaction reads the text without them, and maps what it replaces back onto the original text."""

from __future__ import annotations

import pytest

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.render_safe import strip_invisible
from incidentbot.scrub import scrub_payload, scrub_text, scrub_trace
from incidentbot.settings import Redaction

R36 = "Q7w9E2r4T6y8U1i3O5p7A9s2D4f6G8h1J3k5"
GITHUB = "ghp_" + R36
STRIPE = "sk_live_" + "51Hx4Jk2Lm3Nb4Vc5Xz6Qw7Er8Ty9Ui0"
AWS = "AKIA" + "Z3X5C7V9B1N3M5Q7"

SPLITTERS = {
    "zero-width-space": "\u200b",
    "zero-width-non-joiner": "\u200c",
    "zero-width-joiner": "\u200d",
    "word-joiner": "\u2060",
    "soft-hyphen": "\u00ad",
    "byte-order-mark": "\ufeff",
    "invisible-separator": "\u2063",
    "bidi-mark": "\u200e",
    "combining-grapheme-joiner": "\u034f",
    "variation-selector": "\ufe0f",
    "tag-character": "\U000e0041",
    "nul": "\x00",
}


def _split(token: str, splitter: str) -> str:
    """The token with the invisible character after every fourth character."""
    return splitter.join(token[i : i + 4] for i in range(0, len(token), 4))


@pytest.mark.parametrize("name", sorted(SPLITTERS))
@pytest.mark.parametrize("token", [GITHUB, STRIPE, AWS], ids=["github", "stripe", "aws"])
def test_a_token_split_by_invisible_characters_is_redacted(name: str, token: str) -> None:
    hidden = _split(token, SPLITTERS[name])
    text, count = scrub_text(f"upstream rejected {hidden} (retrying)", Redaction())
    assert count == 1 and "[REDACTED:" in text
    assert token not in strip_invisible(text).replace("\u00ad", "").replace("\ufe0f", "")
    assert text.startswith("upstream rejected [REDACTED:") and text.endswith("] (retrying)")


def test_the_text_around_a_redaction_keeps_its_own_characters() -> None:
    """Only the redacted span changes: invisible characters elsewhere are the renderers' business."""
    hidden = _split(GITHUB, "\u200b")
    text = f"caf\u00e9\u200b bill\u00adable {hidden} \u202eend"
    cleaned, count = scrub_text(text, Redaction())
    assert cleaned == "caf\u00e9\u200b bill\u00adable [REDACTED:github-token] \u202eend" and count == 1


def test_personal_data_and_structured_secrets_split_by_invisible_characters() -> None:
    cases = {
        "jane.do\u200be@exam\u2060ple.org": "[REDACTED:email]",
        "password=hun\u200bter2": "password=[REDACTED:password]",
        "4111\u200b 1111 1111 1111": "[REDACTED:card-number]",
        "DE89 3704\u00ad 0044 0532 0130 00": "[REDACTED:iban]",
    }
    for given, expected in cases.items():
        assert scrub_text(given, Redaction()) == (expected, 1), given


def test_every_field_and_the_queued_event_see_through_invisible_characters() -> None:
    hidden = _split(GITHUB, "\u2060")
    frame = Frame(f"/srv/app/{hidden}/x.py", function=f"f_{hidden}", context_line=f"t = '{hidden}'")
    trace = Trace(exceptions=(ExceptionInfo("E", f"bad {hidden}", frames=(frame,)),))
    scrubbed, count = scrub_trace(trace, Redaction())
    assert count == 4 and R36[:8] not in strip_invisible(repr(scrubbed))
    assert R36[:8] not in strip_invisible(scrub_payload(f'{{"message": "{hidden}"}}', Redaction()))


def test_invisible_characters_alone_change_nothing() -> None:
    text = "ze\u200bro\u200cwi\u200ddth\u2060join\ufeffbom soft\u00adhyphen"
    assert scrub_text(text, Redaction()) == (text, 0)
