"""A stable key for "the same error": repeats of one error share it, different errors do not.

Exception type plus the in-app frames' module (or repository path) and function, never line numbers, so a
deploy that moves code keeps the fingerprint. Without in-app frames, the message with its variable parts
(numbers, hex ids, quoted values) masked stands in for the frames.
"""

from __future__ import annotations

import hashlib
import re

from incidentbot.models import Frame, Trace

_VARIABLE = re.compile(r"0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8,}\b|\d+|'[^']*'|\"[^\"]*\"")
_MAX_FRAMES = 12


def fingerprint(trace: Trace) -> str:
    """32 hex characters identifying the error (Sentry's group id when the trace has one is kept apart)."""
    parts = [trace.exception_type]
    frames = [f for f in trace.frames if f.in_app] or list(trace.frames)
    for frame in frames[-_MAX_FRAMES:]:
        parts.append(f"{_place(frame)}:{frame.function or '?'}")
    if not trace.frames or not any(f.in_app for f in trace.frames):
        parts.append(_VARIABLE.sub("<v>", trace.message.splitlines()[0] if trace.message else ""))
    return hashlib.sha256("\n".join(parts).encode("utf-8", "replace")).hexdigest()[:32]


def _place(frame: Frame) -> str:
    if frame.repo_path:
        return frame.repo_path
    if frame.module:
        return frame.module
    return frame.filename.replace("\\", "/").rsplit("/", 1)[-1]
