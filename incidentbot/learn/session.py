"""``incidentbot learn`` and the daemon's sync: closed issues → labelled cases → the repository's calibration.

Each closed issue whose body carries a stack trace and whose fix can be found becomes a labelled case
(incidentbot/learn/cases.py). The repository's cases (these and those already in the store) are then scored:
the shipped ranking, plain blame of the innermost failing line, and the calibrated ranking held out
(linkers/calibration.py). A dry run computes the same and stores nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from incidentbot import recall
from incidentbot.errors import IncidentbotError, ParseError
from incidentbot.learn.cases import build_case, issue_trace, recorded_revision
from incidentbot.learn.fixes import MAX_COMMENTS, CommitMessages, Fix, GitHubFixes, find_fix
from incidentbot.models import Incident, Trace
from incidentbot.pipeline import open_repo
from incidentbot.settings import Settings
from incidentbot.store import Store
from linkers import calibration
from linkers.calibration import Calibration, LabelledCase, Scores
from linkers.model import shipped
from linkers.suspects import final_order

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Learnt:
    issue: int
    fix: str
    found_by: str
    culprits: tuple[str, ...]
    case: dict[str, Any]


@dataclass(slots=True)
class Outcome:
    repo: str
    learnt: list[Learnt] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (issue, why no case)
    traces: int = 0  # issues that carried a stack trace
    cases: list[LabelledCase] = field(default_factory=list)  # every case of the repository scored
    calibration: Calibration | None = None
    blame: Scores | None = None


def repo_key(settings: Settings) -> str:
    repo = open_repo(settings.repo.resolve())
    return calibration.repo_key(repo.github_url(), settings.github_repository, repo.root)


def github_fixes(settings: Settings) -> GitHubFixes | None:
    """Closed events and pull requests through the GitHub API, when a token and a repository are set."""
    if settings.github_token is None or not settings.github_repository:
        return None
    return GitHubFixes(settings.github_token.get_secret_value(), settings.github_repository, settings.github_api_url)


def learn(
    settings: Settings,
    issues: Sequence[Mapping[str, Any]],
    store: Store | None,
    github: GitHubFixes | None,
    dry_run: bool,
    advance: Callable[[], None] = lambda: None,
) -> Outcome:
    """Labelled cases from closed issues; then the repository's figures, stored unless ``dry_run``."""
    outcome = Outcome(repo_key(settings))
    messages = CommitMessages(open_repo(settings.repo.resolve()).root)
    for issue in issues:
        _learn_one(settings, issue, messages, github, outcome)
        advance()
    if not outcome.traces:
        raise ParseError(
            f"none of the {len(issues)} issue(s) carries a stack trace",
            "give issues whose body holds the traceback (incidentbot's own issues do)",
        )
    known = [] if store is None else [json.loads(text) for text in store.cases(outcome.repo)]
    fresh = {item.issue: item.case for item in outcome.learnt}
    every = [case for case in known if case["issue"] not in fresh] + list(fresh.values())
    outcome.cases = [LabelledCase.from_json(case) for case in sorted(every, key=lambda c: int(c["issue"]))]
    outcome.calibration = calibration.calibrate(outcome.repo, shipped("suspects"), outcome.cases, final_order)
    outcome.blame = calibration.blame_scores(outcome.cases)
    if store is not None and not dry_run:
        for item in outcome.learnt:
            store.save_case(outcome.repo, item.issue, None, item.fix, item.found_by, json.dumps(item.case))
        save_calibration(store, outcome.calibration)
    return outcome


def _learn_one(
    settings: Settings,
    issue: Mapping[str, Any],
    messages: CommitMessages,
    github: GitHubFixes | None,
    outcome: Outcome,
) -> None:
    number = int(issue.get("number") or 0)
    if issue.get("pull_request") or (issue.get("state") or "closed") != "closed":
        outcome.skipped.append((number, "not a closed issue"))
        return
    body = str(issue.get("body") or "")
    trace = issue_trace(body, settings)
    for comment in () if trace is not None else _comment_bodies(issue, number, github):
        trace = issue_trace(comment, settings)
        if trace is not None:
            break
    if trace is None:
        outcome.skipped.append((number, "no stack trace in its body or comments"))
        return
    outcome.traces += 1
    repo = open_repo(settings.repo.resolve())
    try:
        fix = find_fix(number, _time(issue.get("closed_at")), messages, github, lambda sha: bool(repo.resolve(sha)))
    except Exception as exc:  # GitHub's answer for one issue must not cost the others
        outcome.skipped.append((number, f"could not look for its fix: {type(exc).__name__}: {exc}"))
        return
    if fix is None:
        outcome.skipped.append((number, "no fix found (closed event, pull request or commit message)"))
        return
    learnt = _case(settings, trace, number, fix, recorded_revision(body, repo), _time(issue.get("created_at")))
    if isinstance(learnt, str):
        outcome.skipped.append((number, learnt))
    else:
        outcome.learnt.append(learnt)


def _comment_bodies(issue: Mapping[str, Any], number: int, github: GitHubFixes | None) -> list[str]:
    """An issue's comments: carried by an export (``gh issue list --json comments``: a list of objects with a
    ``body``), else read from GitHub when the REST object counts some."""
    comments = issue.get("comments")
    if isinstance(comments, list):
        return [str(c.get("body") or "") for c in comments if isinstance(c, Mapping)][:MAX_COMMENTS]
    if github is None or not isinstance(comments, int) or comments <= 0:
        return []
    try:
        return github.comment_bodies(number)
    except Exception as exc:  # GitHub's answer for one issue must not cost the others
        log.warning("could not read the comments of issue #%d: %s: %s", number, type(exc).__name__, exc)
        return []


def _case(
    settings: Settings, trace: Trace, number: int, fix: Fix, revision: str | None, first_seen: datetime | None
) -> Learnt | str:
    try:
        built = build_case(trace, settings, number, fix.sha, fix.found_by, revision, first_seen)
    except (IncidentbotError, RuntimeError) as exc:
        return f"could not label it: {exc}"
    if built.case is None:
        return built.skipped or "no case"
    return Learnt(number, fix.sha, fix.found_by, tuple(built.case["culprits"]), built.case)


def save_calibration(store: Store, result: Calibration) -> None:
    """Store the repository's calibration (or that it has too few cases), with the figures that decided."""
    summary = {
        "shipped": result.shipped.as_json(),
        "calibrated": result.held_out.as_json() if result.held_out else None,
    }
    weights = json.dumps(result.model.to_json()) if result.model is not None else None
    store.save_calibration(result.repo, weights, result.cases, result.in_use, json.dumps(summary))
    calibration.forget_cached()
    recall.forget_cached()  # what was learnt shows under "Seen before" at once in this process


def learn_incident(store: Store, settings: Settings, incident: Incident, github: GitHubFixes | None) -> str:
    """The daemon's sync: a closed incident's issue → its labelled case and the repository's new calibration.
    What happened, in a few words (for the log)."""
    report = store.report(incident.fingerprint)
    if report is None or incident.issue_number is None:
        return "no report"
    repo = open_repo(settings.repo.resolve())
    messages = CommitMessages(repo.root)
    fix = find_fix(incident.issue_number, None, messages, github, lambda sha: bool(repo.resolve(sha)))
    if fix is None:
        return "closed without a fix"
    evidence = report.evidence
    learnt = _case(settings, evidence.trace, incident.issue_number, fix, evidence.revision, evidence.trace.first_seen)
    if isinstance(learnt, str):
        return learnt
    key = repo_key(settings)
    store.save_case(key, learnt.issue, incident.fingerprint, learnt.fix, learnt.found_by, json.dumps(learnt.case))
    cases = [LabelledCase.from_json(json.loads(text)) for text in store.cases(key)]
    save_calibration(store, calibration.calibrate(key, shipped("suspects"), cases, final_order))
    return f"learnt: fix {learnt.fix[:12]} ({learnt.found_by}), culprits {', '.join(c[:12] for c in learnt.culprits)}"


def read_issues(items: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Issue objects from an export: the mappings that have a number."""
    return [item for item in items if isinstance(item, Mapping) and isinstance(item.get("number"), int)]


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
