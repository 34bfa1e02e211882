"""Redaction: every kind of secret and personal data is replaced, ordinary text survives, counts are right."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.scrub import scrub_text, scrub_trace
from incidentbot.settings import Redaction

# Fake secrets of the right shapes, built by concatenation so that no scanner mistakes this file for a leak.
A36 = "A1b2C3d4E5" * 3 + "F6g7H8"
SECRETS = {
    "aws-key-id": "AKIA" + "ABCDEFGHIJKLMNOP",
    "gcp-api-key": "AIza" + "S" * 35,
    "azure-key": "AccountKey=" + "abcd1234" * 8 + "==",
    "github-token": "ghp_" + A36,
    "github-pat": "github_pat_" + "11ABCDEFG" + "_" + "x" * 40,
    "gitlab-token": "glpat-" + "x" * 20,
    "slack-token": "xoxb-" + "1234567890-abcdefghij",
    "slack-webhook": "https://hooks.slack.com/services/" + "T000/B000/XXXXXXXXXXXX",
    "openai-key": "sk-proj-" + "a" * 40,
    "anthropic-key": "sk-ant-" + "api03-" + "b" * 30,
    "stripe-key": "sk_live_" + "c" * 24,
    "sendgrid-key": "SG." + "d" * 22 + "." + "e" * 43,
    "npm-token": "npm_" + "f" * 36,
    "pypi-token": "pypi-" + "AgEIcHlwaS5vcmc" + "g" * 60,
    "jwt": "eyJ" + "hbGciOiJIUzI1NiJ9" + ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0" + "." + "sig" * 10,
    "private-key": "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA " + "PRIVATE KEY-----",
    "email": "jane.doe@example.org",
    "card-number": "4111 1111 1111 1111",
    "ipv4": "203.0.113.7",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_kind_is_replaced(kind: str) -> None:
    secret = SECRETS[kind]
    text, count = scrub_text(f"failed with {secret} while charging", Redaction())
    assert secret not in text
    assert count == 1
    assert "[REDACTED:" in text and text.startswith("failed with ") and text.endswith(" while charging")


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("password=hunter2 user=bob", "user=bob"),
        ('{"api_key": "xyz123", "user": "bob"}', '"user": "bob"'),
        ("Authorization: Bearer abc.def.ghi", "Authorization: "),
        ("Cookie: session=abc123; theme=dark", "Cookie: "),
        ("postgres://app:s3cr3t@db.internal:5432/shop", "postgres://app:"),
        ("GET /cart?token=abc123&page=2", "page=2"),
        ("client_secret: 'v4lu3'", "client_secret"),
        ("X-Auth-Token: q1w2e3", "X-Auth-Token: "),
    ],
)
def test_structured_secrets_keep_their_context(text: str, kept: str) -> None:
    cleaned, count = scrub_text(text, Redaction())
    assert count >= 1
    assert kept in cleaned
    for secret in ("hunter2", "xyz123", "abc.def.ghi", "abc123", "s3cr3t", "v4lu3", "q1w2e3"):
        assert secret not in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "KeyError: 'token'",
        "order 1234567890123456 not found",  # 16 digits, not Luhn-valid
        "commit 1f0f979f08f85bd6dbdb83af06782178ff06e700 failed",
        "/srv/app/shop/cart.py line 42",
        "author=bob signal=5 design=flat",
        "ValueError: invalid literal for int() with base 10: 'x'",
        "listening on 127.0.0.1:8080",
    ],
)
def test_ordinary_text_survives(text: str) -> None:
    assert scrub_text(text, Redaction()) == (text, 0)


def test_allow_list_extra_keys_and_patterns() -> None:
    settings = Redaction(
        allow=("support@shop.example",), extra_sensitive_keys=("tenant",), extra_patterns=(r"ORD-\d{6}",)
    )
    text, count = scrub_text("mail support@shop.example; tenant=acme; order ORD-123456", settings)
    assert "support@shop.example" in text
    assert "acme" not in text and "ORD-123456" not in text
    assert count == 2


def test_scrub_trace_covers_every_field_and_leaves_the_original() -> None:
    token = SECRETS["github-token"]
    frame = Frame(
        filename="https://shop.example/app.js?token=abc123",
        function="charge",
        lineno=3,
        context_line=f"charge(card='{SECRETS['card-number']}')",
        pre_context=(f"# contact {SECRETS['email']}",),
        vars=(
            ("password", "hunter2"),
            ("headers", "{'Authorization': 'Bearer zzz', 'Accept': 'json'}"),
            ("amount", "12.5"),
        ),
    )
    trace = Trace(
        exceptions=(ExceptionInfo("ValueError", f"bad token {token}", frames=(frame,)),),
        url="https://user:pw@sentry.example/issues/1",
        tags=(("session_id", "s-123"), ("browser", "Firefox")),
    )
    scrubbed, count = scrub_trace(trace, Redaction())
    flat = repr(scrubbed)
    for secret in (token, "abc123", SECRETS["card-number"], SECRETS["email"], "hunter2", "zzz", ":pw@", "s-123"):
        assert secret not in flat
    assert ("amount", "12.5") in scrubbed.frames[0].vars
    assert ("browser", "Firefox") in scrubbed.tags
    assert count == 8
    assert token in repr(trace)  # the input is never mutated


def test_five_megabytes_of_near_misses_complete() -> None:
    text = ("password token sk- ghp_ eyJ AKIA 4111 a@b " * 140_000)[:5_000_000]
    cleaned, _ = scrub_text(text, Redaction())
    assert len(cleaned) > 1_000_000


PROVIDER_SHAPES = [k for k in SECRETS if k not in ("ipv4", "card-number")]


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(PROVIDER_SHAPES), before=st.text(max_size=30), after=st.text(max_size=30))
def test_generated_secrets_never_survive(kind: str, before: str, after: str) -> None:
    secret = SECRETS[kind]
    text, _ = scrub_text(f"{before} {secret} {after}", Redaction())
    assert secret not in text
    assert not re.search(re.escape(secret[:12]) + ".{8}", text) or kind == "private-key"
