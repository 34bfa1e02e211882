"""Slack mrkdwn that untrusted text cannot turn into a mention, a link or markup.

Slack parses only ``<…>`` for mentions and links, so escaping ``&``, ``<`` and ``>`` keeps ``<!channel>``,
``<@U…>`` and ``<url|text>`` as text (Slack's own rule). Text objects are sent ``verbatim`` so Slack does not
auto-link bare URLs or channel names either. Trace values (types, messages, paths, functions) go inside code
spans, where ``*bold*`` and ``_italic_`` do not apply; a backtick inside is swapped for ˋ (U+02CB), as mrkdwn
has no way to escape one.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from incidentbot.render_safe import strip_invisible

_MODIFIER_GRAVE = "\u02cb"
_SAFE_URL_CHARS = re.compile(r"^[^\s<>|]+$")


def escape(text: object) -> str:
    """Plain text for any Slack text field: no invisible characters, ``&<>`` escaped."""
    value = strip_invisible(str(text))
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: object, limit: int = 300) -> str:
    """Inline code on one line; markup inside does not apply."""
    value = " ".join(str(text).split())
    return f"`{escape(clip(value, limit)).replace('`', _MODIFIER_GRAVE)}`"


def code_block(text: str, limit: int = 2500) -> str:
    """A preformatted block that its content cannot close."""
    return f"```{escape(clip(text, limit)).replace('`', _MODIFIER_GRAVE)}```"


def plain(text: object, limit: int) -> str:
    """For plain_text objects (no mrkdwn is parsed there): one line, escaped, within Slack's length limit."""
    value = " ".join(str(text).split())
    cut = limit
    while len(escaped := escape(clip(value, cut))) > limit:  # escaping lengthens: ``<`` is ``&lt;``
        cut -= len(escaped) - limit
    return escaped


def link(url: str | None, label: str) -> str:
    """``<url|label>`` for an http(s) URL we built or an API gave us; the label alone otherwise."""
    if not url or urlsplit(url).scheme not in ("http", "https") or not _SAFE_URL_CHARS.match(url):
        return label
    return f"<{url.replace('&', '&amp;')}|{label}>"


def date(moment: datetime) -> str:
    """A date each reader sees in their own time zone, with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
