"""Speed: incidentbot triage against the floor of plain ``git blame`` on the same lines, cold (a fresh
process, as a CLI user pays), warm (repeated calls in one process, as the daemon pays), a batch of many traces,
and the batch process's peak memory; and the blame index (linkers/blame_index.py): a fresh process on an empty
index, a fresh process whose files are indexed, a new revision ``CARRY_COMMITS`` later carried forward (in a
fresh process and in one process), and the index's size after the batch.

Every triage here keeps its state (the index) in ``benchmarks/work/speed-state-<label>``, emptied where a
figure needs an empty index, never in the user's own state folder.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.checkouts import WORK_DIR
from benchmarks.plaintrace import map_frames, parse_frames, tracked_files
from benchmarks.synthtrace import SpotIndex, render
from incidentbot.settings import Ranking

BLAME_WINDOW = 3  # the default Ranking.blame_window: lines blamed above and below each frame's line
# The floor blames the lines incidentbot blames: the in-app frames nearest the raise, as many as it blames by
# default; blaming every frame is reported beside it.
FRAMES_BLAMED = Ranking().max_frames_blamed
BATCH_FLOOR_SAMPLE = 50  # batch traces whose plain-git floor is timed, then scaled to 1,000
COLD_TIMEOUT = 120.0
CARRY_COMMITS = 20  # the earlier revision of the carry-forward figures: HEAD~20 (first parent)
BATCH_WORKERS = 2  # the daemon's default worker processes (Settings.workers), one per core here


@dataclass(frozen=True)
class Stats:
    median: float
    p90: float
    runs: int

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        ordered = sorted(samples)
        if not ordered:
            return cls(float("nan"), float("nan"), 0)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        return cls(statistics.median(ordered), p90, len(ordered))


@dataclass
class SpeedResult:
    label: str
    repo: str
    commits: int
    files: int
    frames: int
    floor: Stats | None = None  # plain git blame with the commit-graph incidentbot writes (the stricter floor)
    floor_given: Stats | None = None  # plain git blame on the repository as given (no commit-graph)
    floor_processes: int = 0
    floor_all_frames: Stats | None = None  # with the commit-graph, every in-app frame's lines (what the trace holds)
    all_frames_processes: int = 0
    first_cold: float | None = None  # the first triage ever, which writes the commit-graph
    batch_floor_per_1000: float | None = None  # plain git blame of the batch traces' lines, per 1,000 traces
    batch_floor_sample: int = 0
    # Each distinct file the batch's frames touch blamed once, whole, BATCH_WORKERS at a time: what any tool that
    # runs git blame once per file pays at least, with both cores busy.
    batch_files: int = 0
    batch_files_floor: float | None = None
    startup: Stats | None = None
    cold: Stats | None = None
    warm: Stats | None = None
    batch_traces: int = 0
    batch_seconds: float | None = None
    batch_failures: int = 0
    batch_variation: str = ""
    batch_workers: int = 0  # the same batch split across this many processes sharing one store, as the daemon runs
    batch_workers_seconds: float | None = None
    batch_workers_failures: int = 0
    rss_self_mb: float | None = None
    rss_children_mb: float | None = None
    # The blame index. cold above is a fresh process on an empty index; these:
    indexed: Stats | None = None  # a fresh process, the trace's files indexed at the revision
    carried: Stats | None = None  # a fresh process at HEAD, the index filled by a triage at HEAD~CARRY_COMMITS
    carried_in_process: Stats | None = None  # the same in one process (as the daemon sees a deploy)
    carry_from: str = ""
    index_entries: int | None = None  # after the batch
    index_bytes: int | None = None
    index_file_bytes: int | None = None  # the SQLite file, WAL included
    index_counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def blame_ranges(
    repo: Path, trace_text: str, window: int = BLAME_WINDOW, frames: int | None = FRAMES_BLAMED
) -> dict[str, list[tuple[int, int]]]:
    """For each in-app frame file, the line ranges (frame line ± window, clamped to the file) to blame: of the
    ``frames`` in-app frames nearest the raise, as incidentbot blames them, or of every frame (None)."""
    ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    mapped_frames = map_frames(parse_frames(trace_text), tracked_files(repo))
    for mapped in mapped_frames[-frames:] if frames else mapped_frames:
        length = _line_count(repo / mapped.repo_path)
        line = min(mapped.frame.line, length)
        ranges[mapped.repo_path].append((max(1, line - window), min(length, line + window)))
    return dict(ranges)


def floor_once(repo: Path, ranges: dict[str, list[tuple[int, int]]]) -> float:
    """One ``git blame --porcelain -L a,b [-L c,d …] HEAD -- file`` per frame file, one after another."""
    started = time.perf_counter()
    for path, spans in ranges.items():
        limits = [arg for start, end in spans for arg in ("-L", f"{start},{end}")]
        subprocess.run(
            ["git", "blame", "--porcelain", *limits, "HEAD", "--", path], cwd=repo, capture_output=True, check=True
        )
    return time.perf_counter() - started


def files_floor(repo: Path, batch: list[str], workers: int = BATCH_WORKERS) -> tuple[int, float]:
    """How many distinct files the batch's frames touch, and the seconds to blame each of them once, whole
    (``git blame --porcelain HEAD -- file``), ``workers`` at a time."""
    paths = sorted({path for text in batch for path in blame_ranges(repo, text)})

    def one(path: str) -> None:
        subprocess.run(["git", "blame", "--porcelain", "HEAD", "--", path], cwd=repo, capture_output=True, check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, paths))
    return len(paths), time.perf_counter() - started


def batch_in_workers(repo: Path, batch: list[str], state: Path, workers: int = BATCH_WORKERS) -> tuple[float, int]:
    """The batch split across ``workers`` fresh processes sharing one store (SQLite, as ``incidentbot run`` with
    its default settings), trace i to process i mod ``workers`` as the queue hands them out: the wall time from
    the first start to the last exit (start-ups included), and how many triages failed."""
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    spec = state / "share.json"
    spec.write_text(json.dumps({"repo": str(repo), "batch": batch, "state": str(state)}))
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.speed", "--share", str(spec), str(i), str(workers)],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    outputs = [child.communicate()[0] for child in children]
    seconds = time.perf_counter() - started
    failures = 0
    for child, out in zip(children, outputs, strict=True):
        lines = out.strip().splitlines()
        failures += int(lines[-1]) if child.returncode == 0 and lines else len(batch[:: len(children)])
    return seconds, failures


def _share_worker(spec_path: str, share: int, workers: int) -> None:
    """Child process of ``batch_in_workers``: its share of the batch; prints how many failed."""
    from incidentbot import pipeline, settings

    spec = json.loads(Path(spec_path).read_text())
    state = Path(spec["state"])
    conf = settings.load(None, repo=Path(spec["repo"]), database_url=f"sqlite:///{state / 'shared'}.sqlite3")
    failures = 0
    for text in spec["batch"][share::workers]:
        try:
            pipeline.triage(text, conf)
        except Exception:  # counted, not fatal, as in the one-process batch
            failures += 1
    print(failures)


def measure_cold(
    repo: Path,
    trace_file: Path,
    runs: int,
    state: Path,
    *,
    empty_index: bool = True,
    rev: str | None = None,
    after: str | None = None,
) -> tuple[Stats, list[str]]:
    """A fresh ``python -m incidentbot triage TRACE --repo R --json`` process per run, its state in ``state``.

    ``empty_index``: the state is emptied before each run. ``after``: an untimed triage at that revision first
    (it fills the index the timed one carries forward). ``rev``: the timed triage's ``--rev``.
    """
    samples, errors = [], []

    def command(at: str | None) -> list[str]:
        base = [sys.executable, "-m", "incidentbot", "triage", str(trace_file), "--repo", str(repo), "--json"]
        return base + (["--rev", at] if at else [])

    env = {k: v for k, v in os.environ.items() if k != "INCIDENTBOT_DATABASE_URL"}
    env["INCIDENTBOT_STATE_DIR"] = str(state)
    for _ in range(runs):
        if empty_index:
            shutil.rmtree(state, ignore_errors=True)
        if after is not None:
            subprocess.run(command(after), capture_output=True, text=True, timeout=COLD_TIMEOUT, env=env, check=False)
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command(rev), capture_output=True, text=True, timeout=COLD_TIMEOUT, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            errors.append(f"cold triage timed out after {COLD_TIMEOUT:.0f} s")
            continue
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            errors.append(f"cold triage exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return Stats.of(samples), errors


def measure_startup(runs: int) -> Stats:
    """Python start-up plus ``import incidentbot.commands.cli`` alone."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import incidentbot.commands.cli"], capture_output=True, check=False)
        samples.append(time.perf_counter() - started)
    return Stats.of(samples)


def batch_traces(repo: Path, count: int, seed: int) -> list[str]:
    """``count`` traces of 10–30 frames, each frame a random function line in a random distinct file."""
    index = SpotIndex(repo)
    rng = random.Random(seed)
    return [render(index.pick(rng, rng.randint(10, 30))) for _ in range(count)]


def run_in_process(
    repo: Path, warm_trace: str, warm_runs: int, batch: list[str], state: Path, carry: tuple[str, str] | None = None
) -> dict[str, Any]:
    """Warm, carry-forward and batch timings in a child process of their own, so its peak memory is the triage's
    alone."""
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=WORK_DIR) as spec:
        json.dump(
            {
                "repo": str(repo),
                "warm_trace": warm_trace,
                "warm_runs": warm_runs,
                "batch": batch,
                "state": str(state),
                "carry": list(carry) if carry else None,
            },
            spec,
        )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.speed", spec.name],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        Path(spec.name).unlink(missing_ok=True)
    if done.returncode != 0:
        return {"error": f"in-process worker exit {done.returncode}: {done.stderr.strip()[-500:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(label: str, repo: Path, trace_text: str, batch: list[str], runs: int) -> SpeedResult:
    """Every speed figure for one repository and one trace."""
    ranges = blame_ranges(repo, trace_text)
    result = SpeedResult(
        label=label,
        repo=str(repo),
        commits=int(_git(repo, "rev-list", "--count", "HEAD")),
        files=len(tracked_files(repo)),
        frames=len(parse_frames(trace_text)),
        floor_processes=len(ranges),
        batch_traces=len(batch),
        batch_variation="10–30 frames each; every frame a random function line of a random distinct .py file",
    )
    _drop_commit_graph(repo)  # measure the repository as a user hands it over
    floor_once(repo, ranges)  # one untimed run, so the page cache is warm for both sides
    result.floor_given = Stats.of([floor_once(repo, ranges) for _ in range(runs)])
    result.startup = measure_startup(runs)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    state = WORK_DIR / f"speed-state-{_slug(label)}"
    trace_file = WORK_DIR / f"speed-trace-{_slug(label)}.txt"
    trace_file.write_text(trace_text)
    first, errors = measure_cold(repo, trace_file, 1, state)  # writes git's commit-graph (docs/limits.md)
    result.first_cold = first.median
    # From here on plain git blame profits from the commit-graph too: the floor is measured again, so every
    # ratio compares like with like.
    result.floor = Stats.of([floor_once(repo, ranges) for _ in range(runs)])
    every = blame_ranges(repo, trace_text, frames=None)
    result.all_frames_processes = len(every)
    result.floor_all_frames = Stats.of([floor_once(repo, every) for _ in range(runs)])
    result.cold, more = measure_cold(repo, trace_file, runs, state)
    errors += more
    measure_cold(repo, trace_file, 1, state)  # fills the index
    result.indexed, more = measure_cold(repo, trace_file, runs, state, empty_index=False)
    errors += more
    head = _git(repo, "rev-parse", "HEAD")
    earlier = _earlier(repo, CARRY_COMMITS)
    if earlier is not None:
        result.carry_from = f"HEAD~{CARRY_COMMITS}"
        result.carried, more = measure_cold(repo, trace_file, runs, state, rev=head, after=earlier)
        errors += more
    result.errors = errors
    sample = batch[:BATCH_FLOOR_SAMPLE]
    if sample:
        started = time.perf_counter()
        for text in sample:
            floor_once(repo, blame_ranges(repo, text))
        result.batch_floor_per_1000 = (time.perf_counter() - started) * 1000 / len(sample)
        result.batch_floor_sample = len(sample)
    carry = (earlier, head) if earlier is not None else None
    _fill_in_process(result, run_in_process(repo, trace_text, runs, batch, state, carry))
    result.batch_files, result.batch_files_floor = files_floor(repo, batch)
    result.batch_workers = BATCH_WORKERS
    result.batch_workers_seconds, result.batch_workers_failures = batch_in_workers(
        repo, batch, WORK_DIR / f"speed-workers-{_slug(label)}"
    )
    shutil.rmtree(WORK_DIR / f"speed-workers-{_slug(label)}", ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)
    return result


def _earlier(repo: Path, commits: int) -> str | None:
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"HEAD~{commits}^{{commit}}")
    except subprocess.CalledProcessError:
        return None


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label)


def _fill_in_process(result: SpeedResult, found: dict[str, Any]) -> None:
    if "error" in found:
        result.errors.append(found["error"])
        return
    result.warm = Stats.of(found["warm"]) if found["warm"] else None
    result.batch_seconds = found["batch_seconds"]
    result.batch_failures = found["batch_failures"]
    result.rss_self_mb = found["rss_self_mb"]
    result.rss_children_mb = found["rss_children_mb"]
    result.carried_in_process = Stats.of(found["carried"]) if found.get("carried") else None
    index = found.get("index") or {}
    result.index_entries = index.get("entries")
    result.index_bytes = index.get("bytes")
    result.index_file_bytes = found.get("index_file_bytes")
    result.index_counts = {k: index[k] for k in ("hits", "carried", "misses") if k in index}
    result.errors.extend(found["errors"])


def _worker(spec_path: str) -> None:
    """Child process: warm-up, timed warm calls, carry-forward, then the batch; prints one JSON line."""
    from incidentbot import pipeline, settings
    from linkers.blame_index import shared_index

    spec = json.loads(Path(spec_path).read_text())
    state = Path(spec["state"])
    repo = Path(spec["repo"])

    def conf_for(name: str, rev: str | None = None) -> settings.Settings:
        return settings.load(None, repo=repo, rev=rev, database_url=f"sqlite:///{state / name}.sqlite3")

    conf = conf_for("warm")
    errors: list[str] = []
    warm: list[float] = []

    def one(text: str, at: settings.Settings = conf) -> float | None:
        started = time.perf_counter()
        try:
            pipeline.triage(text, at)
        except Exception as exc:  # measured, not fatal: the report says how many failed
            if len(errors) < 5:
                errors.append(f"triage in process: {type(exc).__name__}: {exc}")
            return None
        return time.perf_counter() - started

    one(spec["warm_trace"])
    for _ in range(spec["warm_runs"]):
        seconds = one(spec["warm_trace"])
        if seconds is not None:
            warm.append(seconds)
    carried: list[float] = []
    if spec["carry"]:
        earlier, head = spec["carry"]
        for run in range(spec["warm_runs"]):  # a fresh index each run: filled at the earlier revision only
            one(spec["warm_trace"], conf_for(f"carry-{run}", earlier))
            seconds = one(spec["warm_trace"], conf_for(f"carry-{run}", head))
            if seconds is not None:
                carried.append(seconds)
    batch_conf = conf_for("batch")
    started = time.perf_counter()
    failures = sum(1 for text in spec["batch"] if one(text, batch_conf) is None)
    batch_seconds = time.perf_counter() - started
    index = shared_index(batch_conf)
    database = state / "batch.sqlite3"
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    print(
        json.dumps(
            {
                "warm": warm,
                "carried": carried,
                "batch_seconds": batch_seconds,
                "batch_failures": failures,
                "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                "index": index.stats() if index is not None else None,
                "index_file_bytes": sum(f.stat().st_size for f in files if f.exists()),
                "errors": errors,
            }
        )
    )


def index_section(results: list[SpeedResult]) -> list[str]:
    """The blame index's figures, per repository, as ratios to the floor measured in the same run."""
    out = [
        "### The blame index",
        "",
        "Ratios to the floor with git's commit-graph measured above in the same run (medians). Fresh processes "
        "include Python's start-up and imports. The trace is the one above; the carried revision is HEAD, the "
        f"index having been filled by a triage of the same trace at HEAD~{CARRY_COMMITS} (first parent) only.",
        "",
        "| repository | figure | median | ratio to floor | target |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        rows = [
            ("cold first trace, empty index (fresh process)", r.cold, "≤ 1.0×"),
            ("same revision, files indexed, in one process (warm)", r.warm, "≤ 0.05×"),
            ("same revision, files indexed, new `incidentbot triage` process", r.indexed, "≤ 0.25×"),
            (
                f"new revision {CARRY_COMMITS} commits later, carried forward, in one process",
                r.carried_in_process,
                "≤ 0.2×",
            ),
            (f"new revision {CARRY_COMMITS} commits later, carried forward, new process", r.carried, "≤ 0.2×"),
        ]
        for name, stats, target in rows:
            if stats is None or not stats.runs:
                out.append(f"| {r.label} | {name} | – | – | {target} |")
                continue
            ratio = stats.median / r.floor.median if r.floor and r.floor.runs and r.floor.median > 0 else math.nan
            out.append(f"| {r.label} | {name} | {stats.median * 1000:.0f} ms | {ratio:.2f}× | {target} |")
    out += [
        "",
        "| repository | batch | index after the batch | file on disk | answers (files) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        per_1000 = r.batch_seconds * 1000 / r.batch_traces if r.batch_seconds and r.batch_traces else math.nan
        size = (
            f"{r.index_entries} files, {r.index_bytes / 1e6:.1f} MB of entries"
            if r.index_entries is not None and r.index_bytes is not None
            else "–"
        )
        disk = f"{r.index_file_bytes / 1e6:.1f} MB" if r.index_file_bytes else "–"
        counts = ", ".join(f"{v} {k}" for k, v in r.index_counts.items()) or "–"
        out.append(
            f"| {r.label} | {r.batch_traces} traces, {per_1000:.1f} s per 1,000, peak RSS {r.rss_self_mb or 0:.0f} MB "
            f"| {size} | {disk} | {counts} |"
        )
    return [*out, ""]


def speed_result_dict(result: SpeedResult) -> dict[str, Any]:
    return asdict(result)


def _drop_commit_graph(repo: Path) -> None:
    """Remove git's commit-graph (a cache git rebuilds at will), so the first floor is the repository as given."""
    info = Path(_git(repo, "rev-parse", "--git-common-dir"))
    info = (info if info.is_absolute() else repo / info) / "objects" / "info"
    (info / "commit-graph").unlink(missing_ok=True)
    for graph in (info / "commit-graphs").glob("*") if (info / "commit-graphs").is_dir() else []:
        graph.unlink()


def _line_count(path: Path) -> int:
    try:
        return max(1, len(path.read_bytes().splitlines()))
    except OSError:
        return 1


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


if __name__ == "__main__":
    if sys.argv[1] == "--share":
        _share_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        _worker(sys.argv[1])
