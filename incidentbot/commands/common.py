"""What every command shares: errors as one line and an exit code, outcomes of posting, and logging."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from incidentbot.errors import IncidentbotError


def run_or_exit(action: Callable[[], Any], debug: bool) -> None:
    """Run a command; our errors become one message and a hint, never a traceback (unless --debug)."""
    try:
        action()
    except IncidentbotError as exc:
        # One line: what happened and what to do about it.
        click.echo(f"Error: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last boundary: report, don't dump
        if debug:
            raise
        click.echo(
            f"Error: internal error: {type(exc).__name__}: {exc} — run again with --debug for the traceback", err=True
        )
        sys.exit(1)


def print_outcomes(outcomes: Sequence[Any]) -> None:
    """One line per destination on stderr; exit 1 when any failed."""
    failed = False
    for outcome in outcomes:
        if outcome.action == "failed":
            failed = True
            click.echo(f"Error: {outcome.error}", err=True)
        else:
            click.echo(f"{outcome.reporter}: {outcome.action}{' ' + outcome.url if outcome.url else ''}", err=True)
    if failed:
        sys.exit(1)


def configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not debug:
        # Linker failures are reported as warnings in the report itself.
        logging.getLogger("incidentbot.pipeline").setLevel(logging.CRITICAL)
