"""Every field a trace brings is redacted: paths (and tokens in URL paths), function and module names (generated
ones embed tokens), exception types, context lines, variables (names and values), tags, release, environment."""

from __future__ import annotations

import pytest

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.scrub import scrub_text, scrub_trace
from incidentbot.settings import Redaction

R36 = "Q7w9E2r4T6y8U1i3O5p7A9s2D4f6G8h1J3k5"
GITHUB = "ghp_" + R36
STRIPE = "sk_live_" + "51Hx4Jk2Lm3Nb4Vc5Xz6Qw7Er8Ty9Ui0"
SLACK = "xoxb-" + "1234567890123-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
RANDOM = "Zx8kQ2pL9mN4vB7cR1tY6wE3"


def test_every_trace_derived_field_is_redacted() -> None:
    frame = Frame(
        filename=f"https://cdn.shop.example/t/{GITHUB}/app.js",
        function=f"handler_{GITHUB}",
        module=f"gen.m_{STRIPE}",
        abs_path=f"/srv/{SLACK}/app.js",
        context_line=f"token = '{STRIPE}'",
        pre_context=(f"# {GITHUB}",),
        post_context=(f"# {SLACK}",),
        vars=((f"cache_{GITHUB}", "1"), ("note", f"see {STRIPE}")),
    )
    exception = ExceptionInfo(f"Err_{GITHUB}", f"bad {SLACK}", module=f"lambda_{STRIPE}", frames=(frame,))
    trace = Trace(
        exceptions=(exception,),
        url=f"https://sentry.example/issues/1?t={GITHUB}",
        release=f"shop@1.2.3+{GITHUB}",
        environment=f"prod-{STRIPE}",
        tags=((f"k_{GITHUB}", "v"), ("deploy", f"by {SLACK}")),
        warnings=(f"could not read {GITHUB}",),
    )
    scrubbed, count = scrub_trace(trace, Redaction())
    flat = repr(scrubbed)
    for token in (GITHUB, STRIPE, SLACK):
        assert token[:14] not in flat, token
    assert count == 18
    assert scrubbed.exceptions[0].frames[0].function == "handler_[REDACTED:github-token]"
    assert scrubbed.exceptions[0].frames[0].vars[0] == ("cache_[REDACTED:github-token]", "1")


def test_release_keeps_version_shapes_that_look_like_personal_data() -> None:
    """The release names the revision (a git tag): 1.0.0.12 reads as an IPv4 address, yet must stay."""
    trace = Trace(exceptions=(ExceptionInfo("E", "x"),), release="1.0.0.12", environment="prod")
    scrubbed, count = scrub_trace(trace, Redaction())
    assert scrubbed.release == "1.0.0.12" and count == 0


@pytest.mark.parametrize(
    "url",
    [
        f"https://api.shop.example/v1/token/{RANDOM}/refresh",
        f"https://shop.example/password/reset/{RANDOM}",
        f"https://shop.example/account/verify/{RANDOM}?next=/",
        f"https://shop.example/invite/{RANDOM}",
        f"/srv/app/secrets/{RANDOM}/config.py",
        f"https://hooks.shop.example/{GITHUB}/notify",
        f"https://api.shop.example/charge/{STRIPE}",
    ],
)
def test_tokens_in_url_paths_are_redacted(url: str) -> None:
    text, count = scrub_text(f"GET {url} failed", Redaction())
    assert count == 1 and RANDOM not in text and GITHUB not in text and STRIPE not in text


@pytest.mark.parametrize(
    "text",
    [
        "GET https://shop.example/static/js/main.4f5e6d7c.chunk.js failed",
        "/srv/app/shop/ShoppingCartControllerFactory.py line 3",
        "https://github.com/acme/shop/blob/1f0f979f08f85bd6dbdb83af06782178ff06e700/shop/cart.py#L7",
        f"https://shop.example/products/{RANDOM}",  # a random segment with no word saying it is a secret
        "/srv/app/token_refresh/handlers.py",
    ],
)
def test_ordinary_paths_survive(text: str) -> None:
    assert scrub_text(text, Redaction()) == (text, 0)


@pytest.mark.parametrize(
    "name",
    [
        f"handler_{GITHUB}",
        f"{GITHUB}_handler",
        f"charge_{STRIPE}",
        f"cb_{SLACK}_v2",
        "api_key-" + "0123456789abcdef" * 2,
    ],
)
def test_tokens_inside_generated_identifiers_are_redacted(name: str) -> None:
    text, count = scrub_text(name, Redaction())
    assert count == 1 and "[REDACTED:" in text
