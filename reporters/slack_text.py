"""Slack mrkdwn that untrusted text cannot turn into a mention, a link or markup.

Slack parses only ``<…>`` for mentions and links, so escaping ``&``, ``<`` and ``>`` keeps ``<!channel>``,
``<@U…>`` and ``<url|text>`` as text (Slack's own rule). Slack also links bare URLs and domain names in mrkdwn
(and shows ``@here`` as if it were one), so trace values (types, messages, paths, functions) go inside code
spans or blocks, where Slack neither links nor formats; prose that quotes them (reasons, the LLM's analysis)
has each such word in a code span (``prose``); the fallback ``text`` is one code span. Text objects are sent
``verbatim`` besides. A backtick inside code is swapped for ˋ (U+02CB), as mrkdwn has no way to escape one.
The header is plain text, where code cannot be: URLs and broadcasts there are defanged (``https[:]//``,
``www[.]``, ``[@]here``).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from incidentbot.render_safe import strip_invisible

_MODIFIER_GRAVE = "\u02cb"
_SAFE_URL_CHARS = re.compile(r"^[^\s<>|]+$")
# A ```code``` span that Slack renders as one: at the start of a word and ending one.
_CODE_SPAN = re.compile(r"(?<![^\s(\[])`([^`\n]+)`(?![^\s.,;:!?)\]])")
# A word Slack could link, or show as a mention or a channel.
_LIVE = re.compile(r"[@#]|://|www\.|[A-Za-z0-9\-]\.[A-Za-z]{2}", re.IGNORECASE)
_SPACES = re.compile(r"(\s+)")
_REPOSITORY_PATH = re.compile(r"[\w\-]{1,255}(?:/[\w\-.]{1,255}){1,64}(?::\d{1,9})?[,;)]?$")
_WWW = re.compile(r"\bwww\.", re.IGNORECASE)
_HOST_PATH = re.compile(r"\b[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}(?=/)")
_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


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


def prose(text: object, repository_paths: bool = False) -> str:
    """Sentences that quote trace text: ```code``` spans stay code, and every word Slack would link or show as
    a mention (a URL, a domain or file name, ``@…``, ``#…``) goes in a code span of its own.
    ``repository_paths``: the text names files of the repository (reasons do: ``shop/pricing.py:13``), which
    stay as they are when their first folder has no dot (no host to link)."""
    value = strip_invisible(str(text))
    out: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(value):
        out += [_words(value[position : span.start()], repository_paths), code(span[1])]
        position = span.end()
    out.append(_words(value[position:], repository_paths))
    return "".join(out)


def _words(text: str, repository_paths: bool) -> str:
    return "".join(
        code(word)
        if _LIVE.search(word) and not (repository_paths and _REPOSITORY_PATH.match(word))
        else escape(word).replace("`", _MODIFIER_GRAVE)
        for word in _SPACES.split(text)
    )


def defang(text: str) -> str:
    """For plain text, where code cannot be: URLs, bare hosts with a path and broadcasts made unlinkable."""
    text = _HOST_PATH.sub(lambda match: match[0].replace(".", "[.]"), text.replace("://", "[:]//"))
    return _BROADCAST.sub(r"[@]\1", _WWW.sub("www[.]", text))


def plain(text: object, limit: int) -> str:
    """For plain_text objects (no mrkdwn is parsed there): one line, escaped and defanged, within Slack's length
    limit."""
    value = defang(" ".join(str(text).split()))
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
