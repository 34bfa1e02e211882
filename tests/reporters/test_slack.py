"""The Slack reporter through the real slack-sdk client against a local Slack Web API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidentbot import settings
from incidentbot.service.deliver import deliver, publishers_for, retry_pending
from incidentbot.store import open_store
from tests.fakes.server import Response
from tests.fakes.slack_api import FakeSlack
from tests.linkers.history import ShopHistory
from tests.reporters.conftest import triaged

NOW = datetime(2024, 4, 12, 10, tzinfo=UTC)
HOSTILE = "<!channel> <!here> <!everyone> <@U999> <https://evil.example|click> *bold* `tick` \u202ereversed"


def _post(shop: ShopHistory, seen_at: datetime = NOW, message: str = "division by zero") -> list:  # type: ignore[type-arg]
    conf = settings.load()
    store = open_store(conf.effective_database_url)
    return deliver(triaged(shop, message), publishers_for(conf, ["slack"]), store, seen_at, 5)


def _texts(payload: object) -> list[str]:
    """Every text string in a Block Kit payload."""
    if isinstance(payload, dict):
        return [
            t
            for key, value in payload.items()
            for t in ([value] if key == "text" and isinstance(value, str) else _texts(value))
        ]
    if isinstance(payload, list):
        return [t for item in payload for t in _texts(item)]
    return []


@pytest.mark.usefixtures("destinations_env")
def test_first_post_is_one_root_message_with_the_facts(slack: FakeSlack, shop: ShopHistory) -> None:
    outcomes = _post(shop)
    assert [o.action for o in outcomes] == ["posted"]
    [root] = slack.roots()
    sent = root.payload
    assert sent["channel"] == "#alerts" and root.channel == "C0ALERTS"
    assert sent["unfurl_links"] is False and sent["unfurl_media"] is False
    assert sent["metadata"]["event_payload"]["fingerprint"]
    blocks = sent["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "ZeroDivisionError: division by zero in apply_discount", "emoji": False},
    }
    texts = "\n".join(_texts(blocks))
    assert "*:red_circle: Open* · 1 event" in texts
    where = "<https://github.com/acme/shop/blob/" + shop.release + "/shop/pricing.py#L"
    assert where in texts and "in `apply_discount`" in texts
    assert f"<https://github.com/acme/shop/commit/{shop.culprit}|`{shop.culprit[:7]}`> by Bob Builder" in texts
    assert "• last changed the failing line shop/pricing.py" in texts
    # Bob was found through users.lookupByEmail: a real mention. Nobody's e-mail reaches Slack.
    assert "<@UBOB123>" in texts
    assert slack.lookups() == ["bob@example.com"]
    assert "@example.com" not in json.dumps(sent)
    assert "shop/pricing.py" in texts and "```" in texts


@pytest.mark.usefixtures("destinations_env")
def test_recurrence_replies_in_the_thread_and_updates_the_root(slack: FakeSlack, shop: ShopHistory) -> None:
    _post(shop, NOW)
    outcomes = _post(shop, NOW + timedelta(minutes=5))
    assert [o.action for o in outcomes] == ["updated"]
    [root] = slack.roots()
    [reply] = slack.replies(root)
    assert reply.payload["thread_ts"] == root.ts and reply.payload["channel"] == "C0ALERTS"
    assert reply.payload["text"].startswith("Seen 1 more time since <!date^")
    assert "(2 in all)" in reply.payload["text"]
    [update] = root.updates
    assert update["ts"] == root.ts and update["channel"] == "C0ALERTS"
    assert "· 2 events ·" in "\n".join(_texts(update["blocks"]))


def test_replies_wait_for_the_interval_but_the_count_stays_current(
    destinations_env: dict[str, str], slack: FakeSlack, shop: ShopHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCIDENTBOT_SLACK_REPLY_MINUTES", "60")
    for minute in range(3):
        _post(shop, NOW + timedelta(minutes=minute))
    [root] = slack.roots()
    assert slack.replies(root) == []
    assert "· 3 events ·" in "\n".join(_texts(root.updates[-1]["blocks"]))


@pytest.mark.usefixtures("destinations_env")
def test_rate_limits_and_server_errors_are_retried_by_slack_sdk(slack: FakeSlack, shop: ShopHistory) -> None:
    slack.fail_next(
        "POST", "chat.postMessage", Response(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    )
    slack.fail_next("POST", "chat.update", Response(503, {"ok": False, "error": "service_unavailable"}))
    _post(shop)
    _post(shop, NOW + timedelta(minutes=1))
    assert len(slack.calls("POST", "chat.postMessage")) == 3  # 429, the root, the thread reply
    assert len(slack.roots()) == 1
    assert len(slack.calls("POST", "chat.update")) == 2  # 503, then the update


@pytest.mark.usefixtures("destinations_env")
def test_trace_text_cannot_mention_link_or_format(slack: FakeSlack, shop: ShopHistory) -> None:
    _post(shop, message=HOSTILE)
    sent = json.dumps(slack.roots()[0].payload, ensure_ascii=False)
    for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U999>", "<https://evil", "\u202e"):
        assert raw not in sent
    assert "&lt;!channel&gt;" in sent
    # The only mentions and links are the ones incidentbot made: its lookups, dates and GitHub links.
    for made in re.findall(r"<([^>]*)>", "\n".join(_texts(slack.roots()[0].payload))):
        assert re.match(r"(@UBOB123|!date\^\d+\^|https://github\.com/acme/shop/)", made), made


@pytest.mark.usefixtures("destinations_env")
def test_a_missing_lookup_scope_leaves_names_not_failures(slack: FakeSlack, shop: ShopHistory) -> None:
    slack.scopes.discard("users:read.email")
    assert [o.action for o in _post(shop)] == ["posted"]
    texts = "\n".join(_texts(slack.roots()[0].payload["blocks"]))
    assert "*Owners:* Bob Builder" in texts and "<@" not in texts


def test_explicit_owner_map_gives_mentions_without_lookups(
    destinations_env: dict[str, str],
    slack: FakeSlack,
    shop: ShopHistory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owners = tmp_path / "owners.toml"
    owners.write_text('[people."bob@example.com"]\nslack = "UMAPPED1"\ngithub = "bob-gh"\n')
    monkeypatch.setenv("INCIDENTBOT_OWNERS_FILE", str(owners))
    _post(shop)
    assert "<@UMAPPED1>" in "\n".join(_texts(slack.roots()[0].payload["blocks"]))
    assert slack.lookups() == []


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda s: s.not_member.add("C0ALERTS"), "Slack: not_in_channel — invite the bot to #alerts"),
        (lambda s: s.channels.clear(), "Slack: channel_not_found — set SLACK_CHANNEL"),
        (lambda s: s.scopes.discard("chat:write"), "Slack: missing_scope — add the bot scope chat:write"),
    ],
)
@pytest.mark.usefixtures("destinations_env")
def test_slack_errors_are_one_line_and_kept_for_retry(
    slack: FakeSlack, shop: ShopHistory, setup, expected: str
) -> None:  # type: ignore[no-untyped-def]
    setup(slack)
    [outcome] = _post(shop)
    assert outcome.action == "failed" and outcome.error.startswith(expected) and "\n" not in outcome.error
    store = open_store(settings.load().effective_database_url)
    assert [(p.reporter, p.attempts) for p in store.pending()] == [("slack", 1)]


@pytest.mark.usefixtures("destinations_env")
def test_lookups_are_cached_for_the_life_of_the_process(slack: FakeSlack, shop: ShopHistory) -> None:
    conf = settings.load()
    store = open_store(conf.effective_database_url)
    publishers = publishers_for(conf, ["slack"])  # as the daemon keeps them
    for minute in range(3):
        deliver(triaged(shop), publishers, store, NOW + timedelta(minutes=minute), 5)
    assert slack.lookups() == ["bob@example.com"]


@pytest.mark.usefixtures("destinations_env")
def test_a_fresh_store_finds_the_thread_by_its_metadata(
    slack: FakeSlack, shop: ShopHistory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _post(shop)
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")  # state lost
    [outcome] = _post(shop, NOW + timedelta(minutes=5))
    assert outcome.action == "updated"
    [root] = slack.roots()
    assert len(root.updates) == 1 and len(slack.replies(root)) == 1
    history = [r for r in slack.requests if r.path.endswith("conversations.history")]
    assert history and history[-1].body["channel"] == "C0ALERTS"  # "#alerts" resolved to its ID


@pytest.mark.usefixtures("destinations_env")
def test_a_passing_history_error_keeps_the_post_and_leaves_thread_recovery_on(
    slack: FakeSlack,
    shop: ShopHistory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conf = settings.load()
    store = open_store(conf.effective_database_url)
    publishers = publishers_for(conf, ["slack"])  # one process's reporter, as the daemon keeps it
    slack.fail_next("POST", "conversations.history", Response(200, {"ok": False, "error": "internal_error"}))
    [failed] = deliver(triaged(shop), publishers, store, NOW, 5)
    assert failed.action == "failed" and "internal_error" in (failed.error or "")
    assert slack.roots() == []  # no thread posted blind, when one may already exist
    assert "channels:history" not in caplog.text
    [posted] = retry_pending(store, publishers, 5)
    assert posted.action == "posted" and len(slack.roots()) == 1
    # Recovery is still on: a store lost later finds the thread instead of making a second one.
    fresh = open_store(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    [again] = deliver(triaged(shop), publishers, fresh, NOW + timedelta(minutes=5), 5)
    assert again.action == "updated" and len(slack.roots()) == 1


@pytest.mark.usefixtures("destinations_env")
def test_a_missing_history_scope_posts_and_names_the_scope(
    slack: FakeSlack, shop: ShopHistory, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail_next(
        "POST",
        "conversations.history",
        Response(200, {"ok": False, "error": "missing_scope", "needed": "channels:history"}),
    )
    [outcome] = _post(shop)
    assert outcome.action == "posted" and len(slack.roots()) == 1
    assert "add the channels:history scope" in caplog.text
