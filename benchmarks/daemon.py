"""The daemon under a burst: events per second accepted at the ingest endpoint, accept latency, and the time from
the first event of a 10,000-event burst (20 distinct errors) to the last post, without LLM time.

    python -m benchmarks.daemon [--events 10000] [--errors 20] [--concurrency 8]

`incidentbot run` serves on 127.0.0.1 with SQLite, posting to local Slack and GitHub servers (tests/fakes) with
no write pauses; the events are the demo crash (from the real sentry-sdk) with 20 exception types.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.checkouts import PROJECT_ROOT
from tests.daemon.test_run import KEY, Daemon, _free_port, _until
from tests.fakes.github_api import FakeGitHub
from tests.fakes.slack_api import FakeSlack
from tests.reporters.conftest import destination_variables

EXAMPLES = PROJECT_ROOT / "examples"


async def _send(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}, sentry_version=7", "Content-Type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await http.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


def demo_crash(work: Path) -> tuple[Path, dict[str, Any]]:
    """The demo shop's repository, built in ``work``, and its crash as the real sentry-sdk captured it."""
    repo, event_file = work / "shop-repo", work / "event.json"
    subprocess.run([sys.executable, str(EXAMPLES / "build_demo_repo.py"), str(repo)], check=True, capture_output=True)
    subprocess.run(
        [sys.executable, str(EXAMPLES / "capture_event.py"), str(repo), str(event_file)],
        check=True,
        capture_output=True,
    )
    return repo, json.loads(event_file.read_text())


def run(events: int, errors: int, concurrency: int) -> dict[str, Any]:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request would slow the load generator
    with tempfile.TemporaryDirectory() as work, FakeSlack() as slack, FakeGitHub() as github:
        repo, template = demo_crash(Path(work))
        bodies = []
        for n in range(events):
            event = json.loads(json.dumps(template))
            event["event_id"] = f"{n:032x}"
            event["exception"]["values"][-1]["type"] = f"BurstError{n % errors}"
            bodies.append(json.dumps(event).encode())
        port = _free_port()
        env = {
            **os.environ,
            **destination_variables(slack, github),
            "INCIDENTBOT_REPO": str(repo),
            "INCIDENTBOT_PORT": str(port),
            "INCIDENTBOT_INGEST_KEYS": KEY,
            "INCIDENTBOT_DATABASE_URL": f"sqlite:///{Path(work) / 'state.sqlite3'}",
            "INCIDENTBOT_USE_LLM": "false",
            "XDG_STATE_HOME": work,
        }
        daemon = Daemon(env, port)
        daemon.start()
        try:
            first_event = time.perf_counter()
            latencies, sending = asyncio.run(_send(f"{daemon.url}/api/1/store/", bodies, concurrency))
            _until(lambda: len(github.issues) == errors and len(slack.roots()) == errors, "posts missing", timeout=600)
            last_post = time.perf_counter()
            _until(lambda: _queue_empty(daemon.url), "queue not drained", timeout=600)
            drained = time.perf_counter()
        finally:
            daemon.stop()
        ordered = sorted(latencies)
        return {
            "events": events,
            "errors": errors,
            "concurrency": concurrency,
            "accepted_per_second": events / sending,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
            "first_event_to_last_new_post_s": last_post - first_event,
            "first_event_to_queue_drained_s": drained - first_event,
            "issues": len(github.issues),
            "threads": len(slack.roots()),
            "github_requests": len(github.requests),
            "slack_requests": len(slack.requests),
        }


def _queue_empty(url: str) -> bool:
    depth = httpx.get(f"{url}/healthz", timeout=5).json()["queue"]
    return not depth.get("queued") and not depth.get("claimed")


def section(result: dict[str, Any]) -> list[str]:
    r = result
    return [
        "## Daemon: a burst at the ingest endpoint",
        "",
        f"`python -m benchmarks.daemon --concurrency {r['concurrency']}`: {r['events']:,} events of {r['errors']} "
        f"distinct errors sent by {r['concurrency']} concurrent clients to `incidentbot run` (SQLite, 2 worker "
        "processes, local Slack and GitHub servers, no LLM); the load generator shares the 2 cores.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| events accepted per second | {r['accepted_per_second']:.0f} | ≥ 500 |",
        f"| accept latency p50 / p99 | {r['p50_ms']:.1f} ms / {r['p99_ms']:.1f} ms | p99 ≤ 50 ms |",
        f"| first event → last new post | {r['first_event_to_last_new_post_s']:.1f} s | ≤ 60 s |",
        f"| first event → queue drained (all counted) | {r['first_event_to_queue_drained_s']:.1f} s | |",
        f"| incidents posted (GitHub issues / Slack threads) | {r['issues']} / {r['threads']} | {r['errors']} each |",
        f"| requests to GitHub / Slack | {r['github_requests']} / {r['slack_requests']} | |",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--errors", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print("\n".join(section(run(args.events, args.errors, args.concurrency))))


if __name__ == "__main__":
    main()
