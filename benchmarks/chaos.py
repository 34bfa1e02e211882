"""`make chaos`: the daemon through the faults an operator meets, counting what was lost, what was duplicated and
how long it took to recover once each fault ended.

    python -m benchmarks.chaos [--only NAME[,NAME]] [--events 600] [--errors 20] [--write]

Each scenario starts real `incidentbot run` processes (1 or 2 replicas, 2 workers each) against local Slack and
GitHub servers (tests/fakes), streams events of ``--errors`` distinct errors to the Sentry ingest endpoint at a
steady rate, injects its fault while the stream runs, and then waits for the system to settle: no event queued
or claimed, no post waiting for a retry, every incident posted once to each destination. The client behaves as
a careful SDK: it sends an event again after a refused request (503/429, honouring Retry-After) or a broken
connection, and an event counts as *accepted* once it got a 200.

- **lost**: accepted events that are not counted in an incident once the system has settled.
- **duplicated**: GitHub issues and Slack threads beyond one per incident, plus occurrences counted twice.
- **recovery**: seconds from the end of the fault to the settled state (the target is 30 s).

Scenarios: ``kill`` (two replicas on PostgreSQL, each killed with SIGKILL and started again during the stream),
``destinations`` (GitHub answers 500 and Slack ``ratelimited`` for 30 s), ``database`` (every PostgreSQL
connection dropped every 2 s for 20 s), ``disk`` (SQLite on a full disk for 20 s: no file may grow, through
RLIMIT_FSIZE set on the running processes), ``burst`` (2,000 events as fast as 16 clients send them).
``--write`` puts the table into benchmarks/results.md under "## Chaos".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import resource
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy

from benchmarks.checkouts import PROJECT_ROOT
from benchmarks.daemon import demo_crash
from tests.daemon.test_run import KEY, Daemon, _children, _free_port
from tests.fakes.github_api import FakeGitHub
from tests.fakes.server import Response
from tests.fakes.slack_api import FakeSlack
from tests.postgres import PG_ADMIN, fresh_database, postgres_available
from tests.reporters.conftest import destination_variables

RESULTS = PROJECT_ROOT / "benchmarks" / "results.md"
SETTLE_LIMIT = 180.0  # seconds: a scenario that has not settled by then is reported as not recovered
SCENARIOS = ("kill", "destinations", "database", "disk", "burst")


@dataclass
class Outcome:
    scenario: str
    fault: str
    accepted: int = 0
    refused: int = 0  # answers that asked the client to send again later (503/429) or broken connections
    lost: int = 0
    duplicated: int = 0
    recovery_s: float | None = None
    incidents: int = 0
    notes: list[str] = field(default_factory=list)


class World:
    """The demo repository, one event template, local Slack and GitHub, a store, and the daemons started."""

    def __init__(self, work: Path, database_url: str, errors: int) -> None:
        self.work, self.database_url, self.errors = work, database_url, errors
        self.slack, self.github = FakeSlack(), FakeGitHub()
        self.daemons: list[Daemon] = []
        self.accepted: set[str] = set()
        self.refused = 0
        self._lock = threading.Lock()
        self.repo, self.template = demo_crash(work)

    def __enter__(self) -> World:
        self.slack.__enter__()
        self.github.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for daemon in self.daemons:
            daemon.close()
        self.github.__exit__()
        self.slack.__exit__()

    def start(self, workers: int = 2) -> Daemon:
        port = _free_port()
        env = {
            **os.environ,
            **destination_variables(self.slack, self.github),
            "INCIDENTBOT_REPO": str(self.repo),
            "INCIDENTBOT_PORT": str(port),
            "INCIDENTBOT_INGEST_KEYS": KEY,
            "INCIDENTBOT_DATABASE_URL": self.database_url,
            "INCIDENTBOT_WORKERS": str(workers),
            "INCIDENTBOT_USE_LLM": "false",
            "INCIDENTBOT_SLACK_REPLY_MINUTES": "0",
            "INCIDENTBOT_GITHUB_COMMENT_MINUTES": "0",
            "INCIDENTBOT_GITHUB_WRITE_INTERVAL": "0",
            "XDG_STATE_HOME": str(self.work),
        }
        daemon = Daemon(env, port)
        daemon.start()
        self.daemons.append(daemon)
        return daemon

    def restart(self, daemon: Daemon) -> None:
        daemon.start()

    def body(self, n: int) -> bytes:
        event = json.loads(json.dumps(self.template))
        event["event_id"] = f"{n:032x}"
        event["exception"]["values"][-1]["type"] = f"ChaosError{n % self.errors}"
        return json.dumps(event).encode()

    def stream(self, count: int, seconds: float, clients: int = 4, first: int = 0) -> None:
        """Send ``count`` events spread over ``seconds`` (0: as fast as possible) to the running daemons."""
        asyncio.run(self._stream(list(range(first, first + count)), seconds, clients))

    async def _stream(self, numbers: list[int], seconds: float, clients: int) -> None:
        started = time.monotonic()
        pending: asyncio.Queue[int] = asyncio.Queue()
        for n in numbers:
            pending.put_nowait(n)
        pace = seconds / max(1, len(numbers))
        headers = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}, sentry_version=7", "Content-Type": "application/json"}

        async def client(index: int) -> None:
            async with httpx.AsyncClient(timeout=30) as http:
                while not pending.empty():
                    n = pending.get_nowait()
                    due = started + pace * (n - numbers[0])
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    await self._send_until_accepted(http, n, headers, index)

        await asyncio.gather(*(client(i) for i in range(clients)))

    async def _send_until_accepted(self, http: httpx.AsyncClient, n: int, headers: dict[str, str], turn: int) -> None:
        body = self.body(n)
        deadline = time.monotonic() + SETTLE_LIMIT
        while time.monotonic() < deadline:
            live = [d for d in self.daemons if d.process and d.process.poll() is None]
            if live:
                daemon = live[(n + turn) % len(live)]
                try:
                    answer = await http.post(f"{daemon.url}/api/1/store/", content=body, headers=headers)
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    with self._lock:
                        self.accepted.add(f"{n:032x}")
                    return
                with self._lock:
                    self.refused += 1
                wait = float(answer.headers.get("retry-after", 1)) if answer is not None else 0.5
                await asyncio.sleep(min(wait, 5.0))
            else:
                await asyncio.sleep(0.2)

    # the store, read directly

    def settled(self) -> bool:
        engine = sqlalchemy.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                busy = conn.execute(
                    sqlalchemy.text("select count(*) from events where status in ('queued', 'claimed')")
                ).scalar()
                outbox = conn.execute(sqlalchemy.text("select count(*) from outbox")).scalar()
                incidents = conn.execute(sqlalchemy.text("select count(*) from incidents")).scalar()
        except sqlalchemy.exc.SQLAlchemyError:
            return False
        finally:
            engine.dispose()
        return (
            busy == 0
            and outbox == 0
            and bool(incidents)
            and len(self.github.issues) >= int(incidents or 0)
            and len(self.slack.roots()) >= int(incidents or 0)
        )

    def tally(self, outcome: Outcome) -> Outcome:
        engine = sqlalchemy.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                done = set(
                    conn.execute(
                        sqlalchemy.text("select source_event_id from events where status = 'done' and counted")
                    ).scalars()
                )
                counted = int(conn.execute(sqlalchemy.text("select coalesce(sum(count), 0) from incidents")).scalar())
                incidents = int(conn.execute(sqlalchemy.text("select count(*) from incidents")).scalar() or 0)
        finally:
            engine.dispose()
        outcome.accepted, outcome.refused, outcome.incidents = len(self.accepted), self.refused, incidents
        outcome.lost = len(self.accepted - done)
        outcome.duplicated = (
            max(0, len(self.github.issues) - incidents)
            + max(0, len(self.slack.roots()) - incidents)
            + max(0, counted - len(self.accepted))
        )
        return outcome

    def wait_settled(self, since: float) -> float | None:
        while time.monotonic() - since < SETTLE_LIMIT:
            if self.settled():
                return time.monotonic() - since
            time.sleep(0.25)
        return None


@contextmanager
def _database(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'state.sqlite3'}"
        return
    with fresh_database("incidentbot_chaos") as url:
        yield url


def _in_background(action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


# the scenarios: each returns the time its fault ended (time.monotonic())


def _kill(world: World, events: int) -> float:
    first, second = world.start(), world.start()
    sender = _in_background(lambda: world.stream(events, 30))
    for round_ in range(4):  # every 6 s one replica dies with SIGKILL and is started again
        time.sleep(6)
        victim = (first, second)[round_ % 2]
        victim.stop(signal.SIGKILL)
        world.restart(victim)
    ended = time.monotonic()
    sender.join()
    return ended


def _destinations(world: World, events: int) -> float:
    world.start()
    sender = _in_background(lambda: world.stream(events, 30))
    time.sleep(5)
    world.github.fail_next("*", "/", Response(500, {"message": "Server Error"}), times=10**9)
    world.slack.fail_next("POST", "chat.", Response(200, {"ok": False, "error": "ratelimited"}), times=10**9)
    time.sleep(30)
    world.github.clear_faults()
    world.slack.clear_faults()
    ended = time.monotonic()
    sender.join()
    return ended


def _database_drops(world: World, events: int) -> float:
    world.start(), world.start()
    sender = _in_background(lambda: world.stream(events, 30))
    name = world.database_url.rsplit("/", 1)[1]
    admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        time.sleep(5)
        for _ in range(10):  # every connection of every replica dropped, every 2 s for 20 s
            with admin.connect() as conn:
                conn.execute(
                    sqlalchemy.text(
                        "select pg_terminate_backend(pid) from pg_stat_activity"
                        " where datname = :n and pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
            time.sleep(2)
    finally:
        admin.dispose()
    ended = time.monotonic()
    sender.join()
    return ended


def _disk(world: World, events: int) -> float:
    daemon = world.start()
    sender = _in_background(lambda: world.stream(events, 30))
    time.sleep(5)
    assert daemon.process is not None
    processes = [daemon.process.pid, *_children(daemon.process.pid)]
    for pid in processes:  # no file may grow: a full disk, for these processes
        _file_size_limit(pid, 0)
    time.sleep(20)
    for pid in [daemon.process.pid, *_children(daemon.process.pid)]:
        _file_size_limit(pid, resource.RLIM_INFINITY)
    ended = time.monotonic()
    sender.join()
    return ended


def _file_size_limit(pid: int, limit: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


def _burst(world: World, events: int) -> float:
    world.start()
    world.stream(events, 0, clients=16)
    return time.monotonic()


RUNS: dict[str, tuple[str, str, Callable[[World, int], float], float]] = {
    # name: (store, fault, run, events as a multiple of --events)
    "kill": ("postgresql", "2 replicas, SIGKILL of one every 6 s (4 kills), each started again", _kill, 1),
    "destinations": ("sqlite", "GitHub 500 and Slack `ratelimited` on every call for 30 s", _destinations, 1),
    "database": (
        "postgresql",
        "2 replicas, every PostgreSQL connection dropped every 2 s for 20 s",
        _database_drops,
        1,
    ),
    "disk": ("sqlite", "SQLite on a full disk for 20 s (no file may grow)", _disk, 1),
    "burst": ("sqlite", "2,000 events as fast as 16 clients send", _burst, 0),
}


def run(name: str, events: int, errors: int) -> Outcome:
    store, fault, scenario, scale = RUNS[name]
    count = int(events * scale) if scale else 2000
    outcome = Outcome(name, fault)
    if store == "postgresql" and not postgres_available():
        outcome.notes.append("skipped: no PostgreSQL on 127.0.0.1:5432")
        return outcome
    with (
        tempfile.TemporaryDirectory() as tmp,
        _database(store, Path(tmp)) as url,
        World(Path(tmp), url, errors) as world,
    ):
        ended = scenario(world, count)
        outcome.recovery_s = world.wait_settled(ended)
        world.tally(outcome)
        logs = "".join(daemon.stop() for daemon in world.daemons if daemon.process and daemon.process.poll() is None)
        if "Traceback" in logs:
            outcome.notes.append("a traceback in the daemon's log")
    return outcome


def section(outcomes: list[Outcome], events: int, errors: int) -> list[str]:
    lines = [
        "## Chaos (`make chaos`)",
        "",
        f"`python -m benchmarks.chaos --events {events} --errors {errors}` on {platform.node() or 'this machine'}, "
        f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores. Each scenario streams events of "
        f"{errors} distinct errors over 30 s to real `incidentbot run` processes (2 workers each) with local Slack "
        "and GitHub servers, injects its fault during the stream, and waits until nothing is queued, claimed or "
        "waiting for a retry. Target: 0 lost, 0 duplicated, recovery ≤ 30 s after the fault ends.",
        "",
        "| scenario | fault | accepted | refused, sent again | lost | duplicated | incidents | recovery |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        recovery = "not settled in 180 s" if o.recovery_s is None else f"{o.recovery_s:.1f} s"
        if o.notes and o.accepted == 0:
            recovery = "; ".join(o.notes)
        lines.append(
            f"| {o.scenario} | {o.fault} | {o.accepted} | {o.refused} | {o.lost} | {o.duplicated} | {o.incidents} "
            f"| {recovery} |"
        )
    lines.append("")
    return lines


def write_section(lines: list[str]) -> None:
    """Replace (or add) the Chaos section of benchmarks/results.md, leaving the other sections as they are."""
    text = RESULTS.read_text() if RESULTS.exists() else "# incidentbot benchmarks\n"
    start = text.find("## Chaos")
    if start == -1:
        text = text.rstrip() + "\n\n" + "\n".join(lines)
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + "\n".join(lines) + ("\n" + text[end + 1 :] if end != -1 else "")
    RESULTS.write_text(text.rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--errors", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="put the table into benchmarks/results.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    outcomes = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in RUNS:
            parser.error(f"unknown scenario {name}: choose from {', '.join(SCENARIOS)}")
        logging.info("chaos: %s", name)
        outcomes.append(run(name, args.events, args.errors))
        logging.info("chaos: %s", outcomes[-1])
    lines = section(outcomes, args.events, args.errors)
    print("\n".join(lines))
    if args.write:
        write_section(lines)
    failed = any(o.lost or o.duplicated or o.recovery_s is None or o.recovery_s > 30 for o in outcomes if o.accepted)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
