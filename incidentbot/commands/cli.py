"""The command line: ``incidentbot triage`` and friends. The only place that prints (besides the console
reporter) and the only place that turns errors into exit codes: 0 done, 1 run-time failure, 2 bad input or usage.
An error is one line on stderr, ``Error: <what happened> — <what to do>``, never a traceback (unless --debug).
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from incidentbot import __version__
from incidentbot.commands import learn, service
from incidentbot.commands.common import configure_logging, print_outcomes, run_or_exit

log = logging.getLogger("incidentbot")

TRIAGE_EXAMPLES = """
\b
Examples:
  incidentbot triage trace.txt --repo ~/code/shop
  incidentbot triage sentry-event.json --repo . --json
  kubectl logs api-7f9c | incidentbot triage - --repo . --first-seen 2024-05-01T12:00:00Z
  incidentbot triage trace.txt --rev v2.3.1 --release-range v2.3.0..v2.3.1 --format markdown
  incidentbot triage https://acme.sentry.io/issues/4242/ --repo .   # a Sentry issue's latest event
  incidentbot triage trace.txt --format slack          # the Block Kit JSON, posting nothing
  incidentbot triage trace.txt --post slack,github     # one Slack thread and one GitHub issue per incident
  incidentbot triage trace.txt --post github --dry-run
  OPENAI_BASE_URL=http://localhost:11434/v1 INCIDENTBOT_MODEL=llama3.1 incidentbot triage trace.txt   # with analysis
"""

DOCTOR_EXAMPLES = """
\b
Examples:
  incidentbot doctor
  incidentbot doctor --repo ~/code/shop --config ops/incidentbot.toml
  incidentbot doctor --local            (reports only printed: no destination needed)
"""
INIT_EXAMPLES = """
\b
Examples:
  incidentbot init
  incidentbot init --path ops/incidentbot.toml
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
    type=click.Choice(["console", "markdown", "json", "slack", "github"]),
    default="console",
    show_default=True,
    help="slack: the Block Kit JSON; github: the issue title and body (neither posts anything).",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--post", "post_to", metavar="DEST[,DEST]", help="Post to these destinations: slack, github.")
@click.option("--dry-run", is_flag=True, help="With --post: show what would be posted and post nothing.")
@click.option(
    "--llm/--no-llm",
    "use_llm",
    default=None,
    help="Add the LLM agent's analysis (default: when OPENAI_API_KEY or OPENAI_BASE_URL is set).",
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    is_flag=False,
    flag_value="always",
    default="auto",
    show_default=True,
    help="Colour the console report. auto: on a terminal, unless NO_COLOR is set or TERM=dumb; "
    "always (also plain --color) and never override both.",
)
@click.option("--no-color", "no_color", is_flag=True, help="The same as --color never.")
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
    post_to: str | None,
    dry_run: bool,
    use_llm: bool | None,
    color: str,
    no_color: bool,
    config: Path | None,
    debug: bool,
) -> None:
    """Triage one error trace (a file, or - for stdin) against a git repository.

    INPUT is a Python, JavaScript, Java, Go or Ruby stack trace, a log with one embedded, a Sentry event
    JSON, or a Sentry issue URL or ID (its latest event is fetched with SENTRY_AUTH_TOKEN). The report names
    the failing code, the suspect commits ranked with their reasons, and the owners.
    """
    configure_logging(debug)
    overrides: dict[str, Any] = {
        "repo": repo,
        "rev": rev,
        "first_seen": _parse_time(first_seen) if first_seen else None,
        "release_range": release_range,
        "use_llm": use_llm,
        "blame_index": False if dry_run else None,  # a dry run writes nothing, the blame index included
    }
    fmt = "json" if as_json else fmt
    use_color = _use_color("never" if no_color else color)
    destinations = [name.strip() for name in (post_to or "").split(",") if name.strip()]
    if dry_run and not destinations:
        raise click.UsageError("--dry-run goes with --post (e.g. --post slack,github --dry-run)")
    run_or_exit(lambda: _triage(source, config, overrides, fmt, use_color, destinations, dry_run), debug)


def _triage(
    source: str,
    config: Path | None,
    overrides: dict[str, Any],
    fmt: str,
    color: bool,
    destinations: list[str],
    dry_run: bool,
) -> None:
    # Imported here, and only the reporter asked for, so `--help` and `--json` do not pay for the others.
    from incidentbot import pipeline, settings
    from incidentbot.parse.input import read_input

    conf = settings.load(config, **overrides)
    if conf.use_llm and not conf.llm_configured:
        from incidentbot.errors import ConfigError

        raise ConfigError(
            "--llm needs an LLM endpoint", "set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (any compatible)"
        )
    publishers = _publishers(conf, destinations, dry_run)  # a missing token fails before any work
    from incidentbot.service.sources.sentry_ref import sentry_issue_id

    issue_id = sentry_issue_id(source)
    warnings: tuple[str, ...] = ()
    if issue_id is not None:
        from incidentbot.service.sources.sentry_api import fetch_issue_event

        text = fetch_issue_event(conf, issue_id)
    else:
        raw = read_input(source, conf.limits)
        text, warnings = raw.text, raw.warnings
    report = pipeline.triage(text, conf, input_warnings=warnings)
    if dry_run:
        from incidentbot.commands.preview import dry_run_text

        click.echo(dry_run_text(report, conf, destinations))
        return
    _print_report(report, conf, fmt, color)
    if publishers:
        from incidentbot.service.deliver import deliver
        from incidentbot.store import open_store

        store = open_store(conf.effective_database_url)
        seen_at = datetime.now(tz=UTC)
        print_outcomes(deliver(report, publishers, store, seen_at, conf.claim_wait_seconds))


def _publishers(conf: Any, destinations: list[str], dry_run: bool) -> list[Any]:
    if not destinations or dry_run:
        from incidentbot.registry import reporter_class

        for name in destinations:
            reporter_class(name)  # an unknown name is an error even in a dry run
        return []
    from incidentbot.service.deliver import publishers_for

    return publishers_for(conf, destinations)


def _use_color(when: str) -> bool:
    """An explicit choice wins; auto colours a terminal unless NO_COLOR (any value) or TERM=dumb says not to."""
    if when != "auto":
        return when == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _print_report(report: Any, conf: Any, fmt: str, color: bool) -> None:
    if fmt in ("slack", "github"):
        from incidentbot.commands.preview import preview

        click.echo(preview(report, conf, fmt))
    elif fmt == "json":
        from reporters.json_report import JsonReporter

        click.echo(JsonReporter().render(report))
    elif fmt == "markdown":
        from reporters.markdown import MarkdownReporter

        click.echo(MarkdownReporter().render(report))
    else:
        from reporters.console import ConsoleReporter

        # click.echo strips colour when stdout is not a terminal, unless told: --color always must reach a pipe.
        click.echo(ConsoleReporter().render(report, color=color), nl=False, color=color)


@main.command(epilog=DOCTOR_EXAMPLES)
@click.option("--repo", type=click.Path(path_type=Path), help="The checkout whose history is blamed. [default: .]")
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file. [default: ./incidentbot.toml]")
@click.option("--local", is_flag=True, help="Reports are only printed: no destination is needed.")
def doctor(repo: Path | None, config: Path | None, local: bool) -> None:
    """Check the set-up: destinations, history, Slack token/scopes/channel, GitHub, Sentry, the LLM."""

    def check() -> None:
        from incidentbot import settings
        from incidentbot.commands.doctor import exit_code, run_checks, table

        conf = settings.load(config, repo=repo)
        checks = run_checks(conf, local=local)
        click.echo(table(checks))
        failures = sum(c.status == "fail" for c in checks)
        click.echo(f"\n{failures} problem(s) found" if failures else "\nall set", err=True)
        sys.exit(exit_code(checks))

    run_or_exit(check, False)


@main.command(epilog=INIT_EXAMPLES)
@click.option("--path", type=click.Path(path_type=Path), default=Path("incidentbot.toml"), show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a starter configuration, every setting explained, secrets left to the environment."""

    def write() -> None:
        from incidentbot.commands.starter import STARTER
        from incidentbot.errors import ConfigError

        if path.exists() and not force:
            raise ConfigError(f"{path} exists", "pass --force to replace it, or --path for another file")
        path.write_text(STARTER, encoding="utf-8")
        click.echo(f"wrote {path}: edit it, set the secrets in the environment, then run `incidentbot doctor`")

    run_or_exit(write, False)


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r} (e.g. 2024-05-01T12:00:00Z)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The service commands (run, poll, status, retry, sync) and learn are defined in their own modules.
for command in (service.run, service.poll, service.status, service.retry, service.sync, learn.learn):
    main.add_command(command)
