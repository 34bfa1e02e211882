"""SZZ on a real fix: the procedure lives in ``linkers/szz.py`` (the runtime labels resolved incidents with it);
the corpus builders import it from here as before."""

from __future__ import annotations

from linkers.szz import SzzResult, blame_line, git, is_source, normalise, szz

__all__ = ["SzzResult", "blame_line", "git", "is_source", "normalise", "szz"]
