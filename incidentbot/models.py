"""The core data types that flow through source → parse → link → draft → report → store.

Frozen, slotted dataclasses holding tuples: a stage returns a new value (``dataclasses.replace``) and never
mutates its input. Field names follow Sentry's event schema so a Sentry frame maps field for field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

#: How a frame's reported line relates to the file at the triage revision.
#: ``exact``: the source line matches; ``moved``: found nearby and re-aligned; ``unaligned``: the trace carries
#: source that the revision does not have; ``unchecked``: the trace carries no source line to compare.
Alignment = Literal["exact", "moved", "unaligned", "unchecked"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame, as reported and (after linking) as found in the repository."""

    filename: str  # the path as the trace reports it
    function: str | None = None
    module: str | None = None
    lineno: int | None = None
    colno: int | None = None
    abs_path: str | None = None
    context_line: str | None = None  # the source line, when the trace carries it
    pre_context: tuple[str, ...] = ()
    post_context: tuple[str, ...] = ()
    in_app: bool | None = None  # as reported; None = unknown, decided by the path mapper
    vars: tuple[tuple[str, str], ...] = ()  # local variables (Sentry), already stringified
    # Filled by linking:
    repo_path: str | None = None  # repository-relative path at the triage revision
    repo_line: int | None = None  # line at the triage revision (re-aligned when the code moved)
    alignment: Alignment = "unchecked"


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    """One exception of a trace: chained causes and exception-group members each get one."""

    type: str
    value: str = ""
    module: str | None = None
    frames: tuple[Frame, ...] = ()  # outermost first, innermost (nearest the raise) last
    # How this exception relates to the one listed after it in Trace.exceptions:
    # "cause" (raise … from), "context" (during handling of), "group" (member of an exception group).
    relation: Literal["cause", "context", "group"] | None = None


@dataclass(frozen=True, slots=True)
class Trace:
    """A parsed error: what the source reported, in one language-agnostic shape.

    ``exceptions`` is in chronological order like Sentry's ``exception.values``: the root cause first, the
    exception that was finally raised (the primary one) last.
    """

    exceptions: tuple[ExceptionInfo, ...]
    language: str = "unknown"  # python, javascript, java, go, ruby, unknown
    source: str = "text"  # text, sentry-event, sentry-api, sentry-webhook, sentry-ingest
    source_id: str | None = None  # the source's issue or event id
    url: str | None = None  # the source's issue URL
    release: str | None = None
    environment: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    tags: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()  # what the parser could not read
    redactions: int = 0  # values redacted before parsing (events are redacted when they are queued)

    @property
    def primary(self) -> ExceptionInfo:
        """The exception that was finally raised."""
        return self.exceptions[-1]

    @property
    def exception_type(self) -> str:
        return self.primary.type

    @property
    def message(self) -> str:
        return self.primary.value

    @property
    def frames(self) -> tuple[Frame, ...]:
        """The primary exception's frames, outermost first."""
        return self.primary.frames


@dataclass(frozen=True, slots=True)
class Person:
    name: str | None = None
    email: str | None = None
    github_login: str | None = None
    slack_id: str | None = None


@dataclass(frozen=True, slots=True)
class CodeLocation:
    """The frame that best explains the failure, as found in the repository."""

    path: str  # repository-relative
    line: int
    function: str | None
    exception_index: int
    frame_index: int
    url: str | None = None  # permalink at the revision, when the remote is known
    excerpt: tuple[str, ...] = ()  # the source around ``line`` at the revision
    excerpt_start: int = 0  # line number of excerpt[0]


@dataclass(frozen=True, slots=True)
class LineBlame:
    """Who last changed one blamed line at the triage revision, and how it relates to the trace."""

    path: str
    line: int  # line at the revision
    sha: str
    orig_path: str  # the file's path in the blamed commit (differs after a rename)
    orig_line: int
    frame_line: int  # the frame's line this one was blamed for
    exception_index: int
    frame_index: int
    depth: int  # application frames between this one and the raise: 0 = nearest the raise
    in_function: bool  # inside the frame's enclosing function
    function: str | None = None  # the enclosing function's name at the revision
    cosmetic: bool = False  # the commit only reformatted this line; blame was re-run past it
    # What the frame's code is (linkers/codekind.py): "app", "guard" (a deliberate raise nearest the raise),
    # "wrapper" (a small function handing its arguments on to the guard), "helper" (shared utility), "test".
    role: Literal["app", "guard", "wrapper", "helper", "test"] = "app"
    # What the line's statement is: a deliberate raise/throw, a condition (if/elif/assert…), or other code.
    statement: Literal["raise", "condition", "code"] = "code"


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """Facts about one commit, as git gives them."""

    sha: str
    author: Person
    authored_at: datetime
    committed_at: datetime
    summary: str
    parents: tuple[str, ...] = ()
    files_changed: int = 0
    lines_added: int = 0
    lines_deleted: int = 0


@dataclass(frozen=True, slots=True)
class SuspectCommit:
    sha: str
    author: Person
    authored_at: datetime
    committed_at: datetime
    summary: str
    score: float  # 0..1, comparable across incidents
    reasons: tuple[str, ...]
    # What the fitted ranking saw (linkers/suspect_features.py): kept so resolved incidents can be learnt from.
    features: tuple[tuple[str, float], ...] = ()


OwnerSource = Literal["codeowners", "suspect-author", "line-author"]


@dataclass(frozen=True, slots=True)
class Owner:
    """A person or team who owns the failing code, and why we think so."""

    source: OwnerSource
    reason: str
    person: Person | None = None
    team: str | None = None  # a CODEOWNERS handle such as @org/team


@dataclass(frozen=True, slots=True)
class Signature:
    """What two incidents must share to count as the same problem."""

    exception_type: str
    function: str | None  # the failing function (the report's location)
    path: str | None  # the failing file, repository-relative
    message: str  # the exception message's shape: variable parts replaced by "<>"


@dataclass(frozen=True, slots=True)
class ResolvedIncident:
    """A resolved incident as the store keeps it: its signature, its issue and what fixed it (when found)."""

    fingerprint: str
    signature: Signature
    issue_number: int | None
    issue_url: str | None
    fix_sha: str | None
    fix_summary: str | None
    fixed_by: str | None  # the fix commit's author, as a name or @login
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class SeenBefore:
    """One earlier incident a new one resembles, and why (``incidentbot.memory``)."""

    incident: ResolvedIncident
    matched_on: Literal["exception and function", "file and message", "same error"]

    @property
    def reason(self) -> str:
        return {
            "same error": "the same error, resolved before: a regression",
            "exception and function": "the same exception in the same function",
            "file and message": "the same message in the same file",
        }[self.matched_on]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the linkers established about one trace; what drafters and reporters read."""

    trace: Trace
    fingerprint: str
    revision: str | None = None  # 40-hex commit the trace's lines refer to
    revision_reason: str | None = None  # why this revision was chosen
    revision_pinned: bool = False  # named by --rev or the release: never inferred from the trace's source lines
    location: CodeLocation | None = None
    blame: tuple[LineBlame, ...] = ()
    commits: tuple[CommitInfo, ...] = ()  # facts about every blamed commit
    suspects: tuple[SuspectCommit, ...] = ()  # best first
    owners: tuple[Owner, ...] = ()  # best first
    redactions: int = 0
    warnings: tuple[str, ...] = ()
    remote_url: str | None = None  # https URL of the repository's GitHub remote, when known
    release_range: tuple[str, str] | None = None  # resolved deploy range (old, new) commits
    ranked_by: str | None = None  # which weights ranked the suspects: "shipped weights" or "calibrated on N …"
    seen_before: tuple[SeenBefore, ...] = ()  # resolved incidents this one resembles, most alike first

    def with_warning(self, *warnings: str) -> Evidence:
        from dataclasses import replace

        return replace(self, warnings=self.warnings + tuple(warnings))


@dataclass(frozen=True, slots=True)
class Usage:
    """What drafting one report cost."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None: the model is not in the price table
    cached: bool = False  # the analysis came from the cache: no call was made


@dataclass(frozen=True, slots=True)
class Analysis:
    """The LLM agent's reading of the evidence, checked against the repository; beside the facts, not over them."""

    model: str
    summary: str
    root_cause: str
    evidence: tuple[str, ...]  # "path:line" references that exist at the revision
    suggested_fix: str
    confidence: float  # 0..1
    severity: Literal["critical", "high", "medium", "low"]
    culprit_commit: str | None  # one of the ranked suspects, or None
    fix_diff: str | None = None  # a unified diff whose files exist at the revision
    dropped_references: int = 0  # references to files, lines or commits that do not exist, removed


@dataclass(frozen=True, slots=True)
class Report:
    """What a reporter posts: a title and body over the evidence they came from."""

    title: str
    summary_md: str
    evidence: Evidence
    severity: str = "error"
    drafted_by: str = "template"
    analysis: Analysis | None = None
    analysis_note: str | None = None  # why there is no analysis, when there is none
    usage: Usage | None = None
    drafted_at: datetime = field(default_factory=lambda: datetime.now(tz=UTC))  # "3 days ago" in the body is from here


IncidentState = Literal["open", "resolved", "regressed"]


@dataclass(frozen=True, slots=True)
class Incident:
    """One error across all its occurrences, as the store knows it."""

    fingerprint: str
    title: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    state: IncidentState = "open"  # resolved: its GitHub issue was closed; regressed: it came back after that
    source_url: str | None = None  # the Sentry issue, when known
    issue_url: str | None = None  # the GitHub issue, once posted
    issue_number: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where one incident was posted on one destination, and how far its updates have got."""

    reporter: str  # "slack", "github"
    fingerprint: str
    external_id: str  # Slack: the root message's "channel/ts"; GitHub: the issue number
    url: str | None
    posted_at: datetime
    updated_at: datetime  # the last reply or comment about recurrences
    reported_count: int  # the incident's count as of that reply or comment
    # Slack: the incident state the root message last announced; GitHub: the issue's state, "open" or "closed".
    state: str = "open"
    reopened: bool = False  # this post reopened a closed issue (a regression); not stored
