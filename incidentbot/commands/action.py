"""The GitHub Action's step (`python -m incidentbot.action`, run by action.yml): deepen the checkout, then poll
Sentry or triage one trace, post, and write the step's outputs.

Stateless by design: the store lives in the runner's temp folder (action.yml keeps it in the Actions cache
between runs, so Sentry cursors and what was learnt from closed issues survive; each run first syncs closed
issues, as the daemon does); when the cache is gone, the GitHub issue is found again by its
fingerprint marker and the Slack thread by its metadata, so a second run never duplicates either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from incidentbot import pipeline, settings
from incidentbot.errors import ConfigError, IncidentbotError, LinkError
from incidentbot.interfaces import IssueTracker
from incidentbot.parse.input import read_input
from incidentbot.service.deliver import Outcome, configured_publishers, deliver, sync_states
from incidentbot.service.event_queue import EventQueue
from incidentbot.service.poller import poll_once
from incidentbot.service.sources.sentry_api import fetch_issue_event
from incidentbot.service.sources.sentry_ref import sentry_issue_id
from incidentbot.service.worker import drain, worker_name
from incidentbot.store import open_store

ISSUES_URL_SEPARATOR = " "


def deepen(workspace: Path) -> str | None:
    """Blame needs history: turn a shallow checkout (actions/checkout's default) into a full one."""
    if not _shallow(workspace):
        return None
    done = _git(workspace, "fetch", "--unshallow", "--quiet")
    if done.returncode != 0 or _shallow(workspace):
        why = done.stderr.strip()[:200] or "no remote to fetch from"
        raise LinkError(
            f"the checkout in {workspace} is shallow and could not be deepened: {why}",
            "set `fetch-depth: 0` on actions/checkout",
        )
    return "deepened the shallow checkout (git fetch --unshallow)"


def main() -> int:
    env = os.environ
    workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
    mode = (env.get("INCIDENTBOT_ACTION_MODE") or "poll").strip()
    try:
        note = deepen(workspace)
        if note:
            print(note, file=sys.stderr)
        conf = settings.load(_config(env), repo=workspace)
        publishers = configured_publishers(conf)
        if not publishers:
            raise ConfigError(
                "nothing to post to", "pass github-token (and slack-bot-token, slack-channel) to the action"
            )
        store = open_store(conf.effective_database_url, conf.stale_after_seconds)
        _sync(conf, publishers, store)
        if mode == "triage":
            outcomes = _triage(conf, env.get("INCIDENTBOT_ACTION_TRACE", "").strip(), publishers, store)
            incidents = 1
        elif mode == "poll":
            outcomes, incidents = _poll(conf, publishers, store)
        else:
            raise ConfigError(f"unknown mode {mode!r}", "set the action's mode to poll or triage")
    except IncidentbotError as exc:
        print(f"::error::{exc.one_line()}")
        return exc.exit_code
    urls = sorted({o.url for o in outcomes if o.reporter == "github" and o.url})
    _output(env, incidents=str(incidents), issue_urls=ISSUES_URL_SEPARATOR.join(urls))
    failed = [o for o in outcomes if o.action == "failed"]
    for outcome in failed:
        print(f"::error::{outcome.error}")
    for outcome in outcomes:
        if outcome.action != "failed":
            print(f"{outcome.reporter}: {outcome.action} {outcome.url or ''}".rstrip(), file=sys.stderr)
    return 1 if failed else 0


def _sync(conf: settings.Settings, publishers: list, store) -> None:  # type: ignore[type-arg, no-untyped-def]
    """As the daemon's sync: incidents whose GitHub issue was closed since the last run become resolved and
    labelled cases (docs/learning.md); a reopened one withdraws its case. GitHub failing here costs a warning,
    not the run."""
    github = next((p for p in publishers if isinstance(p, IssueTracker)), None)
    if github is None:
        return
    others = [p for p in publishers if p is not github]
    try:
        outcomes = sync_states(store, github, others, conf.claim_wait_seconds, conf)
    except IncidentbotError as exc:
        print(f"::warning::could not sync closed issues: {exc.one_line()}")
        return
    for outcome in outcomes:
        print(f"sync: {outcome.reporter} {outcome.action} {outcome.url or ''}".rstrip(), file=sys.stderr)


def _triage(conf: settings.Settings, trace: str, publishers: list, store) -> list[Outcome]:  # type: ignore[type-arg, no-untyped-def]
    if not trace:
        raise ConfigError("triage mode needs a trace", "pass trace: a file in the repository, or a Sentry issue URL/ID")
    issue_id = sentry_issue_id(trace)
    text = fetch_issue_event(conf, issue_id) if issue_id else read_input(trace, conf.limits).text
    report = pipeline.triage(text, conf)
    from datetime import UTC, datetime

    return deliver(report, publishers, store, datetime.now(tz=UTC), conf.claim_wait_seconds)


def _poll(conf: settings.Settings, publishers: list, store) -> tuple[list[Outcome], int]:  # type: ignore[type-arg, no-untyped-def]
    if not conf.sentry_projects:
        raise ConfigError("poll mode needs Sentry", "pass sentry-auth-token, sentry-org and sentry-projects")
    poll_once(conf, EventQueue(store, conf.redaction), worker_name(), release=True)
    _, fingerprints = drain(conf, store, publishers)
    incidents = [store.incident(fingerprint) for fingerprint in sorted(fingerprints)]
    outcomes = [Outcome("github", "posted", i.issue_url) for i in incidents if i and i.issue_url]
    return outcomes, len(fingerprints)


def _config(env: os._Environ[str]) -> Path | None:
    given = env.get("INCIDENTBOT_ACTION_CONFIG", "").strip()
    return Path(given) if given else None


def _output(env: os._Environ[str], **values: str) -> None:
    target = env.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        for key, value in values.items():
            out.write(f"{key.replace('_', '-')}={value}\n")


def _shallow(workspace: Path) -> bool:
    return _git(workspace, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"


def _git(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(workspace), *args], capture_output=True, text=True, check=False)


if __name__ == "__main__":
    sys.exit(main())
