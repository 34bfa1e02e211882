"""``incidentbot learn``: labelled cases from a repository's resolved issues, and how well the ranking does on them.

Issues come from ``--issues-from FILE`` (a JSON list of GitHub REST issue objects; works offline, fixes found
from commit messages) or from GitHub (GITHUB_REPOSITORY and GITHUB_TOKEN; closed events and pull requests too).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from incidentbot.commands.common import configure_logging, run_or_exit

LEARN_EXAMPLES = """
\b
Examples:
  incidentbot learn --repo . --issues-from issues.json
  GITHUB_TOKEN=ghp_… GITHUB_REPOSITORY=acme/shop incidentbot learn --repo ~/code/shop
  incidentbot learn --repo . --issues-from issues.json --dry-run     # shows what it would store
  incidentbot learn --repo . --issues-from issues.json --json
"""


@click.command(epilog=LEARN_EXAMPLES)
@click.option("--repo", type=click.Path(path_type=Path), help="The git checkout of the code. [default: .]")
@click.option(
    "--issues-from",
    "issues_from",
    type=click.Path(path_type=Path),
    help="A JSON list of GitHub REST issue objects (number, title, body, state, closed_at, html_url).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (docs/learning.md).")
@click.option("--dry-run", is_flag=True, help="Show what would be stored, and store nothing.")
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file. [default: ./incidentbot.toml]")
@click.option("--debug", is_flag=True, help="Log each step and show tracebacks of internal errors.")
def learn(
    repo: Path | None, issues_from: Path | None, as_json: bool, dry_run: bool, config: Path | None, debug: bool
) -> None:
    """Learn from resolved incidents: each closed issue with a stack trace and a findable fix becomes a labelled
    case; prints top-1/top-3/owner@1 of the shipped weights, of plain blame, and of per-repository calibration."""
    configure_logging(debug)
    run_or_exit(lambda: _learn(repo, issues_from, as_json, dry_run, config), debug)


def _learn(repo: Path | None, issues_from: Path | None, as_json: bool, dry_run: bool, config: Path | None) -> None:
    from incidentbot import settings
    from incidentbot.errors import ConfigError
    from incidentbot.learn.session import github_fixes, learn, read_issues
    from incidentbot.pipeline import open_repo

    # A dry run writes nothing: neither the blame index nor git's commit-graph.
    extra: dict[str, Any] = {"blame_index": False, "commit_graph": False} if dry_run else {}
    conf = settings.load(config, repo=repo, **extra)
    open_repo(conf.repo.resolve())  # not a checkout: one line, before any work
    github = github_fixes(conf)
    if issues_from is not None:
        issues = read_issues(_read_json(issues_from))
    elif github is not None:
        issues = [dict(raw) for raw in github.issues()]
    else:
        raise ConfigError(
            "no issues to learn from", "pass --issues-from FILE, or set GITHUB_REPOSITORY and GITHUB_TOKEN"
        )
    if not issues:
        raise ConfigError("no issue objects found", "give a JSON list of GitHub issues, each with a number")
    store = None
    if not dry_run:
        from incidentbot.store import open_store

        store = open_store(conf.effective_database_url)
    outcome = _with_progress(lambda advance: learn(conf, issues, store, github, dry_run, advance), len(issues))
    click.echo(json.dumps(as_object(outcome, dry_run), indent=2) if as_json else as_text(outcome, dry_run))


def _read_json(path: Path) -> list[Any]:
    from incidentbot.errors import ConfigError

    hint = "export the issues as a JSON list (e.g. `gh api repos/OWNER/NAME/issues?state=closed > issues.json`)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", hint) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not JSON: {exc}", hint) from exc
    if not isinstance(data, list):
        raise ConfigError(f"{path} holds a JSON {type(data).__name__}, not a list of issues", hint)
    return data


def _with_progress(work: Any, total: int) -> Any:
    """Run ``work(advance)`` under a progress bar on stderr (shown on a terminal only)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("learning from closed issues"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task("issues", total=total)
        return work(lambda: progress.advance(task))


def as_object(outcome: Any, dry_run: bool) -> dict[str, Any]:
    result = outcome.calibration
    return {
        "repo": outcome.repo,
        "dry_run": dry_run,
        "cases": len(outcome.cases),
        "items": [
            {"issue": item.issue, "fix": item.fix, "culprits": list(item.culprits), "found_by": item.found_by}
            for item in outcome.learnt
        ],
        "skipped": [{"issue": number, "reason": why} for number, why in outcome.skipped],
        "shipped": result.shipped.as_json(),
        "blame": outcome.blame.as_json(),
        "calibrated": result.held_out.as_json() if result.held_out else None,
        "ranked_by": result.model.version if result.in_use and result.model else "shipped weights",
    }


def as_text(outcome: Any, dry_run: bool) -> str:
    from linkers.calibration import MIN_CASES

    result = outcome.calibration
    verb = "would be stored" if dry_run else "stored"
    lines = [
        f"{outcome.repo}: {len(outcome.learnt)} labelled case(s) {verb} from {outcome.traces} issue(s) with a trace"
    ]
    for item in outcome.learnt:
        culprits = ", ".join(sha[:12] for sha in item.culprits)
        lines.append(f"  #{item.issue}: fix {item.fix[:12]} ({item.found_by}), culprit(s) {culprits}")
    for number, why in outcome.skipped:
        lines.append(f"  #{number}: skipped, {why}")
    lines.append(f"\n{len(outcome.cases)} case(s) for {outcome.repo}      top-1   top-3   owner@1")
    lines.append(_row("shipped weights", result.shipped.as_json()))
    lines.append(_row("deepest-frame blame", {**outcome.blame.as_json(), "top3": None, "owner1": None}))
    if result.held_out is None:
        lines.append(f"calibrated               needs {MIN_CASES} cases (has {len(outcome.cases)})")
    else:
        lines.append(_row("calibrated (held out)", result.held_out.as_json()))
    in_use = result.model.version if result.in_use and result.model else "shipped weights"
    lines.append(
        f"\nsuspects of {outcome.repo} are ranked with: {in_use}" + (" (dry run: nothing stored)" if dry_run else "")
    )
    return "\n".join(lines)


def _row(name: str, figures: dict[str, Any]) -> str:
    cells = [f"{figures[k]:7.0%}" if figures.get(k) is not None else "      –" for k in ("top1", "top3", "owner1")]
    return f"{name:<24} {' '.join(cells)}"
