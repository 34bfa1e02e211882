"""The one Jinja2 environment over the templates in ``prompts/``.

In an installed wheel the templates live in ``incidentbot/_prompts`` (pyproject maps the top-level ``prompts/``
there); in a source checkout they are the top-level ``prompts/``. A user template directory, when given, is
searched first. ``StrictUndefined``: a missing variable is a bug, not an empty string.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import jinja2

from incidentbot.render_safe import md_block, md_code, md_text


def template_dirs(user_dir: Path | None = None) -> list[Path]:
    packaged = Path(str(files("incidentbot"))) / "_prompts"
    source = Path(__file__).resolve().parent.parent / "prompts"
    found = [d for d in (packaged, source) if d.is_dir()]
    return ([user_dir] if user_dir else []) + found[:1]


@lru_cache(maxsize=4)
def environment(user_dir: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(user_dir)]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML: values are escaped explicitly with the filters below
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(md_code=md_code, md_block=md_block, md_text=md_text, short_sha=lambda s: str(s)[:7], ago=ago)
    return env


def ago(moment: datetime, now: datetime) -> str:
    """'3 days ago', '5 months ago': relative to ``now``."""
    return f"{span((now - moment).total_seconds() / 86400)} ago"


def span(days: float) -> str:
    """A duration for people: '5 hours', '3 days', '7 months', '2.5 years'."""
    if days < 1:
        hours = max(1, round(days * 24))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if days < 60:
        return f"{round(days)} day{'s' if round(days) != 1 else ''}"
    if days < 730:
        return f"{round(days / 30.4)} months"
    return f"{days / 365.25:.1f} years"
