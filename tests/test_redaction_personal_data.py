"""Personal data beyond e-mail, IPv4 and card numbers: IBANs, phone numbers, IPv6 addresses and national ID numbers
whose check digits make them unambiguous; and the numbers a traceback is full of, which must all survive."""

from __future__ import annotations

import pytest

from incidentbot.scrub import scrub_text
from incidentbot.settings import Redaction

PERSONAL = {
    "iban-spaced": ("DE89 3704 0044 0532 0130 00", "iban"),
    "iban-compact": ("GB82WEST12345698765432", "iban"),
    "iban-letters-inside": ("FR14 2004 1010 0505 0001 3M02 606", "iban"),
    "phone-uk-international": ("+44 20 7946 0958", "phone"),
    "phone-us-national": ("(415) 555-2671", "phone"),
    "phone-us-dashes": ("415-555-2671", "phone"),
    "phone-us-international": ("+1 415-555-2671", "phone"),
    "phone-fr-international": ("+33 1 23 45 67 89", "phone"),
    "phone-de-international": ("+49 30 901820", "phone"),
    "ipv6-full": ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "ipv6"),
    "ipv6-compressed": ("2001:db8:85a3::8a2e:370:7334", "ipv6"),
    "ipv6-link-local-with-zone": ("fe80::1ff:fe23:4567:890a%eth0", "ipv6"),
    "es-dni": ("12345678Z", "national-id"),
    "es-nie": ("X1234567L", "national-id"),
    "it-codice-fiscale": ("RSSMRA85T10A562S", "national-id"),
    "br-cpf": ("111.444.777-35", "national-id"),
}


@pytest.mark.parametrize("name", sorted(PERSONAL))
def test_personal_data_is_replaced_in_messages(name: str) -> None:
    value, kind = PERSONAL[name]
    text, count = scrub_text(f"payout to {value} failed (retrying)", Redaction())
    assert value not in text
    assert text == f"payout to [REDACTED:{kind}] failed (retrying)" and count == 1


def test_an_iban_followed_by_a_word_of_four_keeps_the_word() -> None:
    assert scrub_text("pay BE71 0961 2345 6769 EURO now", Redaction()) == ("pay [REDACTED:iban] EURO now", 1)


def test_allowed_values_stay() -> None:
    allowed = ("DE89 3704 0044 0532 0130 00", "+44 20 7946 0958", "2001:db8::7:1", "12345678Z")
    text = "a DE89 3704 0044 0532 0130 00 b +44 20 7946 0958 c 2001:db8::7:1 d 12345678Z"
    assert scrub_text(text, Redaction(allow=allowed)) == (text, 0)


def test_ipv6_in_brackets_with_a_port() -> None:
    assert scrub_text("connect to [2001:db8::7:1]:443 refused", Redaction()) == (
        "connect to [[REDACTED:ipv6]]:443 refused",
        1,
    )


@pytest.mark.parametrize(
    "text",
    [
        "DE88 3704 0044 0532 0130 00",  # an IBAN shape with a wrong check number
        "12345678A",  # a DNI shape with the wrong letter
        "111.444.777-36",  # a CPF shape with wrong check digits
        "111.111.111-11",  # check digits that work for a number never issued
        "RSSMRA85T10A562T",  # a codice fiscale with the wrong check letter
    ],
)
def test_shapes_whose_check_digits_fail_survive(text: str) -> None:
    assert scrub_text(f"value {text} rejected", Redaction()) == (f"value {text} rejected", 0)


# What a traceback is full of: none of it is personal data.
TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/shop/orders.py", line 42, in fulfil
    order = Order.get(1234567)
  File "/srv/app/venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py", line 2856, in get
    raise NoResultFound(f"order {ident} not found after {elapsed} ms")
sqlalchemy.exc.NoResultFound: order 1234567 not found after 1500.25 ms"""

NUMBERS = [
    "line 42, in total",
    "order 1234567 not found",
    "customer 4155552671 has no cart",  # ten bare digits: an id, not a phone number
    "request id 20261202100000123 failed",
    "took 1500.25 ms (p99 12.345678 s, elapsed 0:00:01.234567)",
    "at 2026-12-02T10:00:00Z and 2026-12-02T10:00:00.123456+01:00",
    "logged 2026-12-02 10:00:00,123 ERROR in worker 3",
    "epoch 1700000000 or 1700000000123 ms",
    "pointer 0x7ffd5e8c9a10 and 0xDEADBEEF",
    "request 7f3a9c2e1b4d8e6f, sha256:4f5e6d7c8b9a0123456789abcdef0123",
    "commit 1f0f979f08f85bd6dbdb83af06782178ff06e700 and abc1234",
    "listening on 127.0.0.1:8080, db on port 5432, redis 6379",
    "version 1.2.3, v2.3.1-415-5552671, build 20261202.1, release 2024.04.12",
    "pid 31337 uid 1000 gid 1000, retry 3/5, status 503",
    "size 1,234,567 bytes, 12,345.67 EUR",
    "matrix shape (1024, 768, 3) and range(0, 100000)",
    "at Object.<anonymous> (/srv/app/dist/main.js:1234:56789)",
    "std::vector<int>::iterator at Foo::Bar::baz and a::b",
    "times 10:00:00 and 12:34:56.789, ratio 16:9",
    "MAC 00:1A:2B:3C:4D:5E, loopback ::1 and unspecified ::",
    "dead::beef and cafe::babe are not addresses",
    "isbn 978-3-16-148410-0 and uuid 123e4567-e89b-12d3-a456-426614174000",
    "ZeroDivisionError: division by zero",
    TRACEBACK,
]


@pytest.mark.parametrize("text", NUMBERS, ids=[f"numbers{i}" for i in range(len(NUMBERS))])
def test_a_tracebacks_numbers_survive(text: str) -> None:
    assert scrub_text(text, Redaction()) == (text, 0)


def test_a_megabyte_of_digits_and_colons_stays_linear() -> None:
    import time

    text = ("2026-12-02 10:00:00,123 415 555 2671 a::b:c 1.2.3.4 DE89 12345678 " * 16_000)[:1_000_000]
    started = time.perf_counter()
    cleaned, count = scrub_text(text, Redaction())
    assert count > 0 and len(cleaned) > 500_000
    assert time.perf_counter() - started < 30  # generous on a loaded 2-core machine; about 3 s measured
