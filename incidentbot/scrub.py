"""Redact secrets and personal data from a trace before anything leaves the process.

Like sentry_sdk's EventScrubber: explicit named lists (``SENSITIVE_KEYS``, ``SECRET_PATTERNS``,
``PII_PATTERNS``), extendable through settings (``[redaction]`` in incidentbot.toml). A replaced value reads
``[REDACTED:<kind>]`` so a reader sees what was removed. Every pattern is linear-time: no nested quantifiers.
Commit authors' e-mails come from git, not from the trace, and are not touched here.

Patterns read the text without invisible characters (zero-width, joiners, soft hyphens, bidirectional marks…):
a reader, or a model, joins ``gh<U+200B>p_…`` back into a token. What they find is mapped back onto the
original text, so everything outside a redaction stays as it was.

Personal data with a checksum or a grammar is validated by well-kept libraries before it is replaced:
python-stdnum (IBANs, the national ID numbers in ``NATIONAL_IDS``), phonenumbers (phone numbers) and the
standard library's ``ipaddress`` (IPv6 addresses).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.render_safe import INVISIBLE_CHARACTERS
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
#: Personal data found by a pattern alone, by kind.
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
#: National ID numbers replaced as ``national-id``: only shapes whose check digits make them unambiguous, each
#: validated by python-stdnum (module under ``stdnum``) after its pattern matched. Numbers without a check
#: digit (US SSN, UK NINO) or with one weak check digit on a bare run of digits (German tax id, Dutch BSN,
#: Polish PESEL) would hit ordinary ids and are left out.
NATIONAL_IDS: tuple[tuple[str, str, str], ...] = (
    ("es.dni", "Spanish DNI", r"(?<![A-Za-z0-9])\d{8}-?[A-Z](?![A-Za-z0-9])"),
    ("es.nie", "Spanish NIE", r"(?<![A-Za-z0-9])[XYZ]-?\d{7}-?[A-Z](?![A-Za-z0-9])"),
    (
        "it.codicefiscale",
        "Italian codice fiscale",
        r"(?<![A-Za-z0-9])[A-Z]{6}[0-9LMNP-V]{2}[ABCDEHLMPRST][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z](?![A-Za-z0-9])",
    ),
    ("br.cpf", "Brazilian CPF, written 000.000.000-00", r"(?<![\w.\-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w.\-])"),
)
#: IBANs, compact or in groups of four; python-stdnum checks the country's length and format and the check digits.
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)(?![A-Za-z0-9])"
)
#: Phone numbers: national-format numbers (``(415) 555-2671``) are read as numbers of this region; international
#: ones (``+44 20 7946 0958``) are found whatever it is. North America's is the national format most often seen
#: in English-language logs.
PHONE_REGION = "US"
#: What a phone number looks like before phonenumbers reads it: international (``+`` and 7–15 digits with phone
#: punctuation) or North American (``(415) 555-2671``, ``415-555-2671``, ``1 415 555 2671``); never a bare run of
#: digits (an id) and never inside a longer token (``v2.3.1-415-…``, ``/orders/415-555-…``).
_PHONE = re.compile(
    r"(?<![\w.\-/:+])"
    r"(?:\+\d[\d \t().\-]{5,22}\d|(?:1[ .\-])?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4})"
    r"(?![\w+]|[.\-/:]\w)"
)
#: Phone-shaped numbers checked with phonenumbers in one text; past it they are replaced on their shape alone, so
#: a megabyte of phone numbers costs seconds, not minutes.
_PHONES_CHECKED = 500
#: An IPv6 address (validated by ``ipaddress``), with a zone; not inside a word or a longer run of colons.
_IPV6 = re.compile(r"(?<![\w:.%])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[A-Za-z0-9_.\-]{1,32})?(?![\w:])")
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
#: A segment of a URL or file path, for the same rule: ``/v1/token/Zx8k…``, ``/password/reset/Zx8k…``.
_PATH_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_\-.~+=]{16,400}(?![A-Za-z0-9_\-.~+=])")
#: Words that, in a path, say the next segment is a capability: a link that works for whoever holds it.
PATH_WORDS = ("reset", "verify", "confirm", "invite", "invitation", "magic", "activate", "unsubscribe", "share")
_WORD = re.compile(r"[A-Za-z][A-Za-z_\-]{1,40}")
_NEAR, _NEAR_WORDS = 40, 3
_MIN_ENTROPY_BITS = 3.5
_CACHED_CHARS, _CACHE_ENTRIES = 2_000, 50_000
_SHORTEST_SECRET = 15  # characters: the shortest match of any SECRET_PATTERNS (a Slack token)
_PII_NEEDS = {"email": "@", "ipv4": "."}
#: What patterns do not see: a token with these inside still reads as one to a person or a model.
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}\u00ad\ufe00-\ufe0f\u180b-\u180d]")
_VISIBLE_RUN = re.compile(f"[^{INVISIBLE_CHARACTERS}\u00ad\ufe00-\ufe0f\u180b-\u180d]+")
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
    """A copy of ``trace`` with secrets and personal data replaced, and how many values were replaced: every
    field that comes from the trace (types, messages, paths, functions, modules, source lines, variables and
    their names, tags, the URL, the environment and the parser's warnings; the release for secrets only)."""
    rules = _rules(redaction)
    counter = [0]

    def text(value: str | None) -> str | None:
        if value is None:
            return None
        cleaned, count = _scrub(value, rules)
        counter[0] += count
        return cleaned

    exceptions = tuple(_scrub_exception(exc, text, rules, counter) for exc in trace.exceptions)
    release = None
    if trace.release is not None:
        # The release names the revision (a git tag): ``1.0.0.12`` reads as an IPv4 address, yet must stay.
        release, count = _scrub_uncached(trace.release, rules, personal=False)
        counter[0] += count
    scrubbed = replace(
        trace,
        exceptions=exceptions,
        url=text(trace.url),
        release=release,
        environment=text(trace.environment),
        tags=tuple(_pair(k, v, rules, counter) for k, v in trace.tags),
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
    frames = tuple(_scrub_frame(frame, text, rules, counter) for frame in exc.frames)
    return replace(exc, type=text(exc.type) or "", value=text(exc.value) or "", module=text(exc.module), frames=frames)


def _scrub_frame(frame: Frame, text: Callable[[str | None], str | None], rules: _Rules, counter: list[int]) -> Frame:
    return replace(
        frame,
        filename=text(frame.filename) or "",
        abs_path=text(frame.abs_path),
        function=text(frame.function),
        module=text(frame.module),
        context_line=text(frame.context_line),
        pre_context=tuple(text(x) or "" for x in frame.pre_context),
        post_context=tuple(text(x) or "" for x in frame.post_context),
        vars=tuple(_pair(k, v, rules, counter) for k, v in frame.vars),
    )


def _pair(key: str, value: str, rules: _Rules, counter: list[int]) -> tuple[str, str]:
    """A variable or tag: its value replaced whole when its name is sensitive, both scrubbed as text otherwise
    (a generated name can hold a token too)."""
    name, count = _scrub(key, rules)
    counter[0] += count
    return name, _value_for_key(key, value, rules, counter)


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


#: A replacement: ``text[start:end]`` becomes the string.
_Edit = tuple[int, int, str]
#: A stretch of the text being redacted: a span of the original's visible characters, or a replacement.
_Piece = tuple[int, int] | str


class _Text:
    """The text being redacted. ``current`` is what the patterns read: the original without invisible
    characters, with the replacements made so far. When characters were removed, ``pieces`` says where each
    stretch of ``current`` came from, so the result is the original with only the replaced spans changed."""

    __slots__ = ("original", "current", "count", "_positions", "_pieces")

    def __init__(self, original: str) -> None:
        self.original = original
        self.current = original
        self.count = 0
        self._positions: list[int] | None = None  # index in the original of each visible character, and its end
        self._pieces: list[_Piece] | None = None
        if _INVISIBLE.search(original) is not None:
            positions: list[int] = []
            runs: list[str] = []
            for run in _VISIBLE_RUN.finditer(original):
                positions.extend(range(run.start(), run.end()))
                runs.append(run[0])
            positions.append(len(original))
            self.current = "".join(runs)
            self._positions = positions
            self._pieces = [(0, len(self.current))] if self.current else []

    def apply(self, edits: list[_Edit]) -> None:
        """Make ``edits`` (sorted, not overlapping, on ``current``)."""
        if not edits:
            return
        out: list[str] = []
        position = 0
        for start, end, replacement in edits:
            out += [self.current[position:start], replacement]
            position = end
        out.append(self.current[position:])
        if self._pieces is not None:
            self._pieces = _respliced(self._pieces, edits, len(self.current))
        self.current = "".join(out)
        self.count += len(edits)

    def result(self) -> str:
        if self._pieces is None or self._positions is None:
            return self.current
        positions, out = self._positions, []
        for piece in self._pieces:
            if isinstance(piece, str):
                out.append(piece)
            else:  # the original from this visible character to the next kept one, invisible ones included
                out.append(self.original[positions[piece[0]] if piece[0] else 0 : positions[piece[1]]])
        return "".join(out)


def _respliced(pieces: list[_Piece], edits: list[_Edit], length: int) -> list[_Piece]:
    starts: list[int] = []
    offset = 0
    for piece in pieces:
        starts.append(offset)
        offset += _piece_length(piece)
    out: list[_Piece] = []
    position = 0
    for start, end, replacement in edits:
        out += _pieces_between(pieces, starts, position, start)
        out.append(replacement)
        position = end
    out += _pieces_between(pieces, starts, position, length)
    return out


def _pieces_between(pieces: list[_Piece], starts: list[int], start: int, end: int) -> list[_Piece]:
    out: list[_Piece] = []
    index = bisect_right(starts, start) - 1
    while start < end:
        piece, offset = pieces[index], starts[index]
        low, high = start - offset, min(end - offset, _piece_length(piece))
        if high > low:
            out.append(piece[low:high] if isinstance(piece, str) else (piece[0] + low, piece[0] + high))
        start = offset + high
        index += 1
    return out


def _piece_length(piece: _Piece) -> int:
    return len(piece) if isinstance(piece, str) else piece[1] - piece[0]


def _scrub_uncached(value: str, rules: _Rules, personal: bool = True) -> tuple[str, int]:
    """``personal=False``: secrets only (a release keeps the version shapes that look like personal data)."""
    text = _Text(value)

    def sub(pattern: re.Pattern[str], kind: str, group: str | None = None) -> None:
        edits: list[_Edit] = []
        for match in pattern.finditer(text.current):
            secret = match[group] if group else match[0]
            if secret in rules.allow or secret.startswith("[REDACTED"):
                continue
            start, end = match.span(group) if group else match.span()
            edits.append((start, end, f"[REDACTED:{kind}]"))
        text.apply(edits)

    # Each step runs only where it could match: most strings of an event are short names and numbers.
    assigns = "=" in text.current or ":" in text.current
    # Credentials inside URLs first: the e-mail pattern would otherwise take ``user:pw@host`` apart.
    if "@" in text.current and "://" in text.current:
        sub(_URL_PASSWORD, "password", "secret")
    if assigns:
        sub(_HEADER_LINE, "auth-header", "secret")
    if len(text.current) >= _SHORTEST_SECRET:
        for kind, pattern in rules.secrets:
            sub(pattern, kind)
    digits = personal and any(char.isdigit() for char in text.current)
    if personal:
        for kind, pattern, needed in rules.personal:
            if needed in text.current:
                sub(pattern, kind)
    if digits:
        text.apply(_iban_edits(text.current, rules))
        for pattern, valid in _national_ids():
            text.apply(_validated(pattern, text.current, valid, "national-id", rules))
    for kind, pattern in rules.patterns:
        sub(pattern, kind)
    if assigns:
        text.apply(_assignment_edits(text.current, rules))
    if digits and len(text.current) >= 13:
        text.apply(_card_edits(text.current))
    if digits and len(text.current) >= 7:
        text.apply(_phone_edits(text.current, rules))
    if personal and ("::" in text.current or text.current.count(":") >= 7):
        text.apply(_ipv6_edits(text.current, rules))
    if len(text.current) >= 16:
        text.apply(_entropic_edits(text.current, rules))
    for denied in rules.deny:
        if denied in text.current:
            text.apply(_occurrences(text.current, denied))
    return text.result(), text.count


def _occurrences(value: str, denied: str) -> list[_Edit]:
    edits: list[_Edit] = []
    start = value.find(denied)
    while start >= 0:
        edits.append((start, start + len(denied), "[REDACTED:denied]"))
        start = value.find(denied, start + len(denied))
    return edits


def _validated(
    pattern: re.Pattern[str], value: str, valid: Callable[[str], bool], kind: str, rules: _Rules
) -> list[_Edit]:
    edits: list[_Edit] = []
    for match in pattern.finditer(value):
        if match[0] not in rules.allow and valid(match[0]):
            edits.append((match.start(), match.end(), f"[REDACTED:{kind}]"))
    return edits


def _iban_edits(value: str, rules: _Rules) -> list[_Edit]:
    """IBANs valid as written, or once groups of four that follow them (``BE68 5390 0754 7034 EURO``) are left out."""
    edits: list[_Edit] = []
    for match in _IBAN.finditer(value):
        from stdnum import iban  # imported once something looks like an IBAN: most texts hold none

        candidate = match[0]
        while candidate not in rules.allow and not iban.is_valid(candidate):
            candidate = candidate.rpartition(" ")[0]
            if len(candidate) < 15:
                break
        else:
            if candidate not in rules.allow:
                edits.append((match.start(), match.start() + len(candidate), "[REDACTED:iban]"))
    return edits


@cache
def _national_ids() -> tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...]:
    return tuple((re.compile(pattern), _not_repeated(_stdnum_check(module))) for module, _name, pattern in NATIONAL_IDS)


def _stdnum_check(module: str) -> Callable[[str], bool]:
    """python-stdnum's ``is_valid`` of ``stdnum.<module>``, imported the first time a number of its shape is seen."""

    def valid(candidate: str) -> bool:
        from importlib import import_module

        is_valid: Callable[[str], bool] = import_module(f"stdnum.{module}").is_valid
        return is_valid(candidate)

    return valid


def _not_repeated(valid: Callable[[str], bool]) -> Callable[[str], bool]:
    """``111.111.111-11`` passes a CPF check yet is never issued: a number of one repeated digit is no one's."""
    return lambda candidate: len(set(re.sub(r"\D", "", candidate))) > 1 and valid(candidate)


def _phone_edits(value: str, rules: _Rules) -> list[_Edit]:
    """Phone-shaped numbers that phonenumbers' matcher finds, with STRICT_GROUPING leniency: valid numbers (for
    ``PHONE_REGION`` when written without a country code) whose digits are grouped the way their country
    writes them."""
    edits: list[_Edit] = []
    for checked, candidate in enumerate(_PHONE.finditer(value)):
        if candidate[0] in rules.allow:
            continue
        if checked >= _PHONES_CHECKED:
            edits.append((candidate.start(), candidate.end(), "[REDACTED:phone]"))
            continue
        import phonenumbers  # imported once something looks like a phone number: most texts hold none

        matcher = phonenumbers.PhoneNumberMatcher(
            candidate[0], PHONE_REGION, leniency=phonenumbers.Leniency.STRICT_GROUPING, max_tries=3
        )
        for match in matcher:
            start, end = candidate.start() + match.start, candidate.start() + match.end
            if match.start == 0 or value[start - 1 : start] in " \t(":
                edits.append((start, end, "[REDACTED:phone]"))
    return edits


def _ipv6_edits(value: str, rules: _Rules) -> list[_Edit]:
    """Valid IPv6 addresses with at least three groups and eight hex digits: not ``::1``, ``a::b:c``, C++ and
    Rust paths (``std::vector``, ``a::b``) or times (``10:00:00``)."""
    edits: list[_Edit] = []
    for match in _IPV6.finditer(value):
        address = match[0].partition("%")[0]
        groups = [group for group in address.split(":") if group]
        if len(groups) < 3 or sum(len(group) for group in groups) < 8 or match[0] in rules.allow:
            continue
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            continue
        edits.append((match.start(), match.end(), "[REDACTED:ipv6]"))
    return edits


def _entropic_edits(value: str, rules: _Rules) -> list[_Edit]:
    """A random-looking string (16+ characters, mixed case and digits) within a few words after a sensitive
    word: ``api key is Zx8k…``, ``invalid token 'Q7w9…'``, ``credentials wJalr…``; or a segment of a path after
    one, or after a word that makes a link a capability: ``/v1/token/Zx8k…``, ``/password/reset/Zx8k…``."""
    found: list[_Edit] = []
    for pattern, words_before in ((_CANDIDATE, _near_word), (_PATH_SEGMENT, _near_path_word)):
        for match in pattern.finditer(value):
            secret = match[0]
            if secret in rules.allow or not _random_looking(secret):
                continue
            before = value[max(0, match.start() - _NEAR) : match.start()]
            if any(words_before(word, rules) for word in _WORD.findall(before)[-_NEAR_WORDS:]):
                found.append((match.start(), match.end(), "[REDACTED:high-entropy]"))
    edits: list[_Edit] = []
    for edit in sorted(found):
        if not edits or edit[0] >= edits[-1][1]:
            edits.append(edit)
    return edits


def _near_path_word(word: str, rules: _Rules) -> bool:
    return _near_word(word, rules) or word.lower() in PATH_WORDS


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


def _assignment_edits(value: str, rules: _Rules) -> list[_Edit]:
    """``password=…``, ``"token": "…"``, ``Authorization: Bearer …`` with a sensitive key name."""
    edits: list[_Edit] = []
    position = 0
    for match in _ASSIGNMENT.finditer(value):
        secret = match["secret"]
        if match.start() < position or not _is_sensitive(match["key"], rules):
            continue
        if secret in rules.allow or secret.startswith("[REDACTED"):
            continue
        position = match.end() + len(secret)
        edits.append((match.end(), position, f"[REDACTED:{match['key'].lower()[:40]}]"))
    return edits


def _card_edits(value: str) -> list[_Edit]:
    edits: list[_Edit] = []
    for match in _CARD.finditer(value):
        digits = re.sub(r"\D", "", match[0])
        if 13 <= len(digits) <= 19 and _luhn(digits):
            edits.append((match.start(), match.end(), "[REDACTED:card-number]"))
    return edits


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


def _within_identifiers(pattern: str) -> str:
    """``\\b`` in ``SECRET_PATTERNS`` as a boundary of letters and digits only, so that a token inside a generated
    name (``handler_ghp_…``, ``ghp_…_v2``) is found too."""
    start = re.sub(r"\\b(?=[A-Za-z(])", lambda _: "(?<![A-Za-z0-9])", pattern)
    return start.replace(r"\b", "(?![A-Za-z0-9])")


@lru_cache(maxsize=16)
def _rules(redaction: Redaction) -> _Rules:
    secrets = tuple((kind, re.compile(_within_identifiers(p))) for kind, p in SECRET_PATTERNS)
    personal = tuple((kind, re.compile(p), _PII_NEEDS[kind]) for kind, p in PII_PATTERNS)
    patterns = tuple(("custom", re.compile(p)) for p in redaction.extra_patterns)
    keys = tuple(k.lower() for k in (*SENSITIVE_KEYS, *redaction.extra_sensitive_keys))
    deny = tuple(sorted((d for d in redaction.deny if d), key=len, reverse=True))  # longest first
    return _Rules(keys, secrets, personal, patterns, frozenset(redaction.allow), deny)
