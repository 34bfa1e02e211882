"""A Slack Web API on 127.0.0.1: chat.postMessage, chat.update, users.lookupByEmail, with Slack's wire format.

Like Slack it answers HTTP 200 with ``{"ok": false, "error": …}`` for API errors, 429 with Retry-After for rate
limits, and accepts a channel by ID or by name.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

GOOD_TOKEN = "xoxb-test-token"


@dataclass
class Message:
    channel: str
    ts: str
    payload: dict[str, Any]
    thread_ts: str | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)


class FakeSlack(FakeServer):
    def __init__(self, channels: dict[str, str] | None = None, users: dict[str, str] | None = None) -> None:
        super().__init__()
        self.channels = channels or {"alerts": "C0ALERTS"}  # name → ID the bot is a member of
        self.users = users or {}  # e-mail → user ID
        self.not_member: set[str] = set()
        self.scopes = {"chat:write", "users:read", "users:read.email", "channels:history", "channels:read"}
        self.messages: list[Message] = []
        self._ts = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def roots(self) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is None]

    def replies(self, root: Message) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == root.ts]

    def lookups(self) -> list[str]:
        """The e-mails asked of users.lookupByEmail, in order."""
        return [_args(r)["email"] for r in self.requests if r.path.endswith("users.lookupByEmail")]

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {GOOD_TOKEN}":
            return _error("invalid_auth")
        method = request.path.removeprefix("/api/")
        args = _args(request)
        if method == "chat.postMessage":
            return self._post(args)
        if method == "chat.update":
            return self._update(args)
        if method == "users.lookupByEmail":
            return self._lookup(args)
        if method == "conversations.history":
            return self._history(args)
        if method == "conversations.list":
            channels = [{"id": cid, "name": name} for name, cid in self.channels.items()]
            return Response(body={"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}})
        if method == "auth.test":
            return Response(
                body={"ok": True, "user_id": "UBOT", "team": "Acme", "user": "incidentbot"},
                headers={"x-oauth-scopes": ",".join(sorted(self.scopes))},
            )
        if method == "conversations.info":
            return self._info(args)
        return _error("unknown_method")

    def _channel(self, given: str) -> str | Response:
        name = given.lstrip("#")
        channel = self.channels.get(name) or (given if given in self.channels.values() else None)
        if channel is None:
            return _error("channel_not_found")
        if channel in self.not_member:
            return _error("not_in_channel")
        return channel

    def _post(self, args: dict[str, Any]) -> Response:
        if "chat:write" not in self.scopes:
            return _error("missing_scope", needed="chat:write")
        channel = self._channel(str(args.get("channel", "")))
        if isinstance(channel, Response):
            return channel
        ts = f"17000000{next(self._ts):02d}.000100"
        thread = args.get("thread_ts")
        if thread is not None and not any(m.ts == thread and m.thread_ts is None for m in self.messages):
            return _error("thread_not_found")
        self.messages.append(Message(channel, ts, args, thread))
        return Response(body={"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text")}})

    def _history(self, args: dict[str, Any]) -> Response:
        if "channels:history" not in self.scopes:
            return _error("missing_scope", needed="channels:history")
        channel = args.get("channel")
        found = [m for m in reversed(self.messages) if m.channel == channel and m.thread_ts is None]
        limit = int(args.get("limit", 100))
        messages = [
            {
                "ts": m.ts,
                "text": m.payload.get("text"),
                **({"metadata": m.payload["metadata"]} if "metadata" in m.payload else {}),
            }
            for m in found[:limit]
        ]
        return Response(body={"ok": True, "messages": messages, "has_more": len(found) > limit})

    def _info(self, args: dict[str, Any]) -> Response:
        channel = str(args.get("channel", ""))
        if channel not in self.channels.values():
            return _error("channel_not_found")
        name = next(n for n, c in self.channels.items() if c == channel)
        return Response(
            body={"ok": True, "channel": {"id": channel, "name": name, "is_member": channel not in self.not_member}}
        )

    def _update(self, args: dict[str, Any]) -> Response:
        for message in self.messages:
            if message.channel == args.get("channel") and message.ts == args.get("ts"):
                message.updates.append(args)
                return Response(body={"ok": True, "channel": message.channel, "ts": message.ts})
        return _error("message_not_found")

    def _lookup(self, args: dict[str, Any]) -> Response:
        if "users:read.email" not in self.scopes:
            return _error("missing_scope", needed="users:read.email")
        user = self.users.get(str(args.get("email", "")).lower())
        if user is None:
            return _error("users_not_found")
        return Response(body={"ok": True, "user": {"id": user, "deleted": False, "name": user.lower()}})


def _args(request: Request) -> dict[str, Any]:
    return {**request.query, **(request.body if isinstance(request.body, dict) else {})}


def _error(code: str, **extra: str) -> Response:
    return Response(body={"ok": False, "error": code, **extra})
