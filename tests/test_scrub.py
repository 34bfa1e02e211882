"""Redaction: every kind of secret and personal data is replaced, ordinary text survives, counts are right."""

from __future__ import annotations

import json
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.scrub import scrub_payload, scrub_text, scrub_trace
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


@settings(max_examples=int(os.environ.get("INCIDENTBOT_FUZZ_EXAMPLES", "150")), deadline=None)
@given(kind=st.sampled_from(PROVIDER_SHAPES), before=st.text(max_size=30), after=st.text(max_size=30))
def test_generated_secrets_never_survive(kind: str, before: str, after: str) -> None:
    secret = SECRETS[kind]
    text, _ = scrub_text(f"{before} {secret} {after}", Redaction())
    assert secret not in text
    assert not re.search(re.escape(secret[:12]) + ".{8}", text) or kind == "private-key"


MORE_TOKENS = {
    "sentry-token": "sntrys_" + "eyJpYXQiOjE3MDAwMDAwMDB9" + "_" + "Xy1Zw2Vu3Ts4Rq5Po6Nm7Lk8Jh9",
    "google-oauth-token": "ya29." + "a0AfB_byDKx9Lm8Nb7Vc6Xz5Qw4Er3Ty2",
    "huggingface-token": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    "digitalocean-token": "dop_v1_" + "0123456789abcdef" * 4,
    "shopify-token": "shpat_" + "0123456789abcdef" * 2,
    "mailgun-key": "key-" + "0123456789abcdef" * 2,
    "vault-token": "hvs." + "CAESIJ8v9xQmZq2W4e6R8t0Y2u4I6o8P0a",
    "linear-key": "lin_api_" + "A1b2C3d4E5" * 4,
    "databricks-token": "dapi" + "0123456789abcdef" * 2,
    "grafana-token": "glsa_" + "A1b2C3d4E5f6G7h8" * 2 + "_" + "0a1b2c3d",
    "newrelic-key": "NRAK-" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0",
    "doppler-token": "dp.pt." + "A1b2C3d4E5" * 4 + "xy",
    "age-key": "AGE-SECRET-KEY-1" + "QWERTYUIOPASDFGHJKLZXCVBNM" * 2 + "QWERTY",
}


@pytest.mark.parametrize("kind", sorted(MORE_TOKENS))
def test_more_provider_tokens(kind: str) -> None:
    text, count = scrub_text(f"call failed: {MORE_TOKENS[kind]} rejected", Redaction())
    assert MORE_TOKENS[kind] not in text and f"[REDACTED:{kind}]" in text and count == 1


@pytest.mark.parametrize(
    "text",
    [
        "the api key is Zx8kQ2pL9mN4vB7cR1tY6wE3 and it was refused",
        "invalid token 'Q7w9E2r4T6y8U1i3O5p7' for tenant 42",
        "upstream rejected credentials wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY (retrying)",
        "Secret: mZ3xK9qW2eR7tY5u",
    ],
)
def test_random_strings_near_a_sensitive_word_are_replaced(text: str) -> None:
    cleaned, count = scrub_text(text, Redaction())
    assert "[REDACTED:" in cleaned and count == 1
    assert not re.search(r"[A-Za-z0-9]{16}", cleaned.replace("REDACTED", ""))


@pytest.mark.parametrize(
    "text",
    [
        "token refresh failed in ShoppingCartController_v2",
        "key 1f0f979f08f85bd6dbdb83af06782178ff06e700 missing from the cache",  # a commit id: lowercase hex
        "the password field of /srv/app/shop/checkout/forms.py",
        "Zx8kQ2pL9mN4vB7cR1tY6wE3 appears with no sensitive word near it",
    ],
)
def test_random_looking_rule_spares_names_hashes_and_far_strings(text: str) -> None:
    assert scrub_text(text, Redaction()) == (text, 0)


def test_deny_list_replaces_exact_strings_whatever_their_shape() -> None:
    text, count = scrub_text("db01.corp.acme.internal refused Globex Corp", Redaction(deny=("Globex Corp", "db01")))
    assert text == "[REDACTED:denied].corp.acme.internal refused [REDACTED:denied]" and count == 2


def test_payload_structures_are_redacted_by_key_at_any_depth() -> None:
    event = {
        "exception": {"values": [{"type": "E", "value": "password=hunter2"}]},
        "request": {
            "url": "https://shop.example/cart?token=qs-1&page=2",
            "headers": [["Authorization", "Bearer hdr-1"], ["Accept", "text/html"]],
            "cookies": "session=ck-1; theme=dark",
            "query_string": [["access_token", "qs-2"], ["page", "2"]],
            "data": {"user": {"password": "body-1", "name": "bob"}, "items": [1, 2]},
        },
        "breadcrumbs": {"values": [{"message": "login with secret=crumb-1", "level": "info"}]},
        "extra": {"client_secret": "extra-1", "retries": 3},
        "user": {"email": "victim@example.net", "id": "42"},
    }
    cleaned = scrub_payload(json.dumps(event), Redaction())
    for secret in ("hunter2", "qs-1", "hdr-1", "ck-1", "qs-2", "body-1", "crumb-1", "extra-1", "victim@example.net"):
        assert secret not in cleaned
    data = json.loads(cleaned)
    assert data["request"]["headers"][1] == ["Accept", "text/html"]
    assert data["request"]["data"]["user"]["name"] == "bob" and data["extra"]["retries"] == 3
    assert data["incidentbot_redactions"] == 9
    assert json.loads(scrub_payload(cleaned, Redaction()))["incidentbot_redactions"] == 9  # idempotent


def test_payload_that_is_not_json_is_scrubbed_as_text() -> None:
    assert scrub_payload("password=hunter2 {", Redaction()) == "password=[REDACTED:password] {"
