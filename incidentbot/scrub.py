"""Redact secrets and personal data from a trace before anything leaves the process.

Like sentry_sdk's EventScrubber: explicit named lists (``SENSITIVE_KEYS``, ``SECRET_PATTERNS``,
``PII_PATTERNS``), extendable through settings (``[redaction]`` in incidentbot.toml). A replaced value reads
``[REDACTED:<kind>]`` so a reader sees what was removed. Every pattern is linear-time: no nested quantifiers.
Commit authors' e-mails come from git, not from the trace, and are not touched here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from incidentbot.models import ExceptionInfo, Trace
from incidentbot.settings import Redaction

#: Words that make a variable, header, query or JSON key secret: ``db_password``, ``X-Api-Key``, ``authToken``.
SENSITIVE_KEYS = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "token",
    "apikey",
    "api_key",
    "accesskey",
    "access_key",
    "privatekey",
    "private_key",
    "authorization",
    "auth",
    "cookie",
    "session",
    "sessionid",
    "csrf",
    "xsrf",
    "credential",
    "signature",
    "sig",
    "ssn",
    "cvv",
    "pin",
    "dsn",
    "jwt",
    "bearer",
    "cardnumber",
    "card_number",
)

#: Provider tokens and key material, by kind.
SECRET_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "private-key",
        r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[\s\S]{0,20000}?-----END [A-Z ]{0,40}PRIVATE KEY-----",
    ),
    ("aws-key-id", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"),
    ("gcp-api-key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    ("azure-key", r"AccountKey=[A-Za-z0-9+/=]{20,200}"),
    ("github-token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
    ("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,64}\b"),
    ("slack-token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,200}\b|\bxapp-[A-Za-z0-9\-]{10,200}\b"),
    ("slack-webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]{10,200}"),
    ("anthropic-key", r"\bsk-ant-[A-Za-z0-9_\-]{20,200}\b"),
    ("openai-key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,200}\b"),
    ("stripe-key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,200}\b"),
    ("sendgrid-key", r"\bSG\.[A-Za-z0-9_\-]{16,64}\.[A-Za-z0-9_\-]{16,64}\b"),
    ("twilio-key", r"\bSK[0-9a-f]{32}\b"),
    ("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi-token", r"\bpypi-[A-Za-z0-9_\-]{50,300}\b"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,4000}\.eyJ[A-Za-z0-9_\-]{8,4000}\.[A-Za-z0-9_\-]{0,4000}"),
    ("sentry-dsn", r"https://[0-9a-f]{32}@[\w.\-]{1,200}/\d{1,12}"),
)
#: Personal data, by kind.
PII_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "email",
        r"\b[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}\b",
    ),
    (
        "ipv4",
        r"\b(?!127\.0\.0\.1\b|0\.0\.0\.0\b)(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b",
    ),
)
_CARD = re.compile(r"\b\d(?:[ \-]?\d){12,18}\b")
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^:/?#@\s]{1,200}:)(?P<secret>[^@/\s]{1,200})(?=@)"
)
_HEADER_LINE = re.compile(
    r"(?P<head>\b(?:Authorization|Proxy-Authorization|Cookie|Set-Cookie|X-Api-Key|X-Auth-Token)\s*[:=]\s*)"
    r"(?P<secret>[^\n\r]{1,2000})",
    re.IGNORECASE,
)
# ``key=value``, ``key: value``, ``"key": "value"``, ``key => value``. The value is only looked at (a lookahead), so
# a key that turns out not to be sensitive (``https:``) consumes nothing and the scan goes on inside its value.
_ASSIGNMENT = re.compile(
    r"(?<![\w\-])[\"']?(?P<key>[\w\-]{1,80})[\"']?\s{0,3}(?:=>|=|:)\s{0,3}[\"']?"
    r"(?:(?:Bearer|Basic|Token|Digest|Bot)\s{1,3})?(?=(?P<secret>[^\s\"',;&}\]]{1,2000}))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Rules:
    keys: tuple[str, ...]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    allow: frozenset[str]


def scrub_trace(trace: Trace, redaction: Redaction) -> tuple[Trace, int]:
    """A copy of ``trace`` with secrets and personal data replaced, and how many values were replaced."""
    rules = _rules(redaction)
    counter = [0]

    def text(value: str | None) -> str | None:
        if value is None:
            return None
        cleaned, count = _scrub(value, rules)
        counter[0] += count
        return cleaned

    exceptions = tuple(_scrub_exception(exc, text, rules, counter) for exc in trace.exceptions)
    scrubbed = replace(
        trace,
        exceptions=exceptions,
        url=text(trace.url),
        tags=tuple((k, _value_for_key(k, v, rules, counter)) for k, v in trace.tags),
        warnings=tuple(text(w) or "" for w in trace.warnings),
    )
    return scrubbed, counter[0]


def scrub_text(value: str, redaction: Redaction) -> tuple[str, int]:
    """Free text with secrets and personal data replaced, and how many values were replaced."""
    return _scrub(value, _rules(redaction))


def _scrub_exception(
    exc: ExceptionInfo, text: Callable[[str | None], str | None], rules: _Rules, counter: list[int]
) -> ExceptionInfo:
    frames = tuple(
        replace(
            frame,
            filename=text(frame.filename) or "",
            abs_path=text(frame.abs_path),
            context_line=text(frame.context_line),
            pre_context=tuple(text(x) or "" for x in frame.pre_context),
            post_context=tuple(text(x) or "" for x in frame.post_context),
            vars=tuple((k, _value_for_key(k, v, rules, counter)) for k, v in frame.vars),
        )
        for frame in exc.frames
    )
    return replace(exc, value=text(exc.value) or "", frames=frames)


def _value_for_key(key: str, value: str, rules: _Rules, counter: list[int]) -> str:
    if _is_sensitive(key, rules) and value not in rules.allow and value not in ("", "None", "null"):
        counter[0] += 1
        return f"[REDACTED:{key.lower()[:40]}]"
    cleaned, count = _scrub(value, rules)
    counter[0] += count
    return cleaned


def _scrub(value: str, rules: _Rules) -> tuple[str, int]:
    count = 0

    def sub(pattern: re.Pattern[str], kind: str, text: str, group: str | None = None) -> str:
        nonlocal count

        def repl(match: re.Match[str]) -> str:
            nonlocal count
            secret = match[group] if group else match[0]
            if secret in rules.allow or secret.startswith("[REDACTED"):
                return match[0]
            count += 1
            return (match["head"] if group else "") + f"[REDACTED:{kind}]"

        return pattern.sub(repl, text)

    # Credentials inside URLs first: the e-mail pattern would otherwise take ``user:pw@host`` apart.
    value = sub(_URL_PASSWORD, "password", value, "secret")
    value = sub(_HEADER_LINE, "auth-header", value, "secret")
    for kind, pattern in rules.patterns:
        value = sub(pattern, kind, value)
    value, assigned = _scrub_assignments(value, rules)
    value, cards = _scrub_cards(value)
    return value, count + assigned + cards


def _scrub_assignments(value: str, rules: _Rules) -> tuple[str, int]:
    """``password=…``, ``"token": "…"``, ``Authorization: Bearer …`` with a sensitive key name."""
    out: list[str] = []
    position = count = 0
    for match in _ASSIGNMENT.finditer(value):
        secret = match["secret"]
        if match.start() < position or not _is_sensitive(match["key"], rules):
            continue
        if secret in rules.allow or secret.startswith("[REDACTED"):
            continue
        out += [value[position : match.end()], f"[REDACTED:{match['key'].lower()[:40]}]"]
        position = match.end() + len(secret)
        count += 1
    out.append(value[position:])
    return "".join(out), count


def _scrub_cards(value: str) -> tuple[str, int]:
    count = 0

    def repl(match: re.Match[str]) -> str:
        nonlocal count
        digits = re.sub(r"\D", "", match[0])
        if 13 <= len(digits) <= 19 and _luhn(digits):
            count += 1
            return "[REDACTED:card-number]"
        return match[0]

    return _CARD.sub(repl, value), count


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def _is_sensitive(key: str, rules: _Rules) -> bool:
    """Whole words count (``auth`` in ``X-Auth-Token`` but not in ``author``), compounds anywhere."""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key[:100]).lower().replace("-", "_")
    words = {word.rstrip("s") if len(word) > 4 else word for word in re.split(r"[^a-z0-9]+", snake) if word}
    squashed = snake.replace("_", "")
    return any(k in words or ("_" in k and (k in snake or k.replace("_", "") in squashed)) for k in rules.keys)


@lru_cache(maxsize=16)
def _rules(redaction: Redaction) -> _Rules:
    patterns: list[tuple[str, re.Pattern[str]]] = [
        (kind, re.compile(p)) for kind, p in (*SECRET_PATTERNS, *PII_PATTERNS)
    ]
    patterns += [("custom", re.compile(p)) for p in redaction.extra_patterns]
    keys = tuple(k.lower() for k in (*SENSITIVE_KEYS, *redaction.extra_sensitive_keys))
    return _Rules(keys, tuple(patterns), frozenset(redaction.allow))
