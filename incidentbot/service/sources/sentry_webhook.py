"""Sentry integration-platform webhooks: verify the signature, then turn the payload into a queued item.

The signature is HMAC-SHA256 of the raw body keyed with the integration's client secret, hex, in
``Sentry-Hook-Signature``; a request whose signature does not match, or whose ``Sentry-Hook-Timestamp`` is more
than five minutes away (a replay), is rejected and logged, and nothing in it is processed.

Handled: ``issue`` (``created``, and ``unresolved`` with substatus ``regressed``) as a reference to fetch the
issue's latest event through the API; ``error`` and ``event_alert``, which carry the event itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

REPLAY_WINDOW_SECONDS = 300
FETCH_KEY = "incidentbot_fetch_issue"  # a queued item that names an issue whose latest event is to be fetched


@dataclass(frozen=True, slots=True)
class WebhookItem:
    source_event_id: str
    payload: str


def signature_ok(
    secret: str, body: bytes, signature: str | None, timestamp: str | None, now: float | None = None
) -> bool:
    if not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip()):
        return False
    if timestamp:
        try:
            sent = float(timestamp)
        except ValueError:
            return False
        if abs((now or time.time()) - sent) > REPLAY_WINDOW_SECONDS:
            return False
    return True


def item_for(resource: str, payload: dict[str, Any]) -> WebhookItem | None:
    """The queue item for a verified webhook, or None for one incidentbot does not act on."""
    action = payload.get("action")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    assert isinstance(data, dict)
    if resource == "issue":
        issue = data.get("issue") if isinstance(data.get("issue"), dict) else None
        if not issue or not issue.get("id"):
            return None
        regressed = action == "unresolved" and issue.get("substatus") == "regressed"
        if action != "created" and not regressed:
            return None
        reference = {FETCH_KEY: str(issue["id"]), "permalink": issue.get("web_url") or issue.get("permalink")}
        return WebhookItem(f"issue:{issue['id']}:{action}:{issue.get('lastSeen', '')}", json.dumps(reference))
    if resource in ("error", "event_alert"):
        event = data.get("error") if resource == "error" else data.get("event")
        if not isinstance(event, dict):
            return None
        event_id = event.get("event_id") or event.get("eventID") or event.get("id")
        return WebhookItem(str(event_id or hashlib.sha256(json.dumps(event).encode()).hexdigest()), json.dumps(event))
    return None
