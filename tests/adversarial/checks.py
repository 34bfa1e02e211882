"""What must hold for every adversarial case, in every format (cases.py says which cases ask for more)."""

from __future__ import annotations

import json
import re
import traceback
from typing import Any

from tests.adversarial.cases import Case
from tests.adversarial.conftest import HOME_CANARY, OUTSIDE_CANARY, PASSWD_MARK, Run

FORMATS = ("json", "markdown", "slack", "github", "console")
CANARIES = (OUTSIDE_CANARY, HOME_CANARY, PASSWD_MARK)
#: Characters that hide or reorder text (bidi controls, zero-width, tag characters): never in a rendered output.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\u2028\u2029\u061c\ufeff\U000e0000-\U000e007f]")
#: The only Slack control sequences incidentbot itself writes: localised dates with a plain fallback, and the
#: link to the GitHub issue it opened (the URL comes from GitHub's answer).
SLACK_OWN = re.compile(
    r"!date\^\d+\^\{date_short_pretty\} \{time\}\|[0-9: \-UTC]+"
    r"|https://github\.com/acme/shop/issues/\d+\|GitHub issue #\d+"
)
SLACK_LIMITS = {"blocks": 50, "section": 3000, "header": 150, "text": 40_000}
#: What Slack makes live outside code in mrkdwn (a link, a broadcast shown as one), and in the plain-text header.
SLACK_LIVE = re.compile(r"[a-z][a-z0-9+.\-]*://|\bwww\.|@(?:here|channel|everyone)\b", re.IGNORECASE)
#: A bare domain, which Slack links in mrkdwn prose too (a repository path's file name, after a slash, is no host).
SLACK_DOMAIN = re.compile(r"(?<![/\w.\-])[A-Za-z0-9\-]{1,63}\.[A-Za-z]{2,}")
#: Mentions incidentbot writes on purpose: the owners that the target's CODEOWNERS names, and the login that
#: git gives for a suspect's author (Carol commits with a GitHub noreply address).
ALLOWED_MENTIONS = {"@acme/core", "@acme/payments", "@acme/frontend", "@carol-gh"}
GITHUB_TITLE, GITHUB_BODY = 256, 65_536


def check_run(case: Case, fmt: str, run: Run) -> None:
    assert run.exception is None, "".join(traceback.format_exception(run.exception))
    assert run.exit_code in (0, 2), f"exit {run.exit_code}: {run.stderr[-500:]}"
    assert "Traceback (most recent call last)" not in run.stderr
    if case.expect == "report":
        assert run.exit_code == 0, run.stderr
    elif case.expect == "error":
        assert run.exit_code == 2, run.stdout[:500]
    if run.exit_code == 2:
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and " — " in lines[0], run.stderr[:500]
        assert run.stdout == ""
    check_leaks(case, run.stdout + run.stderr)
    if run.exit_code == 0:
        check_output(case, fmt, run.stdout)


def check_leaks(case: Case, text: str) -> None:
    """No planted secret and no canary from outside the repository, escaped for JSON or not."""
    decoded = _json_strings(text)
    for needle in (*case.secrets, *CANARIES):
        assert needle not in text and needle not in decoded, f"{needle[:30]!r} leaked"


def check_output(case: Case, fmt: str, out: str) -> None:
    if fmt == "json":
        report = json.loads(out)
        assert report["schema"] and isinstance(report["frames"], list)
        assert isinstance(report["redactions"], int)
        if case.location:
            assert report["location"] and report["location"]["path"] == case.location, report["location"]
        return
    assert not INVISIBLE.search(out), f"invisible character {INVISIBLE.search(out)[0]!r}"  # type: ignore[index]
    if fmt == "slack":
        check_slack(json.loads(out))
    elif fmt == "github":
        title, _, body = out.partition("\n\n")
        assert 0 < len(title) <= GITHUB_TITLE and "\n" not in title
        assert len(body) <= GITHUB_BODY
        check_markdown(body, case.in_code)
        assert re.search(r"\d+ value\(s\) redacted", body)
    elif fmt == "markdown":
        check_markdown(out)
        assert re.search(r"\d+ value\(s\) redacted", out)
    elif fmt == "console":
        assert "\x1b" not in out and "\x07" not in out, "a terminal escape reached the console"


def check_slack(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 0 < len(blocks) <= SLACK_LIMITS["blocks"]
    assert len(message.get("text", "")) <= SLACK_LIMITS["text"]
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= SLACK_LIMITS["header"]
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= SLACK_LIMITS["section"]
            for field in block.get("fields", []):
                assert len(field["text"]) <= 2000
    text = json.dumps(message, ensure_ascii=False)
    for made in re.findall(r"<([^>]*)>", text):
        assert SLACK_OWN.fullmatch(made), f"a live Slack sequence from input: <{made}>"
    assert re.search(r"\d+ value\(s\) redacted", text)
    for mrkdwn in slack_mrkdwn(message):
        prose = slack_outside_code(mrkdwn)
        live = SLACK_LIVE.search(prose) or SLACK_DOMAIN.search(prose)
        assert not live, f"Slack would link or ping {live[0]!r} outside code in {mrkdwn[:300]!r}"
    for block in blocks:
        if block["type"] == "header":
            live = SLACK_LIVE.search(block["text"]["text"])
            assert not live, f"Slack would link or show {live[0]!r} in the header"


def slack_mrkdwn(message: dict[str, Any]) -> list[str]:
    """The fallback text and every mrkdwn text of the blocks: what Slack parses for links and mentions."""
    texts = [str(message.get("text", ""))]
    for block in message["blocks"]:
        for item in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(item, dict) and item.get("type") == "mrkdwn":
                texts.append(str(item.get("text", "")))
    return texts


def slack_outside_code(mrkdwn: str) -> str:
    """mrkdwn without incidentbot's own sequences, code blocks and code spans: where Slack links and formats."""
    without_own = re.sub(r"<([^>]*)>", lambda m: "" if SLACK_OWN.fullmatch(m[1]) else m[0], mrkdwn)
    return re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", without_own, flags=re.S))


def check_markdown(markdown: str, in_code: tuple[str, ...] = ()) -> None:
    """What GitHub renders as rich text holds no mention, reference, link, image or HTML from input, nor any of
    ``in_code`` (strings from the event that must sit in code)."""
    prose = outside_code(markdown)
    for needle in in_code:
        assert needle not in prose, f"{needle!r} from the event outside code"
    for mention in re.findall(r"(?<![\\&#\w`])@[A-Za-z][\w\-/]*", prose):
        assert mention in ALLOWED_MENTIONS, f"a mention outside code: {mention}"
    assert not re.search(r"(?<![\\&\w])#\d", prose), "an issue reference outside code"
    html = re.search(r"<(?!/?(?:sub|details|summary)\b|!-- incidentbot)[A-Za-z!/]", prose)
    assert not html, f"HTML from input outside code: {html[0]}"
    url = re.search(r"https?://(?!github\.com/acme/)|www\.|(?<!\\)\]\(", prose)
    assert not url, f"a link or URL from input outside code: {url[0]}"
    assert not re.search(r"(?<!\\)!\[", prose), "an image outside code"


def outside_code(markdown: str) -> str:
    """The Markdown without fenced blocks and code spans (what GitHub renders as rich text); a fence left
    open fails, since it would swallow the rest of the report."""
    prose: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        opening = re.match(r" {0,3}(`{3,}|~{3,})", line)
        if fence is None and opening:
            fence = opening[1]
        elif fence is not None:
            if re.fullmatch(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*", line):
                fence = None
        else:
            prose.append(line)
    assert fence is None, "a code fence left open"
    return _without_code_spans("\n".join(prose))


def _without_code_spans(text: str) -> str:
    """CommonMark's code spans removed: a run of n backticks up to the next run of exactly n; a backslash
    makes the punctuation after it literal (so an escaped backtick opens nothing)."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append(text[index : index + 2])
            index += 2
            continue
        if char != "`":
            out.append(char)
            index += 1
            continue
        run = re.match(r"`+", text[index:])
        assert run
        closing = re.compile(rf"(?<!`){run[0]}(?!`)").search(text, index + len(run[0]))
        if closing is None:
            out.append(run[0])
            index += len(run[0])
        else:
            index = closing.end()
    return "".join(out)


def _json_strings(text: str) -> str:
    """Every string inside ``text`` if it is JSON (so escaped secrets are compared decoded), else ''."""
    try:
        value = json.loads(text)
    except ValueError:
        return ""
    return json.dumps(value, ensure_ascii=False)
