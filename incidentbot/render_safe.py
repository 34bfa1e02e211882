"""Render untrusted text (anything from a trace) as inert Markdown.

Only the report's own structure may render as markup: trace text must never become a mention, a link, an
image, HTML or a reference to an issue, and must never close the code fence it sits in.
"""

from __future__ import annotations

import re

# Bidirectional controls and zero-width characters disguise what text says; other control characters (ESC above
# all) would act on a terminal that shows the Markdown.
# Also: word joiner and invisible operators, deprecated format characters, tag characters (invisible ASCII),
# Hangul fillers (blank-looking names), line and paragraph separators (line breaks in some renderers).
# Soft hyphens show only where a line breaks.
#: What ``strip_invisible`` removes, as the inside of a regular-expression class (redaction reads past them too).
INVISIBLE_CHARACTERS = (
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u2028\u2029\ufeff\u061c\u180e\u034f"
    "\u115f\u1160\u3164\uffa0\U000e0000-\U000e007f\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad"
)
_BIDI_AND_ZERO_WIDTH = re.compile(f"[{INVISIBLE_CHARACTERS}]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#!|~])")
_AT = re.compile(r"@")
_LONGEST_BACKTICKS = re.compile(r"`+")
# A URL ends at a pipe too: in a table cell, a pipe ends the cell even inside a code span.
_BARE_URL = re.compile(r"((?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)[^\s<>|]+)")
# ``code`` in a sentence (reasons name functions so): shown as a code span unless a pipe would split it in a table.
_CODE_SPAN = re.compile(r"(?<!`)`([^`|]+)`(?!`)")


class Markdown(str):
    """Markdown already made inert (with md_code, md_block or md_text): ``md_text`` leaves it as it is, so a
    renderer can hand a template a value in a code span where the template escapes it as text."""

    __slots__ = ()


def strip_invisible(text: str) -> str:
    """Without bidirectional controls, zero-width and control characters (newlines and tabs stay)."""
    return _BIDI_AND_ZERO_WIDTH.sub("", text)


def md_text(text: object) -> str:
    """Plain text in Markdown: special characters escaped, @mentions and #refs broken, HTML inert; ```code```
    spans shown as code spans (never escaped backticks), and URLs shown as code (GitHub links a bare
    ``https://…`` or ``www.…`` even when nothing around it is markup)."""
    if isinstance(text, Markdown):
        return text
    value = strip_invisible(str(text)).replace("\n", " ")
    out: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(value):
        out += [_text_with_urls(value[position : span.start()]), md_code(span[1])]
        position = span.end()
    out.append(_text_with_urls(value[position:]))
    return "".join(out)


def _text_with_urls(value: str) -> str:
    parts = _BARE_URL.split(value)
    return "".join(md_code(part) if index % 2 else _escape(part) for index, part in enumerate(parts))


def _escape(value: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return _AT.sub("&#64;", value)


def md_code(text: object) -> str:
    """Inline code that the text cannot break out of."""
    value = strip_invisible(str(text)).replace("\n", " ")
    fence = "`" * (_longest_run(value) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def md_block(text: object, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside."""
    value = strip_invisible(str(text))
    fence = "`" * max(3, _longest_run(value) + 1)
    return f"{fence}{language}\n{value.rstrip()}\n{fence}"


def _longest_run(text: str) -> int:
    return max((len(run) for run in _LONGEST_BACKTICKS.findall(text)), default=0)


_URL_OK = re.compile(r"^https?://[^\s<>()\[\]|\"'`\\]+$")


def safe_url(url: str | None) -> str | None:
    """An http(s) URL that cannot break out of Markdown or Slack link syntax; None for anything else."""
    return url if url and _URL_OK.match(url) else None
