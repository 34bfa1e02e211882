"""Find linkers and reporters by name through their entry points (built-ins register the same way).

The core never imports a concrete linker: it asks this registry. The built-ins' entry points are mirrored in a
table and imported from it (the same targets, so a source tree that was never installed works too); the
installed distributions' entry points are read only for a name that is no built-in, a plugin's. A plugin
therefore takes a name of its own: it cannot replace a built-in by registering under the built-in's name.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from incidentbot.errors import ConfigError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

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
    # A built-in is imported straight from its table (the same target as its entry point): reading every
    # installed distribution's entry points costs tens of milliseconds, paid only for a name that is no built-in.
    target = builtins.get(name)
    if target is None:
        plugin = _plugins(group).get(name)
        if plugin is not None:
            return plugin.load()
        known = sorted(_plugins(group).keys() | set(builtins))
        raise ConfigError(f"unknown {kind}: {name}", f"choose from {', '.join(known)} {where}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@lru_cache(maxsize=4)
def _plugins(group: str) -> dict[str, EntryPoint]:
    """The group's entry points by name (the first one found for a name), read once per process."""
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep)
    return found
