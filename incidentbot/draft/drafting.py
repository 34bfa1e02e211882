"""Drafting: the deterministic report always, and the LLM agent's analysis beside it when one is configured.

Never blocking: without an LLM, or when the endpoint still fails after the client's retries, or the answer is
invalid, the report is the deterministic one and ``analysis_note`` says why there is no analysis. An analysis
is cached by fingerprint, revision, model and prompts, so a repeated incident costs no new call.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache

from incidentbot.draft.template import draft_report
from incidentbot.errors import DraftError
from incidentbot.models import Evidence, Report, Usage
from incidentbot.repo import RepoView
from incidentbot.settings import Settings

log = logging.getLogger(__name__)

AGENT_TEMPLATES = ("agent_system.md.j2", "agent_context.md.j2", "agent_final.md.j2")


def llm_wanted(settings: Settings) -> bool:
    return settings.use_llm if settings.use_llm is not None else settings.llm_configured


def draft(evidence: Evidence, settings: Settings, repo: RepoView) -> Report:
    if not llm_wanted(settings):
        if settings.use_llm is False:
            return draft_report(evidence, analysis_note="turned off (--no-llm)")
        return draft_report(evidence, analysis_note="no LLM configured: set OPENAI_API_KEY or OPENAI_BASE_URL")
    key = cache_key(evidence, settings.model)
    store = _store(settings)
    cached = store.cached_analysis(key) if store else None
    if cached is not None:
        return draft_report(evidence, analysis=cached, usage=Usage(cached=True))
    from incidentbot.draft.agent import Agent  # the openai client is imported only when used

    try:
        analysis, usage = Agent.from_settings(settings, repo).analyse(evidence)
    except DraftError as exc:
        log.warning("analysis unavailable: %s", exc.one_line())
        return draft_report(evidence, analysis_note=exc.one_line(), usage=getattr(exc, "usage", None))
    if store:
        store.cache_analysis(key, analysis)
    return draft_report(evidence, analysis=analysis, usage=usage)


def cache_key(evidence: Evidence, model: str) -> str:
    parts = [evidence.fingerprint, evidence.revision or "", model, _prompts_version()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@lru_cache(maxsize=1)
def _prompts_version() -> str:
    """A change to the agent's prompts invalidates the cache."""
    from incidentbot.prompting import template_dirs  # Jinja2 is loaded only where an LLM is used

    digest = hashlib.sha256()
    for name in AGENT_TEMPLATES:
        for folder in template_dirs():
            if (folder / name).is_file():
                digest.update((folder / name).read_bytes())
                break
    return digest.hexdigest()[:16]


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    from incidentbot.store import optional_store

    return optional_store(settings.effective_database_url)  # None: no analysis cache (the failure is logged)
