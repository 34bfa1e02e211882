"""The agent's final answer: its schema, and the check that keeps only what the repository confirms.

The model may name files, lines and commits; each is looked up at the triage revision. A reference that does
not exist is dropped and counted, a culprit that is not one of the ranked suspects becomes None, a fix diff
that does not parse or touches files the revision lacks is left out. Facts (location, suspects, owners) never
come from here.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, Field, ValidationError
from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from incidentbot.errors import DraftError
from incidentbot.models import Analysis, Evidence
from incidentbot.repo import RepoView

_REFERENCE = re.compile(r"^(?P<path>[^:\s]+):(?P<start>\d+)(?:-(?P<end>\d+))?$")
_FENCED = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


class Answer(BaseModel):
    summary: str = Field(max_length=1500, description="What happened, in two or three sentences")
    root_cause: str = Field(max_length=4000, description="The probable root cause, citing code and the suspect diff")
    evidence: list[str] = Field(max_length=20, description="path:line or path:start-end references that support it")
    suggested_fix: str = Field(max_length=4000, description="How to fix it, in prose")
    fix_diff: str | None = Field(None, max_length=12000, description="Optionally, the fix as a unified diff")
    confidence: float = Field(ge=0, le=1, description="0 (a guess) to 1 (certain)")
    severity: Literal["critical", "high", "medium", "low"]
    culprit_commit: str | None = Field(description="The ranked suspect commit that caused it, or null")


def answer_schema() -> str:
    return json.dumps(Answer.model_json_schema(), indent=1)


def parse_answer(content: str | None) -> Answer:
    """The model's final message as an Answer; DraftError saying what is wrong (fed back to it once)."""
    text = (content or "").strip()
    fenced = _FENCED.match(text)
    if fenced:
        text = fenced[1]
    try:
        return Answer.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise DraftError(
            f"the model's answer is not valid: {where}: {first['msg']}", "the report has no analysis"
        ) from exc


def grounded(answer: Answer, evidence: Evidence, repo: RepoView, model: str) -> Analysis:
    """The answer as an Analysis, keeping only references the revision confirms."""
    revision = evidence.revision or ""
    kept: list[str] = []
    dropped = 0
    for reference in answer.evidence:
        if _exists(reference.strip(), repo, revision):
            kept.append(reference.strip())
        else:
            dropped += 1
    culprit = _suspect(answer.culprit_commit, evidence)
    if answer.culprit_commit and culprit is None:
        dropped += 1
    diff = answer.fix_diff if answer.fix_diff and _diff_applies_to(answer.fix_diff, repo, revision) else None
    if answer.fix_diff and diff is None:
        dropped += 1
    return Analysis(
        model=model,
        summary=answer.summary.strip(),
        root_cause=answer.root_cause.strip(),
        evidence=tuple(kept),
        suggested_fix=answer.suggested_fix.strip(),
        confidence=round(answer.confidence, 2),
        severity=answer.severity,
        culprit_commit=culprit,
        fix_diff=diff,
        dropped_references=dropped,
    )


def _exists(reference: str, repo: RepoView, revision: str) -> bool:
    match = _REFERENCE.match(reference)
    if match is None:
        return False
    lines = repo.read_lines(match["path"].removeprefix("./"), revision)
    if lines is None:
        return False
    start = int(match["start"])
    end = int(match["end"] or start)
    return 1 <= start <= end <= len(lines)


def _suspect(named: str | None, evidence: Evidence) -> str | None:
    if not named or len(named.strip()) < 7:
        return None
    prefix = named.strip().lower()
    return next((s.sha for s in evidence.suspects if s.sha.startswith(prefix)), None)


def _diff_applies_to(diff: str, repo: RepoView, revision: str) -> bool:
    try:
        patch = PatchSet(diff)
    except UnidiffParseError:
        return False
    if not len(patch):
        return False
    for changed in patch:
        path = changed.path.removeprefix("a/").removeprefix("b/")
        if not changed.is_added_file and repo.read_lines(path, revision) is None:
            return False
    return True
