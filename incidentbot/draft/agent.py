"""The drafting agent: an LLM reads the redacted evidence, checks the code through read-only tools, and answers
with a structured analysis that the repository then confirms.

Any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Ollama…) through the openai client, whose own
retries and timeouts apply. A budget bounds the loop (steps, tokens, wall time); when it runs out, the last
call offers no tools, so the model answers with what it has. Whatever fails, the caller falls back to the
deterministic report (``draft_with_fallback``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import openai
from openai import OpenAI

from incidentbot.draft.answer import Answer, answer_schema, grounded, parse_answer
from incidentbot.draft.tools import RepoTools, tool_specs
from incidentbot.errors import DraftError
from incidentbot.models import Analysis, Evidence, Usage
from incidentbot.prompting import environment
from incidentbot.render_safe import md_block
from incidentbot.repo import RepoView
from incidentbot.scrub import scrub_text
from incidentbot.settings import Llm, Settings

log = logging.getLogger(__name__)

FINAL_ANSWER_TOKENS = 1_500
MAX_FRAMES = 12


@dataclass
class _Budget:
    limits: Llm
    started: float
    clock: Callable[[], float]
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    notes: list[str] = field(default_factory=list)

    def remaining_seconds(self) -> float:
        return self.limits.max_seconds - (self.clock() - self.started)

    def must_answer_now(self) -> bool:
        """The next call is the last one: no tools, so the model answers with what it has."""
        return (
            self.calls >= self.limits.max_steps - 1
            or self.input_tokens >= 0.8 * self.limits.max_input_tokens
            or self.output_tokens >= self.limits.max_output_tokens - FINAL_ANSWER_TOKENS
            or self.remaining_seconds() < 0.3 * self.limits.max_seconds
        )

    def spent(self) -> bool:
        return self.remaining_seconds() <= 0 or self.calls >= self.limits.max_steps + 1

    def count(self, response: Any) -> None:
        self.calls += 1
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.input_tokens += int(usage.prompt_tokens or 0)
            self.output_tokens += int(usage.completion_tokens or 0)


class Agent:
    def __init__(self, client: OpenAI, settings: Settings, repo: RepoView, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.settings = settings
        self.limits = settings.llm
        self.model = settings.model
        self.repo = repo
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, repo: RepoView) -> Agent:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
        client = OpenAI(
            api_key=key,  # local servers (Ollama, vLLM) accept any key
            base_url=settings.openai_base_url or None,
            timeout=settings.llm.request_timeout,
            max_retries=settings.llm.max_retries,
        )
        return cls(client, settings, repo)

    def analyse(self, evidence: Evidence) -> tuple[Analysis, Usage]:
        """Run the loop; DraftError (with the usage so far in ``usage``) when there is no valid answer."""
        if not evidence.revision:
            raise DraftError("no revision to read the code at", "the deterministic report stands")
        budget = _Budget(self.limits, self.clock(), self.clock)
        tools = RepoTools(self.repo, evidence.revision, self.settings.redaction, self.limits.tool_output_chars)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": _render("agent_system.md.j2", revision=evidence.revision)},
            {"role": "user", "content": self._context(evidence)},
        ]
        try:
            answer = self._loop(messages, tools, budget, evidence)
        except DraftError as exc:
            exc.usage = self._usage(budget)  # type: ignore[attr-defined]
            raise
        return self._redacted(grounded(answer, evidence, self.repo, self.model)), self._usage(budget)

    def _redacted(self, analysis: Analysis) -> Analysis:
        """The model's prose is redacted like the trace: a model can repeat, or make up, something secret."""

        def clean(text: str) -> str:
            return scrub_text(text, self.settings.redaction)[0]

        return replace(
            analysis,
            summary=clean(analysis.summary),
            root_cause=clean(analysis.root_cause),
            suggested_fix=clean(analysis.suggested_fix),
            fix_diff=clean(analysis.fix_diff) if analysis.fix_diff else None,
        )

    def _loop(self, messages: list[dict[str, Any]], tools: RepoTools, budget: _Budget, evidence: Evidence) -> Answer:
        while True:
            if budget.spent():
                raise DraftError("the agent's budget ran out before it answered", "raise llm.max_seconds or max_steps")
            if budget.must_answer_now():
                messages.append({"role": "user", "content": _final_instructions(evidence, forced=True)})
                return self._final_answer(messages, budget)
            response = self._call(messages, budget, with_tools=True)
            message = response.choices[0].message
            if not message.tool_calls:
                try:
                    return parse_answer(message.content)
                except DraftError as exc:  # answered without being asked the format: ask once, properly
                    messages.append({"role": "assistant", "content": message.content or ""})
                    final = _final_instructions(evidence, forced=False)
                    messages.append({"role": "user", "content": f"{exc.message}.\n\n{final}"})
                    return self._final_answer(messages, budget)
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                result = tools.call(call.function.name, call.function.arguments)
                log.info("agent tool %s(%s) → %d chars", call.function.name, call.function.arguments[:120], len(result))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": _untrusted(result)})

    def _final_answer(self, messages: list[dict[str, Any]], budget: _Budget) -> Answer:
        """A call without tools whose reply must be the answer; one more try when it is not valid."""
        response = self._call(messages, budget, with_tools=False)
        content = response.choices[0].message.content
        try:
            return parse_answer(content)
        except DraftError as exc:
            if budget.calls > self.limits.max_steps:
                raise
            messages.append({"role": "assistant", "content": content or ""})
            messages.append({"role": "user", "content": f"{exc.message}. Answer again with the JSON object only."})
            return parse_answer(self._call(messages, budget, with_tools=False).choices[0].message.content)

    def _call(self, messages: list[dict[str, Any]], budget: _Budget, with_tools: bool) -> Any:
        remaining = budget.remaining_seconds()
        if remaining <= 0:
            raise DraftError("the agent's time budget ran out", "raise llm.max_seconds")
        options: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max(256, min(FINAL_ANSWER_TOKENS, self.limits.max_output_tokens - budget.output_tokens)),
        }
        if with_tools:
            options["tools"] = tool_specs()
        try:
            response = self.client.with_options(
                timeout=min(self.limits.request_timeout, remaining)
            ).chat.completions.create(**options)
        except openai.APITimeoutError as exc:
            raise DraftError(
                "the LLM endpoint timed out", "check OPENAI_BASE_URL or raise llm.request_timeout"
            ) from exc
        except openai.APIStatusError as exc:
            raise DraftError(
                f"the LLM endpoint answered {exc.status_code}: {_short(exc.message)}",
                "check OPENAI_API_KEY, OPENAI_BASE_URL and INCIDENTBOT_MODEL",
            ) from exc
        except openai.APIConnectionError as exc:
            raise DraftError(f"cannot reach the LLM endpoint: {exc}", "check OPENAI_BASE_URL and the network") from exc
        budget.count(response)
        if not getattr(response, "choices", None):
            raise DraftError("the LLM endpoint returned no choices", "check that it speaks chat completions")
        return response

    def _context(self, evidence: Evidence) -> str:
        trace = evidence.trace
        exceptions = "\n".join(f"{e.type}: {e.value}".rstrip(": ") for e in trace.exceptions)
        frames = [f for e in trace.exceptions for f in e.frames if f.in_app][-MAX_FRAMES:]
        frames_text = "\n".join(
            f"{f.repo_path or f.filename}:{f.repo_line or f.lineno or '?'} in {f.function or '?'}"
            + (f"\n    {f.context_line.strip()}" if f.context_line else "")
            for f in frames
        )
        location = evidence.location
        excerpt = ""
        if location and location.excerpt:
            excerpt = "\n".join(f"{location.excerpt_start + i:>5} | {text}" for i, text in enumerate(location.excerpt))
        suspects = [
            {
                "sha": s.sha,
                "score": s.score,
                "committed_at": s.committed_at,
                "author_name": s.author.name or "unknown",
                "reasons": s.reasons,
                "diff": self._diff(s.sha),
            }
            for s in evidence.suspects
        ]
        owners = [
            o.team or (o.person and (o.person.github_login or o.person.name)) or "unknown" for o in evidence.owners
        ]
        text = _render(
            "agent_context.md.j2",
            fingerprint=evidence.fingerprint,
            revision=evidence.revision,
            exception_text=exceptions,
            location=location,
            excerpt=excerpt,
            frames_text=frames_text,
            suspects=suspects,
            owners=owners,
            seen_before=[
                {
                    "issue": seen.incident.issue_number,
                    "reason": seen.reason,
                    "fix": seen.incident.fix_sha,
                    "fix_summary": seen.incident.fix_summary or "",
                    "fixed_by": seen.incident.fixed_by or "unknown",
                }
                for seen in evidence.seen_before
            ],
        )
        return scrub_text(text, self.settings.redaction)[0]

    def _diff(self, sha: str) -> str:
        try:
            out = str(self.repo.git.show("--format=%B", "--patch", "--stat", sha))
        except Exception:  # noqa: BLE001 - a diff we cannot show is left out, not fatal
            return "(diff unavailable)"
        cap = self.limits.diff_chars
        return out if len(out) <= cap else out[:cap] + f"\n… (cut at {cap} characters)"

    def _usage(self, budget: _Budget) -> Usage:
        price = self.limits.prices.get(self.model)
        cost = None
        if price is not None:
            cost = round((budget.input_tokens * price.input + budget.output_tokens * price.output) / 1_000_000, 6)
        return Usage(budget.calls, budget.input_tokens, budget.output_tokens, cost)


def _render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


def _final_instructions(evidence: Evidence, forced: bool) -> str:
    return _render(
        "agent_final.md.j2",
        forced=forced,
        schema=answer_schema(),
        revision=evidence.revision,
        suspects=[s.sha[:12] for s in evidence.suspects],
    )


def _untrusted(result: str) -> str:
    """A tool result, fenced and marked as data for the model."""
    return "Tool result (untrusted):\n" + md_block(result)


def _short(text: str) -> str:
    return " ".join(str(text).split())[:200]
