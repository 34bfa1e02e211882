"""The service commands: `incidentbot run`, `poll`, `status`, `retry` and `sync` (added to the CLI by commands/cli.py).

Like cli.py, they print, turn errors into one line and an exit code, and import what they need only when run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from incidentbot.commands.common import configure_logging, print_outcomes, run_or_exit

RUN_EXAMPLES = """
\b
Examples:
  INCIDENTBOT_INGEST_KEYS=3f2a... incidentbot run --host 0.0.0.0 --port 8080 --repo /srv/checkouts/shop
  INCIDENTBOT_DATABASE_URL=postgresql+psycopg://incidentbot@db/incidentbot incidentbot run
"""

POLL_EXAMPLES = """
\b
Examples:
  SENTRY_AUTH_TOKEN=... SENTRY_ORG=acme SENTRY_PROJECTS=shop incidentbot poll --once --repo .
"""

STATUS_EXAMPLES = """
\b
Examples:
  incidentbot status
  INCIDENTBOT_DATABASE_URL=postgresql+psycopg://incidentbot@db/incidentbot incidentbot status
"""

RETRY_EXAMPLES = """
\b
Examples:
  incidentbot retry
  */5 * * * * incidentbot retry --config /etc/incidentbot.toml   (crontab)
"""

SYNC_EXAMPLES = """
\b
Examples:
  incidentbot sync
"""


@click.command(epilog=RUN_EXAMPLES)
@click.option("--host", help="Address to listen on. [default: 127.0.0.1, or INCIDENTBOT_HOST]")
@click.option("--port", type=int, help="Port to listen on. [default: 8080, or INCIDENTBOT_PORT]")
@click.option("--repo", type=click.Path(path_type=Path), help="The checkout whose history is blamed. [default: .]")
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file. [default: ./incidentbot.toml]")
@click.option("--debug", is_flag=True, help="Log each step and show tracebacks of internal errors.")
def run(host: str | None, port: int | None, repo: Path | None, config: Path | None, debug: bool) -> None:
    """Run the daemon: Sentry SDK ingest endpoints, workers that triage and post, and the periodic jobs."""

    def start() -> None:
        from incidentbot import settings
        from incidentbot.service import daemon

        conf = settings.load(config, host=host, port=port, repo=repo)
        daemon.run(conf, logging.DEBUG if debug else logging.INFO)

    run_or_exit(start, debug)


@click.command(epilog=POLL_EXAMPLES)
@click.option("--once", is_flag=True, required=True, help="One cycle, then exit (for cron and CI).")
@click.option("--repo", type=click.Path(path_type=Path), help="The checkout whose history is blamed. [default: .]")
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file. [default: ./incidentbot.toml]")
@click.option("--debug", is_flag=True, help="Log each step and show tracebacks of internal errors.")
def poll(once: bool, repo: Path | None, config: Path | None, debug: bool) -> None:
    """Poll Sentry for new and regressed issues once, triage and post them, and exit."""
    configure_logging(debug)

    def cycle() -> None:
        from incidentbot import settings
        from incidentbot.errors import ConfigError
        from incidentbot.service.deliver import configured_publishers
        from incidentbot.service.event_queue import EventQueue
        from incidentbot.service.poller import poll_once
        from incidentbot.service.worker import drain, worker_name
        from incidentbot.store import open_store

        conf = settings.load(config, repo=repo)
        if not conf.sentry_projects:
            raise ConfigError("no Sentry project to poll", "set SENTRY_ORG, SENTRY_PROJECTS and SENTRY_AUTH_TOKEN")
        store = open_store(conf.effective_database_url, conf.stale_after_seconds)
        results = poll_once(conf, EventQueue(store, conf.redaction), worker_name(), release=True)
        for result in results:
            note = " (rate-limited: the rest next time)" if result.rate_limited else ""
            click.echo(
                f"{result.project}: {result.issues} issue(s) active, {result.queued} new event(s){note}", err=True
            )
        processed, _ = drain(conf, store, configured_publishers(conf))
        click.echo(f"{processed} event(s) triaged and posted", err=True)

    run_or_exit(cycle, debug)


@click.command(epilog=STATUS_EXAMPLES)
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file. [default: ./incidentbot.toml]")
def status(config: Path | None) -> None:
    """Queue depth, posts waiting for a retry, and recent failures."""

    def show() -> None:
        from incidentbot import settings
        from incidentbot.service.event_queue import EventQueue
        from incidentbot.store import open_store
        from linkers.blame_index import GIT_FACTS_MAX_ROWS

        conf = settings.load(config)
        store = open_store(conf.effective_database_url)
        queue = EventQueue(store, conf.redaction)
        depth = queue.depth()
        click.echo("events: " + (", ".join(f"{n} {s}" for s, n in sorted(depth.items())) or "none"))
        size = store.size_bytes()
        kept = (
            f"handled events kept {conf.event_retention_days:g} days" if conf.event_retention_days else "kept for ever"
        )
        click.echo(f"store: {_megabytes(size)} ({kept})")
        index = store.blame_index_stats()
        asked = index.get("hits", 0) + index.get("carried", 0) + index.get("misses", 0)
        rate = f"hit rate {100 * index.get('hits', 0) / asked:.0f}%" if asked else "no blame asked yet"
        click.echo(
            f"blame index: {index['entries']} files at {index['revisions']} revisions, "
            f"{_megabytes(index['bytes'])} (limit {_megabytes(conf.blame_index_max_bytes)}); {rate}, "
            f"{index.get('carried', 0)} carried forward, {index.get('misses', 0)} blamed in full"
        )
        facts = store.git_facts_counts()
        functions = sum(n for kind, n in facts.items() if kind.startswith("functions"))
        click.echo(
            f"git facts kept: {facts.get('commit', 0)} commits, {functions} files' functions "
            f"(limit {GIT_FACTS_MAX_ROWS:,} in all)"
        )
        pending = store.pending()
        click.echo(f"posts waiting for a retry: {len(pending)}")
        for item in pending[:5]:
            click.echo(f"  {item.reporter} {item.fingerprint[:12]}: {item.last_error}")
        for name, value, updated in queue.cursors("sentry-api:"):
            click.echo(
                f"last poll of {name.removeprefix('sentry-api:')}: {updated:%Y-%m-%d %H:%M:%S} UTC (seen up to {value})"
            )
        _print_weights(store)
        for event_id, source, error in queue.recent_failures():
            click.echo(f"failed event {event_id} ({source}): {error}")

    run_or_exit(show, False)


def _print_weights(store: Any) -> None:
    """Which weights rank each repository's suspects (docs/learning.md)."""
    from linkers.calibration import label

    learnt = store.calibrations()
    if not learnt:
        click.echo("suspects ranked by: shipped weights (nothing learnt yet; see `incidentbot learn`)")
    for repo, cases, in_use in learnt:
        weights = label(cases, repo) if in_use else f"shipped weights ({cases} labelled case(s))"
        click.echo(f"suspects of {repo} ranked by: {weights}")


def _megabytes(size: int | None) -> str:
    return "size unknown" if size is None else f"{size / 1_000_000:.1f} MB"


@click.command(epilog=RETRY_EXAMPLES)
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file. [default: ./incidentbot.toml]")
@click.option("--debug", is_flag=True, help="Log each step and show tracebacks of internal errors.")
def retry(config: Path | None, debug: bool) -> None:
    """Post what failed before (kept in the store), to every configured destination."""
    configure_logging(debug)
    run_or_exit(lambda: _retry(config), debug)


def _retry(config: Path | None) -> None:
    from incidentbot import settings
    from incidentbot.service.deliver import configured_publishers, retry_pending
    from incidentbot.store import open_store

    conf = settings.load(config)
    store = open_store(conf.effective_database_url)
    outcomes = retry_pending(store, configured_publishers(conf), conf.claim_wait_seconds)
    if not outcomes:
        click.echo("nothing to retry", err=True)
    print_outcomes(outcomes)


@click.command(epilog=SYNC_EXAMPLES)
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file. [default: ./incidentbot.toml]")
@click.option("--debug", is_flag=True, help="Log each step and show tracebacks of internal errors.")
def sync(config: Path | None, debug: bool) -> None:
    """Mark incidents resolved whose GitHub issue was closed, and update their Slack messages."""
    configure_logging(debug)
    run_or_exit(lambda: _sync(config), debug)


def _sync(config: Path | None) -> None:
    from incidentbot import settings
    from incidentbot.errors import ConfigError
    from incidentbot.interfaces import IssueTracker
    from incidentbot.service.deliver import configured_publishers, sync_states
    from incidentbot.store import open_store

    conf = settings.load(config)
    publishers = configured_publishers(conf)
    github = next((p for p in publishers if isinstance(p, IssueTracker)), None)
    if github is None:
        raise ConfigError("sync needs GitHub", "set GITHUB_TOKEN and GITHUB_REPOSITORY")
    store = open_store(conf.effective_database_url)
    others = [p for p in publishers if p.name != "github"]
    outcomes = sync_states(store, github, others, conf.claim_wait_seconds, conf)
    click.echo(f"{len(outcomes)} update(s)", err=True)
    print_outcomes(outcomes)
