"""The command line: ``incidentbot triage`` and friends. The only place that prints (besides the console
reporter) and the only place that turns errors into exit codes: 0 done, 1 run-time failure, 2 bad input or usage.
An error is one line on stderr, ``Error: <what happened> — <what to do>``, never a traceback (unless --debug).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from incidentbot import __version__
from incidentbot.errors import IncidentbotError

log = logging.getLogger("incidentbot")

TRIAGE_EXAMPLES = """
\b
Examples:
  incidentbot triage trace.txt --repo ~/code/shop
  incidentbot triage sentry-event.json --repo . --json
  kubectl logs api-7f9c | incidentbot triage - --repo . --first-seen 2024-05-01T12:00:00Z
  incidentbot triage trace.txt --rev v2.3.1 --release-range v2.3.0..v2.3.1 --format markdown
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="incidentbot")
def main() -> None:
    """incidentbot: what broke, where in the code, which commit most likely caused it, and who owns it."""


@main.command(epilog=TRIAGE_EXAMPLES)
@click.argument("source", default="-", metavar="INPUT")
@click.option("--repo", type=click.Path(path_type=Path), help="The git checkout of the code that failed. [default: .]")
@click.option(
    "--rev",
    help="The commit that was running (default: the trace's release, else the last commit before first-seen).",
)
@click.option("--first-seen", help="When the error was first seen, ISO 8601 (default: the trace's, else now).")
@click.option("--release-range", help="The deploy that shipped the error, as OLD..NEW refs.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["console", "markdown", "json"]),
    default="console",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--color/--no-color", default=None, help="Colour the console report (default: only on a terminal).")
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file. [default: ./incidentbot.toml]")
@click.option("--debug", is_flag=True, help="Log each step and show tracebacks of internal errors.")
def triage(
    source: str,
    repo: Path | None,
    rev: str | None,
    first_seen: str | None,
    release_range: str | None,
    fmt: str,
    as_json: bool,
    color: bool | None,
    config: Path | None,
    debug: bool,
) -> None:
    """Triage one error trace (a file, or - for stdin) against a git repository.

    INPUT is a Python, JavaScript, Java, Go or Ruby stack trace, a log with one embedded, or a Sentry event
    JSON. The report names the failing code, the suspect commits ranked with their reasons, and the owners.
    """
    _configure_logging(debug)
    overrides: dict[str, Any] = {
        "repo": repo,
        "rev": rev,
        "first_seen": _parse_time(first_seen) if first_seen else None,
        "release_range": release_range,
    }
    fmt = "json" if as_json else fmt
    use_color = sys.stdout.isatty() if color is None else color
    _run(lambda: _triage(source, config, overrides, fmt, use_color), debug)


def _triage(source: str, config: Path | None, overrides: dict[str, Any], fmt: str, color: bool) -> None:
    # Imported here, and only the reporter asked for, so `--help` and `--json` do not pay for the others.
    from incidentbot import pipeline, settings
    from incidentbot.parse.input import read_input

    conf = settings.load(config, **overrides)
    raw = read_input(source, conf.limits)
    report = pipeline.triage(raw.text, conf, input_warnings=raw.warnings)
    if fmt == "json":
        from reporters.json_report import JsonReporter

        click.echo(JsonReporter().render(report))
    elif fmt == "markdown":
        from reporters.markdown import MarkdownReporter

        click.echo(MarkdownReporter().render(report))
    else:
        from reporters.console import ConsoleReporter

        click.echo(ConsoleReporter().render(report, color=color), nl=False)


def _run(action: Any, debug: bool) -> None:
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


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r} (e.g. 2024-05-01T12:00:00Z)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not debug:
        # Linker failures are reported as warnings in the report itself.
        logging.getLogger("incidentbot.pipeline").setLevel(logging.CRITICAL)
