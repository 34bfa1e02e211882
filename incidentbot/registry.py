"""Find linkers by name through the ``incidentbot.linkers`` entry points (built-ins register the same way).

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

# Mirrors pyproject.toml's entry points, for a source tree that was never pip-installed.
_BUILTIN_LINKERS = {
    "pathmap": "linkers.pathmap:PathMapper",
    "location": "linkers.location:LocationFinder",
    "blame": "linkers.blame:Blamer",
    "suspects": "linkers.suspects:SuspectRanker",
    "owners": "linkers.owners:OwnerFinder",
}


@lru_cache(maxsize=64)
def linker_class(name: str) -> Any:
    """The linker class registered as ``name``; ConfigError naming the known ones when there is none."""
    for ep in entry_points(group=LINKER_GROUP):
        if ep.name == name:
            return ep.load()
    target = _BUILTIN_LINKERS.get(name)
    if target is None:
        known = sorted({ep.name for ep in entry_points(group=LINKER_GROUP)} | set(_BUILTIN_LINKERS))
        raise ConfigError(f"unknown linker: {name}", f"choose from {', '.join(known)} in settings 'linkers'")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
