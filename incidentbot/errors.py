"""The exception tree. The CLI prints one line, ``Error: <message> — <hint>``, and never a traceback.

IncidentbotError(message, hint)   base; exit 1 at run time
├── ConfigError                   missing or invalid setting (exit 2)
├── InputError                    unreadable or oversized input (exit 2)
├── SourceError                   a source (Sentry API, webhook) failed
├── ParseError                    no parser recognised the trace (exit 2)
├── LinkError                     repository missing, shallow, ref or path not found (exit 2)
├── DraftError                    the LLM failed after retries
└── ReportError                   a destination rejected the post
    └── StoreUnavailable          the store cannot be read or written now (a full disk, a dropped connection)
Unavailable                       a plugin cannot run here (not a failure unless the user asked for it)
"""

from __future__ import annotations


class IncidentbotError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint as one line, for a terminal or a log."""
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(IncidentbotError):
    exit_code = 2


class InputError(IncidentbotError):
    exit_code = 2


class SourceError(IncidentbotError):
    pass


class ParseError(IncidentbotError):
    exit_code = 2


class LinkError(IncidentbotError):
    exit_code = 2


class DraftError(IncidentbotError):
    pass


class ReportError(IncidentbotError):
    pass


class StoreUnavailable(ReportError):
    """Not the event's fault nor the destination's: whatever was in hand is tried again once the store answers."""


class Unavailable(Exception):
    """A plugin cannot run here; the message says why."""
