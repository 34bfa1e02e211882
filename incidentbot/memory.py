"""Memory of resolved incidents: which earlier incident a new one resembles, and what fixed it.

An on-call engineer's first question is "have we seen this before, and what fixed it?". A new incident
resembles a resolved one when both raised the same exception type in the same function, or failed in the same
file with the same message once its variable parts (numbers, quoted values, ids, paths) are removed. The
match names the earlier issue, its fix commit and who fixed it; the report shows it under "Seen before" and the
LLM agent gets it as context (its ``ShowCommit`` tool reads the old fix's diff).

Pure functions of their inputs: ``incidentbot.recall`` supplies the resolved incidents from the store.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Literal

from incidentbot.models import Evidence, ResolvedIncident, SeenBefore, Signature

MAX_SEEN = 3  # earlier incidents a report links, most alike first
SIMILAR_MESSAGE = 0.85  # difflib ratio of two message shapes that counts as "the same message"
_SHAPE_CHARS = 300

# The parts of an exception message that change from one occurrence to the next.
_VARIABLE = re.compile(
    r"""
    '[^'\n]{0,200}' | "[^"\n]{0,200}"              # quoted values
    | <[^<>\n]{0,200}>                              # reprs such as <Foo object at 0x...>, placeholders
    | \b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b   # UUIDs
    | \b0x[0-9a-f]+\b | \b[0-9a-f]{7,}\b            # addresses, hashes
    | (?:[A-Za-z]:\\|/)[\w.\\/-]+                   # paths
    | \b\d+(?:[.,:]\d+)*                            # numbers, versions, times, "30s"
    """,
    re.VERBOSE | re.IGNORECASE,
)


def message_shape(text: str) -> str:
    """The message with its variable parts replaced by ``<>`` and whitespace squashed."""
    return " ".join(_VARIABLE.sub("<>", text).split())[:_SHAPE_CHARS]


def signature(evidence: Evidence) -> Signature | None:
    """The signature of a linked incident: its innermost exception, and the report's location or else the
    innermost frame that maps to the repository."""
    if not evidence.trace.exceptions:
        return None
    exc = evidence.trace.exceptions[-1]
    in_app = [f for f in exc.frames if f.repo_path] or list(exc.frames)
    innermost = in_app[-1] if in_app else None
    location = evidence.location
    function = location.function if location else innermost.function if innermost else None
    path = location.path if location else innermost.repo_path if innermost else None
    return make_signature(exc.type, exc.value, function, path)


def make_signature(exception_type: str, message: str, function: str | None, path: str | None) -> Signature:
    """``ValueError`` and ``builtins.ValueError``, ``Cart.total`` and ``total`` are the same; the message is
    kept as its shape."""
    return Signature(exception_type.rsplit(".", 1)[-1], _bare(function), path, message_shape(message))


def seen_before(
    fingerprint: str, sig: Signature | None, resolved: Iterable[ResolvedIncident]
) -> tuple[SeenBefore, ...]:
    """The resolved incidents that resemble this one, most alike first, then the most recently resolved."""
    if sig is None:
        return ()
    found: list[tuple[int, float, SeenBefore]] = []
    for past in resolved:
        kind = _match(fingerprint, sig, past)
        if kind is not None:
            strength = {"same error": 0, "exception and function": 1, "file and message": 2}[kind]
            when = past.resolved_at.timestamp() if past.resolved_at else 0.0
            found.append((strength, -when, SeenBefore(past, kind)))
    found.sort(key=lambda item: item[:2])
    return tuple(item[2] for item in found[:MAX_SEEN])


def _match(
    fingerprint: str, sig: Signature, past: ResolvedIncident
) -> Literal["exception and function", "file and message", "same error"] | None:
    if past.fingerprint == fingerprint:
        return "same error"
    other = past.signature
    if sig.function and sig.exception_type == other.exception_type and sig.function == other.function:
        return "exception and function"
    if _same_file(sig.path, other.path) and _similar(sig.message, other.message):
        return "file and message"
    return None


def _same_file(a: str | None, b: str | None) -> bool:
    """The same file, where one side may be a path as a trace printed it (``/srv/app/shop/cart.py``)."""
    if not a or not b:
        return False
    a, b = a.replace("\\", "/"), b.replace("\\", "/")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _similar(a: str, b: str) -> bool:
    if not a or not b:
        return False
    return a == b or difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= SIMILAR_MESSAGE


def _bare(function: str | None) -> str | None:
    """``Cart.total`` and ``total`` name the same function across parsers."""
    return function.rsplit(".", 1)[-1] if function else None
