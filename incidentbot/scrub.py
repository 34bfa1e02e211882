"""Redact secrets and personal data from a trace before anything leaves the process.

Like sentry_sdk's EventScrubber: explicit named lists (``SENSITIVE_KEYS``, ``SECRET_PATTERNS``,
``PII_PATTERNS``), extendable through settings (``[redaction]`` in incidentbot.toml). A replaced value reads
``[REDACTED:<kind>]`` so a reader sees what was removed. Every pattern is linear-time: no nested quantifiers.
Commit authors' e-mails come from git, not from the trace, and are not touched here.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
#: Words that are too common to make a ``key=value`` secret but, right before a random-looking string, say
#: that it is one (``api key is Zx8k…``).
NEAR_WORDS = ("key", "keys")

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
    ("sentry-token", r"\bsntry[su]_[A-Za-z0-9+/=_\-]{20,400}"),
    ("google-oauth-token", r"\bya29\.[0-9A-Za-z_\-]{20,400}"),
    ("huggingface-token", r"\bhf_[A-Za-z0-9]{30,40}\b"),
    ("digitalocean-token", r"\bdo[opr]_v1_[a-f0-9]{64}\b"),
    ("shopify-token", r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b"),
    ("mailgun-key", r"\bkey-[0-9a-f]{32}\b"),
    ("vault-token", r"\bhv[sbr]\.[A-Za-z0-9_\-]{24,200}"),
    ("linear-key", r"\blin_api_[A-Za-z0-9]{40}\b"),
    ("databricks-token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),
    ("grafana-token", r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b|\bglc_[A-Za-z0-9+/]{32,400}={0,2}"),
    ("newrelic-key", r"\bNRAK-[A-Z0-9]{27}\b"),
    ("square-token", r"\bsq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43}\b|\bEAAA[A-Za-z0-9_\-]{60}\b"),
    ("doppler-token", r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}\b"),
    ("age-key", r"\bAGE-SECRET-KEY-1[A-Z0-9]{58}\b"),
    ("postman-key", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b"),
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
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^:/?#@\s]{0,200}:)(?P<secret>[^@/\s]{1,200})(?=@)"
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


#: A candidate for the high-entropy rule, and how near a sensitive word must be before it.
_CANDIDATE = re.compile(r"(?<![\w+/=\-.])[A-Za-z0-9+/=_\-.~]{16,400}(?![\w+/=\-.~])")
_WORD = re.compile(r"[A-Za-z][A-Za-z_\-]{1,40}")
_NEAR, _NEAR_WORDS = 40, 3
_MIN_ENTROPY_BITS = 3.5
_CACHED_CHARS, _CACHE_ENTRIES = 2_000, 50_000
_SHORTEST_SECRET = 15  # characters: the shortest match of any SECRET_PATTERNS (a Slack token)
_PII_NEEDS = {"email": "@", "ipv4": "."}
_IDENTIFIER_WORD = re.compile(r"[A-Z]?[a-z]{3,}")


@dataclass(frozen=True, slots=True)
class _Rules:
    keys: tuple[str, ...]
    secrets: tuple[tuple[str, re.Pattern[str]], ...]  # provider tokens: none is shorter than _SHORTEST_SECRET
    personal: tuple[tuple[str, re.Pattern[str], str], ...]  # personal data, with a character it cannot lack
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # the configured ``extra_patterns``
    allow: frozenset[str]
    deny: tuple[str, ...]
    # Results by text: events repeat the same keys, module lists, frames and messages.
    cache: dict[str, tuple[str, int]] = field(default_factory=dict, compare=False, hash=False)
    sensitive: dict[str, bool] = field(default_factory=dict, compare=False, hash=False)


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


def scrub_payload(payload: str, redaction: Redaction) -> str:
    """A raw event (JSON, or text) as it may be stored: every string scrubbed, every value under a sensitive key
    replaced, whatever the nesting (headers, cookies, query strings, bodies, breadcrumbs, extra, user). The count
    travels with a JSON object as ``incidentbot_redactions``, so the report shows it."""
    rules = _rules(redaction)
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return _scrub(payload, rules)[0]
    counter = [0]
    cleaned = _scrub_structure(data, rules, counter, 0)
    if isinstance(cleaned, dict):
        cleaned[REDACTIONS_FIELD] = int(cleaned.get(REDACTIONS_FIELD) or 0) + counter[0]
    return json.dumps(cleaned, ensure_ascii=False)


#: The field of a stored event that counts the values redacted before it was stored.
REDACTIONS_FIELD = "incidentbot_redactions"
_MAX_DEPTH = 64


def _scrub_structure(value: object, rules: _Rules, counter: list[int], depth: int) -> object:
    if depth > _MAX_DEPTH:
        counter[0] += 1
        return "[REDACTED:too-deep]"
    if isinstance(value, str):
        cleaned, count = _scrub(value, rules)
        counter[0] += count
        return cleaned
    if isinstance(value, dict):
        return {
            key: _scrub_keyed(str(key), item, rules, counter, depth) if key != REDACTIONS_FIELD else item
            for key, item in value.items()
        }
    if isinstance(value, list):
        # ``[["Authorization", "Bearer …"], …]``: Sentry's headers, cookies and query strings as pairs.
        if all(isinstance(i, list) and len(i) == 2 and isinstance(i[0], str) for i in value) and value:
            return [[k, _scrub_keyed(k, v, rules, counter, depth)] for k, v in value]
        return [_scrub_structure(item, rules, counter, depth + 1) for item in value]
    return value


def _scrub_keyed(key: str, value: object, rules: _Rules, counter: list[int], depth: int) -> object:
    if value in (None, "", "None", "null") or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and value.startswith("[REDACTED"):
        return value
    if _is_sensitive(key, rules) and not (isinstance(value, str) and value in rules.allow):
        counter[0] += 1
        return f"[REDACTED:{key.lower()[:40]}]"
    return _scrub_structure(value, rules, counter, depth + 1)


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
    cached = rules.cache.get(value)
    if cached is not None:
        return cached
    scrubbed = _scrub_uncached(value, rules)
    if len(value) <= _CACHED_CHARS:
        if len(rules.cache) >= _CACHE_ENTRIES:
            rules.cache.clear()
        rules.cache[value] = scrubbed
    return scrubbed


def _scrub_uncached(value: str, rules: _Rules) -> tuple[str, int]:
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

    # Each step runs only where it could match: most strings of an event are short names and numbers.
    assigns = "=" in value or ":" in value
    # Credentials inside URLs first: the e-mail pattern would otherwise take ``user:pw@host`` apart.
    if "@" in value and "://" in value:
        value = sub(_URL_PASSWORD, "password", value, "secret")
    if assigns:
        value = sub(_HEADER_LINE, "auth-header", value, "secret")
    if len(value) >= _SHORTEST_SECRET:
        for kind, pattern in rules.secrets:
            value = sub(pattern, kind, value)
    for kind, pattern, needed in rules.personal:
        if needed in value:
            value = sub(pattern, kind, value)
    for kind, pattern in rules.patterns:
        value = sub(pattern, kind, value)
    assigned = cards = entropic = 0
    if assigns:
        value, assigned = _scrub_assignments(value, rules)
    if len(value) >= 13:
        value, cards = _scrub_cards(value)
    if len(value) >= 16:
        value, entropic = _scrub_entropic(value, rules)
    for denied in rules.deny:
        if denied in value:
            count += value.count(denied)
            value = value.replace(denied, "[REDACTED:denied]")
    return value, count + assigned + cards + entropic


def _scrub_entropic(value: str, rules: _Rules) -> tuple[str, int]:
    """A random-looking string (16+ characters, mixed case and digits) within a few words after a sensitive
    word: ``api key is Zx8k…``, ``invalid token 'Q7w9…'``, ``credentials wJalr…``."""
    out: list[str] = []
    position = count = 0
    for match in _CANDIDATE.finditer(value):
        secret = match[0]
        if secret in rules.allow or not _random_looking(secret):
            continue
        before = value[max(0, match.start() - _NEAR) : match.start()]
        words = _WORD.findall(before)[-_NEAR_WORDS:]
        if not any(_near_word(word, rules) for word in words):
            continue
        out += [value[position : match.start()], "[REDACTED:high-entropy]"]
        position = match.end()
        count += 1
    out.append(value[position:])
    return "".join(out), count


def _near_word(word: str, rules: _Rules) -> bool:
    return word.lower() in NEAR_WORDS or _is_sensitive(word, rules)


def _random_looking(text: str) -> bool:
    classes = sum(bool(re.search(p, text)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    if classes < 3 and not (classes == 2 and re.search("[0-9]", text) and len(text) >= 32):
        return False
    if sum(len(word) for word in _IDENTIFIER_WORD.findall(text)) > len(text) * 0.5:
        return False  # mostly words: ``ShoppingCartController_v2`` is a name, not a key
    frequencies = [n / len(text) for n in Counter(text).values()]
    return -sum(p * math.log2(p) for p in frequencies) >= _MIN_ENTROPY_BITS


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
    known = rules.sensitive.get(key)
    if known is None:
        if len(rules.sensitive) >= _CACHE_ENTRIES:
            rules.sensitive.clear()
        known = rules.sensitive[key] = _sensitive_words(key, rules)
    return known


def _sensitive_words(key: str, rules: _Rules) -> bool:
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key[:100]).lower().replace("-", "_")
    words = {word.rstrip("s") if len(word) > 4 else word for word in re.split(r"[^a-z0-9]+", snake) if word}
    squashed = snake.replace("_", "")
    return any(k in words or ("_" in k and (k in snake or k.replace("_", "") in squashed)) for k in rules.keys)


@lru_cache(maxsize=16)
def _rules(redaction: Redaction) -> _Rules:
    secrets = tuple((kind, re.compile(p)) for kind, p in SECRET_PATTERNS)
    personal = tuple((kind, re.compile(p), _PII_NEEDS[kind]) for kind, p in PII_PATTERNS)
    patterns = tuple(("custom", re.compile(p)) for p in redaction.extra_patterns)
    keys = tuple(k.lower() for k in (*SENSITIVE_KEYS, *redaction.extra_sensitive_keys))
    deny = tuple(sorted((d for d in redaction.deny if d), key=len, reverse=True))  # longest first
    return _Rules(keys, secrets, personal, patterns, frozenset(redaction.allow), deny)
