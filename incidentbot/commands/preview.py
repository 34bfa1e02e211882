"""What would be posted, without posting: `triage --format slack|github` and `triage --post … --dry-run`.

Previews resolve mentions only from the explicit identity map (no API lookups, no network) and never write
the store; a dry run reads it, when it exists, to say whether it would open a new post or update one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from incidentbot.models import Delivery, Report
from incidentbot.registry import reporter_class
from incidentbot.settings import Settings


def preview(report: Report, settings: Settings, destination: str) -> str:
    """The payload ``destination`` would receive for this report's first post."""
    return str(reporter_class(destination).preview(report, settings))


def dry_run_text(report: Report, settings: Settings, destinations: Sequence[str]) -> str:
    parts = []
    for name in destinations:
        parts.append(f"== {name}: {_plan(report, settings, name)} ==")
        parts.append(preview(report, settings, name))
    return "\n".join(parts)


def _plan(report: Report, settings: Settings, name: str) -> str:
    delivery = _known_delivery(settings, report.evidence.fingerprint, name)
    if delivery is None:
        where = settings.slack_channel if name == "slack" else settings.github_repository
        target = where or "(not configured)"
        return f"would post incident {report.evidence.fingerprint[:12]} for the first time to {target}"
    return f"would update {delivery.url or delivery.external_id} (posted {delivery.posted_at:%Y-%m-%d %H:%M} UTC)"


def _known_delivery(settings: Settings, fingerprint: str, name: str) -> Delivery | None:
    url = settings.effective_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    from incidentbot.store import open_store

    return open_store(url).delivery(fingerprint, name)
