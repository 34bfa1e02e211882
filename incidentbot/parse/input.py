"""Read the CLI's input: a file path, or ``-`` for standard input, bounded by the input limit."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from incidentbot.errors import InputError
from incidentbot.settings import Limits


@dataclass(frozen=True, slots=True)
class RawInput:
    text: str
    warnings: tuple[str, ...] = ()


def read_input(source: str, limits: Limits) -> RawInput:
    """The input's text (UTF-8, UTF-16 with a BOM; undecodable bytes replaced), cut at the input limit."""
    limit = limits.max_input_bytes
    if source == "-" and sys.stdin.isatty():
        # Waiting on a terminal for a paste nobody announced would look like a hang.
        raise InputError(
            "no input: standard input is a terminal", "pass a trace file, or pipe one: ... | incidentbot triage -"
        )
    try:
        if source == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(source).open("rb") as handle:
                data = handle.read(limit + 1)
    except (FileNotFoundError, IsADirectoryError, PermissionError, OSError) as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"cannot read {source}: {reason}", "pass a readable file path, or - for stdin") from exc
    warnings: tuple[str, ...] = ()
    if len(data) > limit:
        data = data[:limit]
        warnings = (f"input larger than {limit} bytes: only the first {limit} were read",)
    return RawInput(_decode(data), warnings)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8", errors="replace")
