"""Speed: incidentbot triage against the floor of plain ``git blame`` on the same lines, cold (a fresh
process, as a CLI user pays), warm (repeated calls in one process, as the daemon pays), a batch of many traces,
and the batch process's peak memory.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.checkouts import WORK_DIR
from benchmarks.plaintrace import map_frames, parse_frames, tracked_files
from benchmarks.synthtrace import SpotIndex, render

BLAME_WINDOW = 3  # the default Ranking.blame_window: lines blamed above and below each frame's line
BATCH_FLOOR_SAMPLE = 50  # batch traces whose plain-git floor is timed, then scaled to 1,000
COLD_TIMEOUT = 120.0


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
    first_cold: float | None = None  # the first triage ever, which writes the commit-graph
    batch_floor_per_1000: float | None = None  # plain git blame of the batch traces' lines, per 1,000 traces
    batch_floor_sample: int = 0
    startup: Stats | None = None
    cold: Stats | None = None
    warm: Stats | None = None
    batch_traces: int = 0
    batch_seconds: float | None = None
    batch_failures: int = 0
    batch_variation: str = ""
    rss_self_mb: float | None = None
    rss_children_mb: float | None = None
    errors: list[str] = field(default_factory=list)


def blame_ranges(repo: Path, trace_text: str, window: int = BLAME_WINDOW) -> dict[str, list[tuple[int, int]]]:
    """For each in-app frame file, the line ranges (frame line ± window, clamped to the file) to blame."""
    ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for mapped in map_frames(parse_frames(trace_text), tracked_files(repo)):
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


def measure_cold(repo: Path, trace_file: Path, runs: int) -> tuple[Stats, list[str]]:
    """A fresh ``python -m incidentbot triage TRACE --repo R --json`` process per run."""
    samples, errors = [], []
    command = [sys.executable, "-m", "incidentbot", "triage", str(trace_file), "--repo", str(repo), "--json"]
    for _ in range(runs):
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=COLD_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            errors.append(f"cold triage timed out after {COLD_TIMEOUT:.0f} s")
            continue
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            errors.append(f"cold triage exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return Stats.of(samples), errors


def measure_startup(runs: int) -> Stats:
    """Python start-up plus ``import incidentbot.cli`` alone."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import incidentbot.cli"], capture_output=True, check=False)
        samples.append(time.perf_counter() - started)
    return Stats.of(samples)


def batch_traces(repo: Path, count: int, seed: int) -> list[str]:
    """``count`` traces of 10–30 frames, each frame a random function line in a random distinct file."""
    index = SpotIndex(repo)
    rng = random.Random(seed)
    return [render(index.pick(rng, rng.randint(10, 30))) for _ in range(count)]


def run_in_process(repo: Path, warm_trace: str, warm_runs: int, batch: list[str]) -> dict[str, Any]:
    """Warm and batch timings in a child process of their own, so its peak memory is the triage's alone."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=WORK_DIR) as spec:
        json.dump({"repo": str(repo), "warm_trace": warm_trace, "warm_runs": warm_runs, "batch": batch}, spec)
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
    trace_file = WORK_DIR / f"speed-trace-{label}.txt"
    trace_file.write_text(trace_text)
    first, errors = measure_cold(repo, trace_file, 1)  # writes git's commit-graph (docs/limits.md)
    result.first_cold = first.median
    # From here on plain git blame profits from the commit-graph too: the floor is measured again, so every
    # ratio compares like with like.
    result.floor = Stats.of([floor_once(repo, ranges) for _ in range(runs)])
    result.cold, result.errors = measure_cold(repo, trace_file, runs)
    result.errors = errors + result.errors
    sample = batch[:BATCH_FLOOR_SAMPLE]
    if sample:
        started = time.perf_counter()
        for text in sample:
            floor_once(repo, blame_ranges(repo, text))
        result.batch_floor_per_1000 = (time.perf_counter() - started) * 1000 / len(sample)
        result.batch_floor_sample = len(sample)
    _fill_in_process(result, run_in_process(repo, trace_text, runs, batch))
    return result


def _fill_in_process(result: SpeedResult, found: dict[str, Any]) -> None:
    if "error" in found:
        result.errors.append(found["error"])
        return
    result.warm = Stats.of(found["warm"]) if found["warm"] else None
    result.batch_seconds = found["batch_seconds"]
    result.batch_failures = found["batch_failures"]
    result.rss_self_mb = found["rss_self_mb"]
    result.rss_children_mb = found["rss_children_mb"]
    result.errors.extend(found["errors"])


def _worker(spec_path: str) -> None:
    """Child process: warm-up, timed warm calls, then the batch; prints one JSON line."""
    from incidentbot import pipeline, settings

    spec = json.loads(Path(spec_path).read_text())
    conf = settings.load(None, repo=Path(spec["repo"]))
    errors: list[str] = []
    warm: list[float] = []

    def one(text: str) -> float | None:
        started = time.perf_counter()
        try:
            pipeline.triage(text, conf)
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
    started = time.perf_counter()
    failures = sum(1 for text in spec["batch"] if one(text) is None)
    batch_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "warm": warm,
                "batch_seconds": batch_seconds,
                "batch_failures": failures,
                "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                "errors": errors,
            }
        )
    )


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
    _worker(sys.argv[1])
