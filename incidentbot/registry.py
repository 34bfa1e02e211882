"""Find linkers and reporters by name through their entry points (built-ins register the same way).

The core never imports a concrete linker: it asks this registry. When the package metadata is missing (running
from a source tree that was never installed) the built-ins' entry points are read from the same table.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from incidentbot.errors import ConfigError

LINKER_GROUP = "incidentbot.linkers"
REPORTER_GROUP = "incidentbot.reporters"

# Mirrors pyproject.toml's entry points, for a source tree that was never pip-installed.
_BUILTIN_LINKERS = {
    "pathmap": "linkers.pathmap:PathMapper",
    "location": "linkers.location:LocationFinder",
    "blame": "linkers.blame:Blamer",
    "suspects": "linkers.suspects:SuspectRanker",
    "owners": "linkers.owners:OwnerFinder",
}
_BUILTIN_REPORTERS = {
    "console": "reporters.console:ConsoleReporter",
    "markdown": "reporters.markdown:MarkdownReporter",
    "json": "reporters.json_report:JsonReporter",
    "slack": "reporters.slack:SlackReporter",
    "github": "reporters.github:GitHubReporter",
}


def linker_class(name: str) -> Any:
    """The linker class registered as ``name``; ConfigError naming the known ones when there is none."""
    return _load(LINKER_GROUP, name, "linker", "in settings 'linkers'")


def reporter_class(name: str) -> Any:
    """The reporter class registered as ``name`` (console, markdown, json, slack, github, or a plugin's)."""
    return _load(REPORTER_GROUP, name, "destination", "with --post")


@lru_cache(maxsize=64)
def _load(group: str, name: str, kind: str, where: str) -> Any:
    builtins = _BUILTIN_LINKERS if group == LINKER_GROUP else _BUILTIN_REPORTERS
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    target = builtins.get(name)
    if target is None:
        known = sorted({ep.name for ep in entry_points(group=group)} | set(builtins))
        raise ConfigError(f"unknown {kind}: {name}", f"choose from {', '.join(known)} {where}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
