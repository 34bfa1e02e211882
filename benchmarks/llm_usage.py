"""What the drafting agent costs per report: calls and tokens, on the demo and on one accuracy case.

No model is called: a local OpenAI-compatible server plays a typical investigation (read the failing code,
show the top suspect's commit, blame the failing lines, answer), and counts tokens as about four characters
each, so the figures are estimates of what the prompts and tool results weigh, not of a model's verbosity.

    python -m benchmarks.llm_usage [--case cookiecutter-1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.accuracy import DEFAULT_CASES_DIR, Case
from benchmarks.checkouts import PROJECT_ROOT, checkout, clone_once, repos_dir
from tests.fakes.openai_api import FakeOpenAI, answer, tool

EXAMPLES = PROJECT_ROOT / "examples"


def investigation(report: dict[str, Any]) -> list[Any]:
    """The script a careful model follows: three tool calls, then the answer."""
    location = report["location"]
    top = report["suspects"][0]["commit"] if report["suspects"] else None
    steps = []
    if location:
        line = location["line"]
        steps.append(tool("ReadFile", path=location["path"], start_line=max(1, line - 20), end_line=line + 20))
        steps.append(tool("BlameLines", path=location["path"], start_line=max(1, line - 3), end_line=line + 3))
    if top:
        steps.append(tool("ShowCommit", sha=top[:12]))
    final = {
        "summary": "x" * 300,
        "root_cause": "x" * 600,
        "evidence": [f"{location['path']}:{location['line']}"] if location else [],
        "suggested_fix": "x" * 300,
        "fix_diff": None,
        "confidence": 0.7,
        "severity": "high",
        "culprit_commit": top[:12] if top else None,
    }
    return [*steps, answer(final)]


def measure(trace_file: Path, repo: Path, extra: list[str]) -> dict[str, Any]:
    base = [sys.executable, "-m", "incidentbot", "triage", str(trace_file), "--repo", str(repo), "--json", *extra]
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "XDG_STATE_HOME": state}
        env = {k: v for k, v in env.items() if not k.startswith("OPENAI_")}
        plain = json.loads(subprocess.run(base, env=env, capture_output=True, text=True, check=True).stdout)
        with FakeOpenAI(investigation(plain)) as llm:
            env["OPENAI_BASE_URL"] = llm.base_url
            drafted = json.loads(subprocess.run(base, env=env, capture_output=True, text=True, check=True).stdout)
            again = json.loads(subprocess.run(base, env=env, capture_output=True, text=True, check=True).stdout)
            first_prompt = len(json.dumps(llm.completions()[0].body["messages"])) // 4
    usage = drafted["usage"] or {}
    return {
        "calls": usage.get("calls"),
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "cost_usd": usage.get("cost_usd"),
        "first_prompt_tokens": first_prompt,
        "repeat_calls": (again["usage"] or {}).get("calls"),
        "analysis": drafted["analysis"] is not None,
    }


def llm_section(case_id: str = "cookiecutter-1") -> list[str]:
    """The results.md section: the table and how to read it."""
    return [
        "## LLM drafting: calls and tokens per report",
        "",
        "`python -m benchmarks.llm_usage`: no model is called. A local OpenAI-compatible server plays a typical",
        "investigation (three tool calls, then the answer) and counts about four characters per token, so these",
        "weigh the prompts and tool results incidentbot sends, not a model's own verbosity.",
        "",
        *table(measure_all(case_id)),
        "",
        "Input tokens add up because each call re-sends the conversation (system, evidence, earlier tool results).",
        "A repeated incident (same fingerprint and revision) is answered from the cache: no call.",
        "",
    ]


def table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    lines = [
        "| report | calls | input tokens | output tokens | est. cost (gpt-4o-mini) | first prompt | calls on repeat |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['calls']} | {r['input_tokens']} | {r['output_tokens']} | ${r['cost_usd']:.5f} | "
            f"{r['first_prompt_tokens']} | {r['repeat_calls']} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="cookiecutter-1")
    args = parser.parse_args()
    print("\n".join(table(measure_all(args.case))))


def measure_all(case_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    with tempfile.TemporaryDirectory() as work:
        repo, event = Path(work) / "shop-repo", Path(work) / "event.json"
        subprocess.run(
            [sys.executable, str(EXAMPLES / "build_demo_repo.py"), str(repo)], check=True, capture_output=True
        )
        subprocess.run(
            [sys.executable, str(EXAMPLES / "capture_event.py"), str(repo), str(event)], check=True, capture_output=True
        )
        rows.append(("demo", measure(event, repo, [])))
        case = Case.load(DEFAULT_CASES_DIR / f"{case_id}.json")
        clone = clone_once(case.repo, repos_dir(None), [case.head, *case.bic])
        checkout(clone, case.head)
        trace = Path(work) / "trace.txt"
        trace.write_text(case.trace)
        rows.append((case.id, measure(trace, clone, ["--first-seen", case.head_time])))
    return rows


if __name__ == "__main__":
    main()
