"""The agent's read-only repository tools, at the triage revision.

Every tool reads git objects only (``git show``, ``blame``, ``log``, ``grep`` at a commit), never the working
tree, so nothing outside the repository can be read: a path must be a file tracked at the revision, a pathspec
may not use git's magic (``:``) or climb (``..``). Output is capped, e-mail addresses are left out, and
secrets are redacted before the model sees anything. A failing tool returns its error and arguments as the
result, so the model can correct itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import git
from openai import pydantic_function_tool
from pydantic import BaseModel, Field, ValidationError

from incidentbot.repo import RepoView
from incidentbot.scrub import scrub_text
from incidentbot.settings import Redaction

MAX_LINES = 200
MAX_LOG = 20
MAX_GREP_HITS = 60
_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


class ReadFile(BaseModel):
    """Read lines of a file tracked at the revision, numbered. At most 200 lines per call."""

    path: str = Field(description="Repository-relative path, e.g. shop/pricing.py")
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)


class BlameLines(BaseModel):
    """Who last changed each line of a range at the revision: commit, author name, date, code."""

    path: str
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)


class ShowCommit(BaseModel):
    """A commit's message, the files it changed and its diff (truncated)."""

    sha: str = Field(description="A full or abbreviated commit id (at least 7 hex digits)")


class PathLog(BaseModel):
    """The commits that changed a file, newest first, up to the revision; with a line range, only those that
    changed those lines (e.g. a function's range)."""

    path: str
    start_line: int | None = None
    end_line: int | None = None
    max_count: int = Field(10, ge=1, le=MAX_LOG)


class SearchCode(BaseModel):
    """Search the code at the revision for a fixed string (not a regex); returns path:line: text hits."""

    text: str = Field(min_length=2, max_length=200)
    path_glob: str | None = Field(None, description="Limit to paths matching this glob, e.g. '*.py' or 'shop/*'")


TOOL_MODELS: tuple[type[BaseModel], ...] = (ReadFile, BlameLines, ShowCommit, PathLog, SearchCode)


def tool_specs() -> list[Any]:
    """The tools as the chat-completions API takes them (strict JSON schemas from the models above)."""
    return [pydantic_function_tool(model) for model in TOOL_MODELS]


class RepoTools:
    def __init__(self, repo: RepoView, revision: str, redaction: Redaction, max_chars: int) -> None:
        self.repo = repo
        self.revision = revision
        self.redaction = redaction
        self.max_chars = max_chars
        self._handlers: dict[str, Callable[[Any], str]] = {
            "ReadFile": self.read_file,
            "BlameLines": self.blame,
            "ShowCommit": self.show_commit,
            "PathLog": self.log,
            "SearchCode": self.search,
        }

    def call(self, name: str, arguments: str) -> str:
        """Run one tool call; any problem comes back as the result text, never as an exception."""
        model = next((m for m in TOOL_MODELS if m.__name__ == name), None)
        if model is None:
            return f"error: no tool named {name!r}; the tools are {', '.join(self._handlers)}"
        try:
            args = model.model_validate_json(arguments or "{}")
        except ValidationError as exc:
            return f"error: invalid arguments {arguments[:300]!r}: {exc.errors()[0]['msg']}"
        try:
            text = self._handlers[name](args)
        except ToolError as exc:
            text = f"error: {exc} (arguments: {args.model_dump_json()})"
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().splitlines()[-1:] or ["git failed"]
            text = f"error: {detail[0][:300]} (arguments: {args.model_dump_json()})"
        return self._cap(scrub_text(text, self.redaction)[0])

    def read_file(self, args: ReadFile) -> str:
        lines = self._lines(args.path)
        start, end = _range(args.start_line, args.end_line, len(lines))
        return "\n".join(f"{n:>5} | {lines[n - 1]}" for n in range(start, end + 1)) or "(empty range)"

    def blame(self, args: BlameLines) -> str:
        lines = self._lines(args.path)
        start, end = _range(args.start_line, args.end_line, len(lines))
        out = self.repo.git.blame("-w", "--date=short", "-L", f"{start},{end}", self.revision, "--", args.path)
        return str(out)  # "sha (Author Name date line) code": names, never e-mails (no -e)

    def show_commit(self, args: ShowCommit) -> str:
        sha = self._commit(args.sha)
        return str(self.repo.git.show("--stat", "--patch", "--format=commit %H%nAuthor: %an%nDate: %ad%n%n%B", sha))

    def log(self, args: PathLog) -> str:
        self._lines(args.path)
        fmt = "--format=%h %ad %an: %s"
        if args.start_line and args.end_line:
            start, end = _range(args.start_line, args.end_line, len(self._lines(args.path)))
            out = self.repo.git.log(
                fmt, "--date=short", "-s", f"-n{args.max_count}", f"-L{start},{end}:{args.path}", self.revision
            )
        else:
            out = self.repo.git.log(fmt, "--date=short", f"-n{args.max_count}", self.revision, "--", args.path)
        return str(out) or "(no commits)"

    def search(self, args: SearchCode) -> str:
        spec = args.path_glob or "."
        if spec.startswith(":") or ".." in spec.split("/") or spec.startswith("/"):
            raise ToolError("path_glob must be a plain repository-relative glob")
        try:
            out = str(self.repo.git.grep("-n", "-I", "-F", "-e", args.text, self.revision, "--", spec))
        except git.GitCommandError as exc:
            if exc.status == 1:  # no match
                return "(no matches)"
            raise
        hits = [line.removeprefix(f"{self.revision}:") for line in out.splitlines()]
        more = len(hits) - MAX_GREP_HITS
        return "\n".join(hits[:MAX_GREP_HITS]) + (f"\n… {more} more hits" if more > 0 else "")

    def _lines(self, path: str) -> tuple[str, ...]:
        lines = self.repo.read_lines(path.strip().removeprefix("./"), self.revision)
        if lines is None:
            raise ToolError(f"{path!r} is not a file tracked at revision {self.revision[:12]}")
        return lines

    def _commit(self, sha: str) -> str:
        if not _SHA.match(sha):
            raise ToolError(f"{sha!r} is not a commit id")
        resolved = self.repo.resolve(sha)
        if resolved is None or not self.repo.is_ancestor(resolved, self.revision):
            raise ToolError(f"no commit {sha} in the history of revision {self.revision[:12]}")
        return resolved

    def _cap(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return text[: self.max_chars] + f"\n… (cut at {self.max_chars} characters)"


class ToolError(Exception):
    """A tool cannot do what was asked; the message goes back to the model."""


def _range(start: int, end: int, length: int) -> tuple[int, int]:
    if length == 0:
        raise ToolError("the file is empty")
    if start > length:
        raise ToolError(f"start_line {start} is past the end of the file ({length} lines)")
    end = min(max(start, end), length, start + MAX_LINES - 1)
    return start, end
