"""Render the demo incident as each destination receives it, into docs/examples/ (no credentials, no network).

    python examples/render_examples.py examples/shop-repo examples/demo-event.json docs/examples

Writes the Slack message as Block Kit JSON and as a faithful Markdown rendering, and the GitHub issue as
Markdown. `make examples` runs it after `make demo`'s set-up.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from incidentbot import pipeline, settings
from reporters.github import GitHubReporter
from reporters.slack import SlackReporter


def slack_as_markdown(message: dict) -> str:  # type: ignore[type-arg]
    """How Slack shows the blocks, in Markdown: bold, links, code and dates as a reader sees them."""
    lines: list[str] = []
    for block in message["blocks"]:
        kind = block["type"]
        if kind == "header":
            lines.append(f"### {_unescape(block['text']['text'])}")
        elif kind == "section":
            lines.append(_mrkdwn(block["text"]["text"]))
        elif kind == "context":
            text = " ".join(_mrkdwn(e["text"]) for e in block["elements"])
            lines.append("<sub>" + text.replace("\n", "<br>") + "</sub>")
        elif kind == "divider":
            lines.append("---")
    return "\n\n".join(lines) + "\n"


def _mrkdwn(text: str) -> str:
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]*)>", r"[\2](\1)", text)
    text = re.sub(r"<@(U\w+)>", r"**@\1**", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"**\1**", text)
    text = re.sub(r"```(.*?)```", lambda m: "\n```\n" + m[1] + "\n```\n", text, flags=re.S)
    text = text.replace("\n>", "\n> ")
    return _unescape(text)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def main() -> None:
    repo, event, out = (Path(arg) for arg in sys.argv[1:4])
    conf = settings.load(repo=repo)
    report = pipeline.triage(event.read_text(), conf)
    out.mkdir(parents=True, exist_ok=True)
    slack = SlackReporter.preview(report, conf)
    (out / "slack-message.json").write_text(slack + "\n")
    (out / "slack-message.md").write_text(slack_as_markdown(json.loads(slack)))
    (out / "github-issue.md").write_text(GitHubReporter.preview(report, conf) + "\n")
    print(f"wrote {out}/slack-message.json, slack-message.md, github-issue.md")


if __name__ == "__main__":
    main()
