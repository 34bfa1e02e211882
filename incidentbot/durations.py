"""Durations for people ("3 days ago", "2.5 years"), shared by the templates and the reporters; no Jinja2 here,
so the console and JSON outputs do not load it."""

from __future__ import annotations

from datetime import datetime


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
