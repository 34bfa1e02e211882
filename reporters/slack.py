"""Post an incident to Slack: one root message per incident, kept current, with recurrences in its thread.

slack-sdk does the wire work: ``chat.postMessage`` (the root, and replies with ``thread_ts``), ``chat.update``
(the root's state, count and last-seen) and ``users.lookupByEmail`` (owners to real mentions). Its built-in retry
handlers repeat a request after a connection error, a 429 (honouring Retry-After) or a 500/503.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Self

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import all_builtin_retry_handlers
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from incidentbot.errors import ReportError, Unavailable
from incidentbot.models import Delivery, Incident, Person, Report
from incidentbot.people import SLACK_USER_ID, Directory
from incidentbot.settings import Settings
from reporters.slack_blocks import (
    first_occurrence,
    owner_labels,
    recurrence_reply,
    regression_reply,
    resolved_reply,
    root_message,
)

log = logging.getLogger(__name__)

LOOKUP_TTL_SECONDS = 24 * 3600
HISTORY_LIMIT = 200  # recent messages searched for an incident's root when the store does not know it
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
# What to do about each Slack error, by its code (https://docs.slack.dev/reference/methods/chat.postMessage).
_FIXES = {
    "not_in_channel": "invite the bot to {channel} (/invite @your-bot in the channel)",
    "channel_not_found": "set SLACK_CHANNEL to a channel ID (C…) or name the bot can see",
    "is_archived": "unarchive {channel} or set SLACK_CHANNEL to another channel",
    "invalid_auth": "set SLACK_BOT_TOKEN to a valid bot token (xoxb-…)",
    "not_authed": "set SLACK_BOT_TOKEN to a valid bot token (xoxb-…)",
    "token_revoked": "the token was revoked: install the app again and set SLACK_BOT_TOKEN",
    "account_inactive": "the token's app or user is deactivated: set SLACK_BOT_TOKEN to an active bot token",
    "missing_scope": "add the bot scope {needed} to the Slack app and reinstall it",
    "ratelimited": "Slack kept rate-limiting after retries; the post is kept for `incidentbot retry`",
}


# Errors of conversations.history that will not go away by themselves: looking for lost threads is then off
# for the life of the process (a lost store may then make a second thread). Any other error is retried.
_HISTORY_FOR_GOOD = {
    "missing_scope": "add the channels:history scope (groups:history for a private channel) to find threads again",
    "not_allowed_token_type": "use a bot token (xoxb-…) to find threads again",
    "no_permission": "give the bot access to the channel's history to find threads again",
    "not_in_channel": "invite the bot to the channel to find threads again",
    "channel_not_found": "set SLACK_CHANNEL to a channel the bot can see",
}


class SlackReporter:
    name = "slack"

    def __init__(
        self,
        client: WebClient,
        channel: str,
        directory: Directory,
        reply_interval: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.client = client
        self.channel = channel
        self.directory = directory
        self.reply_interval = reply_interval
        self.clock = clock
        self._lookups: dict[str, tuple[float, str | None]] = {}
        self._lookups_allowed = True
        self._history_allowed = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if settings.slack_bot_token is None or not settings.slack_channel:
            raise Unavailable("Slack needs SLACK_BOT_TOKEN and SLACK_CHANNEL")
        client = WebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=_with_slash(settings.slack_api_url),
            timeout=15,
            # Connection errors, 429 with Retry-After, and Slack's 500/503 (twice): all slack-sdk's own handlers.
            retry_handlers=[*all_builtin_retry_handlers(), ServerErrorRetryHandler(max_retry_count=2)],
        )
        interval = timedelta(minutes=settings.slack_reply_minutes)
        return cls(client, settings.slack_channel, Directory.from_settings(settings), interval)

    @staticmethod
    def preview(report: Report, settings: Settings) -> str:
        """The root message's JSON, as chat.postMessage would receive it (mentions from the explicit map only)."""
        directory = Directory.from_settings(settings)
        message = root_message(
            report, first_occurrence(report), owner_labels(report.evidence.owners, directory), _now()
        )
        return json.dumps(message, indent=2, ensure_ascii=False)

    # posting

    def post(self, report: Report, incident: Incident, previous: Delivery | None) -> Delivery:
        """The first post of an incident, or an update of its root message and thread."""
        now = self.clock()
        try:
            if previous is None:
                found = self._find_root(incident.fingerprint, now)
                if found is None:
                    return self._post_root(report, incident, now)
                previous = found
            return self._update(report, incident, previous, now)
        except SlackApiError as exc:
            raise self._error(exc) from exc
        except SlackClientError as exc:
            raise ReportError(f"Slack: {exc}", "check INCIDENTBOT_SLACK_API_URL and the network") from exc

    def _find_root(self, fingerprint: str, now: datetime) -> Delivery | None:
        """The incident's root message among the channel's recent messages, by its metadata: what a lost (or
        never kept, as in a scheduled GitHub workflow) store forgot. Needs channels:history; without it, None."""
        if not self._history_allowed:
            return None
        try:
            channel = self._channel_id()
            if channel is None:
                return None
            history = self.client.conversations_history(channel=channel, limit=HISTORY_LIMIT, include_all_metadata=True)
        except SlackApiError as exc:
            code = str(exc.response.get("error", "unknown_error"))
            if code not in _HISTORY_FOR_GOOD:
                # Slack is down or busy: posting now could make a second thread, so the post waits for a retry.
                raise ReportError(
                    f"Slack: cannot look for the incident's thread in the channel's history ({code})",
                    "the post is kept and tried again when Slack answers",
                ) from exc
            log.warning("slack: cannot read the channel's history (%s); %s", code, _HISTORY_FOR_GOOD[code])
            self._history_allowed = False
            return None
        for message in history.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == "incidentbot_incident" and payload.get("fingerprint") == fingerprint:
                ts = str(message["ts"])
                posted = datetime.fromtimestamp(float(ts), tz=UTC)  # a Slack ts is the post's epoch time
                return Delivery(self.name, fingerprint, f"{channel}/{ts}", None, posted, posted, 0, "open")
        return None

    def _channel_id(self) -> str | None:
        """SLACK_CHANNEL as an ID: given as one, or looked up by name (channels:read)."""
        if SLACK_CHANNEL_ID.match(self.channel):
            return self.channel
        name = self.channel.lstrip("#")
        for page in self.client.conversations_list(types="public_channel,private_channel", limit=1000):
            for channel in page.get("channels") or []:
                if channel.get("name") == name:
                    return str(channel["id"])
        return None

    def _post_root(self, report: Report, incident: Incident, now: datetime) -> Delivery:
        message = root_message(report, incident, self._owners(report), now)
        response = self.client.chat_postMessage(
            channel=self.channel,
            unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": "incidentbot_incident", "event_payload": {"fingerprint": incident.fingerprint}},
            **message,
        )
        channel, ts = str(response["channel"]), str(response["ts"])
        log.info("slack: posted incident %s as %s/%s", incident.fingerprint[:12], channel, ts)
        return Delivery(
            reporter=self.name,
            fingerprint=incident.fingerprint,
            external_id=f"{channel}/{ts}",
            url=None,
            posted_at=now,
            updated_at=now,
            reported_count=incident.count,
            state=incident.state,
        )

    def _update(self, report: Report, incident: Incident, previous: Delivery, now: datetime) -> Delivery:
        channel, ts = previous.external_id.split("/", 1)
        self._update_root(report, incident, channel, ts)
        if incident.state != previous.state:
            if incident.state == "regressed":
                # A regression is called out in the channel, not only in the thread.
                reply = regression_reply(incident)
                self.client.chat_postMessage(channel=channel, thread_ts=ts, reply_broadcast=True, **reply)
            elif incident.state == "resolved":
                self.client.chat_postMessage(channel=channel, thread_ts=ts, **resolved_reply(incident))
            return replace(previous, state=incident.state, updated_at=now, reported_count=incident.count)
        if incident.count > previous.reported_count and now - previous.updated_at >= self.reply_interval:
            reply = recurrence_reply(incident, previous.reported_count, previous.updated_at)
            self.client.chat_postMessage(channel=channel, thread_ts=ts, **reply)
            return replace(previous, updated_at=now, reported_count=incident.count)
        return previous

    def _update_root(self, report: Report, incident: Incident, channel: str, ts: str) -> None:
        message = root_message(report, incident, self._owners(report), self.clock())
        self.client.chat_update(channel=channel, ts=ts, **message)

    # identities

    def _owners(self, report: Report) -> list[str]:
        return owner_labels(report.evidence.owners, self.directory, self.slack_user)

    def slack_user(self, person: Person) -> str | None:
        """The Slack user ID for a person: the explicit map, else ``users.lookupByEmail`` (cached a day)."""
        mapped = self.directory.slack_user(person.email)
        if mapped or not person.email or not self._lookups_allowed:
            return mapped
        key = person.email.lower()
        cached = self._lookups.get(key)
        if cached and time.monotonic() - cached[0] < LOOKUP_TTL_SECONDS:
            return cached[1]
        found: str | None = None
        try:
            user = self.client.users_lookupByEmail(email=person.email).get("user") or {}
            candidate = str(user.get("id", ""))
            found = candidate if SLACK_USER_ID.match(candidate) and not user.get("deleted") else None
        except SlackApiError as exc:
            if exc.response.get("error") in ("missing_scope", "not_allowed_token_type", "no_permission"):
                log.warning("slack: cannot look up users by e-mail (%s); add the users:read.email scope", exc)
                self._lookups_allowed = False
                return None
            if exc.response.get("error") != "users_not_found":
                raise
        self._lookups[key] = (time.monotonic(), found)
        return found

    def _error(self, exc: SlackApiError) -> ReportError:
        code = str(exc.response.get("error", "unknown_error"))
        needed = str(exc.response.get("needed", "chat:write"))
        fix = _FIXES.get(code, "see https://docs.slack.dev/reference/methods/chat.postMessage#errors")
        return ReportError(f"Slack: {code}", fix.format(channel=self.channel, needed=needed))


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _now() -> datetime:
    return datetime.now(tz=UTC)
