"""Render benchmark results as Markdown: the machine, the commands, accuracy beside the baselines, the
per-case table (so misses can be studied) and the speed figures beside their targets.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.accuracy import TOOL, CaseResult, summarise
from benchmarks.speed import SpeedResult, Stats

TARGETS = {
    "cold_ratio": 1.5,  # median triage ≤ 1.5× the git blame floor
    "warm_seconds": 0.300,
    "batch_seconds_per_1000": 60.0,
    "rss_mb": 300.0,
}
PUBLISHED = {  # the cases' README, measured 2026-11-24: top-1, top-3, MRR, owner@1
    "deepest-frame blame": (0.50, 0.50, 0.50, 0.70),
    "Sentry's rule (365 d)": (0.40, 0.40, 0.40, 0.50),
    "Datadog's rule (90 d)": (0.25, 0.25, 0.25, 0.35),
    "most recent commit touching the frames' files": (0.10, 0.25, 0.23, 0.55),
    "git-stacktrace": (0.40, 0.65, 0.56, 0.75),
}


def machine() -> list[str]:
    """CPU model, cores, RAM, OS, git and Python versions, as Markdown bullet lines."""
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout
    return [
        f"- date: {datetime.now(tz=UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} cores",
        f"- RAM: {_ram_gb():.1f} GB",
        f"- OS: {platform.platform()}",
        f"- {git_version.strip()}",
        f"- Python {platform.python_version()} ({sys.executable})",
    ]


def accuracy_section(
    results: list[CaseResult], training: Collection[tuple[str, str]], published: bool = True
) -> list[str]:
    """The summary table (ours and the baselines side by side) and the per-case table.

    ``training``: (repository, head) of every case the shipped weights were fitted on, to say whether these
    cases are in-sample. ``published``: the cases are the shared README's, so its figures are shown beside."""
    methods = list(results[0].answers) if results else []
    heading, scope = _scope(results, training)
    out = [
        f"## Accuracy end to end on the {'shared ' if published else ''}cases {heading}",
        "",
        f"`incidentbot triage --json` as a user runs it, with the shipped weights. {scope}",
        "",
        f"{len(results)} cases. Suspects: top-k = a culprit (`bic`) among the first k commits; MRR over the",
        "first hit. Location and owner: see docs/benchmarks.md."
        + (" Published = the cases' README (top-1/top-3/MRR/owner)." if published else ""),
        "",
        "| method | top-1 | top-3 | top-5 | MRR | file@1 | function@1 | owner@1 | median s/case |"
        + (" published |" if published else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if published else ""),
    ]
    for method in methods:
        s = summarise(results, method)
        figures = "/".join(f"{v:.2f}" for v in PUBLISHED[method]) if method in PUBLISHED else "–"
        location = f"{s.file_at_1:.2f} | {s.function_at_1:.2f}" if method == TOOL else "– | –"
        out.append(
            f"| {method} | {s.top[1]:.2f} | {s.top[3]:.2f} | {s.top[5]:.2f} | {s.mrr:.2f} | {location} | "
            f"{s.owner_at_1:.2f} | {s.median_seconds:.2f} |" + (f" {figures} |" if published else "")
        )
    return out + ["", *_per_case(results, methods), *_tool_errors(results)]


def _scope(results: list[CaseResult], training: Collection[tuple[str, str]]) -> tuple[str, str]:
    """The section's qualifier and the sentence saying whether the weights were fitted on these cases."""
    n = len(results)
    seen = sum(1 for r in results if (r.case.repo, r.case.head) in training)
    known = {repo for repo, _ in training}
    from_known = sum(1 for r in results if r.case.repo in known)
    if n and seen == n:
        return "(in-sample)", (
            f"These {n} cases are part of the corpus the weights were fitted on, so this table checks the "
            "command, not the accuracy on unseen code."
        )
    if from_known == 0:
        return "(projects the weights never saw)", (
            f"None of these {n} cases' repositories is in the corpus the weights were fitted on: accuracy on "
            "unseen code."
        )
    return "(partly in-sample)", (
        f"Of these {n} cases: in the corpus the weights were fitted on, {seen}; from its repositories but not in "
        f"it, {from_known - seen}; from repositories it never saw, {n - from_known}."
    )


def _per_case(results: list[CaseResult], methods: list[str]) -> list[str]:
    others = [m for m in methods if m != TOOL]
    out = [
        "### Per case",
        "",
        "Rank of the first culprit among each method's commits (– = not named); ours: top suspect, location, "
        "owner hit.",
        "",
        "| case | szz | ours: rank | top suspect | location | owner | " + " | ".join(others) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(others),
    ]
    for r in results:
        ours = r.answers.get(TOOL)
        score = r.scores.get(TOOL)
        top = ours.commits[0][:10] if ours and ours.commits else (ours.note if ours else "not run")
        where = f"{ours.location[0]} {ours.location[1] or ''}".strip() if ours and ours.location else "–"
        marks = "✓" if score and score.owner_hit else "✗"
        ranks = " | ".join(_rank(r.scores[m].rank) for m in others)
        out.append(
            f"| {r.case.id} | {r.case.szz_kind} | {_rank(score.rank) if score else '–'} | {top} | {where} | "
            f"{marks if score else '–'} | {ranks} |"
        )
    return [*out, ""]


def _tool_errors(results: list[CaseResult]) -> list[str]:
    failed = [r for r in results if TOOL in r.answers and r.answers[TOOL].note]
    if not failed:
        return []
    out = ["### Tool failures", ""]
    for r in failed:
        out.append(f"- {r.case.id}: {r.answers[TOOL].note}: `{r.stderr.strip()[-300:]}`")
    return [*out, ""]


def speed_section(results: list[SpeedResult]) -> list[str]:
    """One table per repository with each figure beside its target."""
    out = ["## Speed", ""]
    for r in results:
        out += [
            f"### {r.label}",
            "",
            f"`{r.repo}`: {r.commits} commits, {r.files} files, trace of {r.frames} frames.",
            "",
        ]
        out += ["| figure | median | p90 | runs | target |", "|---|---|---|---|---|"]
        floor = (
            f"{r.floor_processes}× `git blame --porcelain -L` (±3 lines) of the in-app frames nearest the raise that "
            "incidentbot blames, one after another"
        )
        out.append(_stats_row(f"floor, repository as given: {floor}", r.floor_given, ""))
        out.append(_stats_row(f"floor, with git's commit-graph: {floor}", r.floor, ""))
        if r.floor_all_frames is not None:
            every = f"{r.all_frames_processes}× `git blame --porcelain -L` (±3 lines), every in-app frame"
            out.append(_stats_row(f"for comparison, with the commit-graph: {every}", r.floor_all_frames, ""))
        out.append(_stats_row("Python start-up + `import incidentbot.commands.cli`", r.startup, ""))
        first = f"{r.first_cold * 1000:.0f} ms" if r.first_cold is not None else "failed"
        out.append(f"| first cold triage ever (writes the commit-graph) | {first} | – | 1 | – |")
        out.append(_stats_row("cold triage (fresh `python -m incidentbot triage … --json`)", r.cold, "≤ 1.5× floor"))
        out.append(_stats_row("warm triage (the same trace again in one process)", r.warm, "≤ 0.300 s"))
        out += ["", "| figure | value | target |", "|---|---|---|"]
        out.append(
            f"| median cold / floor with commit-graph | {_ratio(r.cold, r.floor)} | ≤ {TARGETS['cold_ratio']}× |"
        )
        out.append(f"| median cold / floor as given | {_ratio(r.cold, r.floor_given)} | ≤ {TARGETS['cold_ratio']}× |")
        out.append(f"| median warm / floor with commit-graph | {_ratio(r.warm, r.floor)} | – |")
        batch = f"{r.batch_seconds:.1f} s" if r.batch_seconds is not None else "failed"
        per_1000 = r.batch_seconds * 1000 / r.batch_traces if r.batch_seconds and r.batch_traces else math.nan
        out.append(
            f"| batch of {r.batch_traces} traces in one process ({r.batch_failures} failed) | {batch} "
            f"({per_1000:.1f} s per 1,000) | ≤ 60 s per 1,000 |"
        )
        if r.batch_floor_per_1000 is not None:
            ratio = per_1000 / r.batch_floor_per_1000 if r.batch_floor_per_1000 else math.nan
            out.append(
                f"| floor for the batch: plain `git blame -L` of the lines incidentbot blames (timed on "
                f"{r.batch_floor_sample} of its traces) | {r.batch_floor_per_1000:.1f} s per 1,000 "
                f"(batch / floor {ratio:.2f}×) | – |"
            )
        if r.batch_workers_seconds is not None:
            per_1000_workers = r.batch_workers_seconds * 1000 / r.batch_traces if r.batch_traces else math.nan
            out.append(
                f"| the same batch across {r.batch_workers} worker processes sharing one store, as `incidentbot run` "
                f"({r.batch_workers_failures} failed) | {r.batch_workers_seconds:.1f} s ({per_1000_workers:.1f} s "
                f"per 1,000) | ≤ 60 s per 1,000 |"
            )
        if r.batch_files_floor is not None:
            timed = [x for x in (r.batch_seconds, r.batch_workers_seconds) if x is not None]
            versus = f"{min(timed) / r.batch_files_floor:.2f}×" if timed and r.batch_files_floor else "–"
            out.append(
                f"| floor for the batch, each file once: whole-file `git blame` of the {r.batch_files} distinct files "
                f"its frames touch, {r.batch_workers or 2} at a time | {r.batch_files_floor:.1f} s (faster batch / "
                f"floor {versus}) | – |"
            )
        out.append(f"| peak RSS, batch process | {_mb(r.rss_self_mb)} | ≤ 300 MB |")
        out.append(f"| peak RSS, largest git child of the batch | {_mb(r.rss_children_mb)} | – |")
        out += ["", f"Batch traces: {r.batch_variation}.", ""]
        out += [f"- error: `{e}`" for e in r.errors[:5]]
        out.append("")
    return out


def _stats_row(name: str, stats: Stats | None, target: str) -> str:
    if stats is None or stats.runs == 0:
        return f"| {name} | failed | – | 0 | {target} |"
    return f"| {name} | {stats.median * 1000:.0f} ms | {stats.p90 * 1000:.0f} ms | {stats.runs} | {target} |"


def _ratio(top: Stats | None, bottom: Stats | None) -> str:
    if not top or not bottom or not top.runs or not bottom.runs or bottom.median <= 0:
        return "–"
    return f"{top.median / bottom.median:.2f}×"


def _mb(value: float | None) -> str:
    return f"{value:.0f} MB" if value is not None else "–"


def _rank(rank: int | None) -> str:
    return str(rank) if rank is not None else "–"


def _cpu_model() -> str:
    value = _proc_field("/proc/cpuinfo", "model name")
    return value or platform.processor() or "unknown CPU"


def _ram_gb() -> float:
    value = _proc_field("/proc/meminfo", "MemTotal")
    return int(value.split()[0]) / 1024 / 1024 if value else math.nan


def _proc_field(path: str, name: str) -> str | None:
    """The value of the first ``name: value`` line of a /proc file (Linux); None elsewhere."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name):
            return line.split(":", 1)[1].strip()
    return None
