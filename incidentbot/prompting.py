"""The one Jinja2 environment over the templates in ``prompts/``.

In an installed wheel the templates live in ``incidentbot/_prompts`` (pyproject maps the top-level ``prompts/``
there); in a source checkout they are the top-level ``prompts/``. A user template directory, when given, is
searched first. ``StrictUndefined``: a missing variable is a bug, not an empty string.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import jinja2

from incidentbot.durations import ago
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
