"""The demo, end to end: build the scripted repository, crash the app under the real sentry-sdk, triage it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("demo")
    repo, event = root / "shop-repo", root / "event.json"
    subprocess.run([sys.executable, str(EXAMPLES / "build_demo_repo.py"), str(repo)], check=True, capture_output=True)
    subprocess.run(
        [sys.executable, str(EXAMPLES / "capture_event.py"), str(repo), str(event)], check=True, capture_output=True
    )
    return repo, event


def _sha_of(repo: Path, message: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%H %s"], check=True, capture_output=True, text=True
    ).stdout
    return next(line.split(" ", 1)[0] for line in out.splitlines() if line.split(" ", 1)[1] == message)


def test_the_real_sdk_event_carries_the_crash(demo: tuple[Path, Path]) -> None:
    repo, event_path = demo
    event = json.loads(event_path.read_text())
    crash = event["exception"]["values"][-1]
    assert crash["type"] == "KeyError"
    frames = crash["stacktrace"]["frames"]
    assert frames[-1]["function"] == "apply_coupon"
    assert frames[-1]["context_line"].strip().startswith("rate = COUPONS[code]")
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert event["release"] == head.strip()


def test_triage_names_the_culprit_past_the_formatter_and_the_owners(demo: tuple[Path, Path]) -> None:
    repo, event = demo
    done = subprocess.run(
        [sys.executable, "-m", "incidentbot", "triage", str(event), "--repo", str(repo), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    culprit = _sha_of(repo, "Look up coupons by their exact code")
    formatter = _sha_of(repo, "Reformat with black")
    assert report["suspects"][0]["commit"] == culprit
    assert report["suspects"][0]["author_email"] == "erin@shop.example"
    assert any("found past the reformatting" in r for r in report["suspects"][0]["reasons"])
    scores = {s["commit"]: s["score"] for s in report["suspects"]}
    assert scores.get(formatter, 0) < 0.1
    revision = report["revision"]
    assert report["location"] == {
        "path": "shop/pricing.py",
        "line": 13,
        "function": "apply_coupon",
        "url": f"https://github.com/acme/shop/blob/{revision}/shop/pricing.py#L13",
    }
    owners = [(o["github"], o["team"], o["email"], o["source"]) for o in report["owners"]]
    assert ("bob-pricing", None, None, "codeowners") in owners
    assert (None, "@shop/payments", None, "codeowners") in owners
    assert any(email == "erin@shop.example" for _, _, email, _ in owners)
    # The customer's e-mail in a frame variable never reaches the output.
    assert "jane.doe@example.org" not in done.stdout


def test_console_report_reads_well(demo: tuple[Path, Path]) -> None:
    repo, event = demo
    done = subprocess.run(
        [sys.executable, "-m", "incidentbot", "triage", str(event), "--repo", str(repo)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "KeyError: 'spring10' in apply_coupon"
    culprit = next(line for line in done.stdout.splitlines() if line.startswith("Culprit"))
    assert "Erin Coupons" in culprit and re.search(r"\d+% \((high|medium|low)\)$", culprit)


def test_the_rendered_examples_are_generated_from_the_demo(demo: tuple[Path, Path], tmp_path: Path) -> None:
    repo, event = demo
    out = tmp_path / "examples"
    subprocess.run(
        [sys.executable, str(EXAMPLES / "render_examples.py"), str(repo), str(event), str(out)],
        check=True,
        capture_output=True,
    )
    blocks = json.loads((out / "slack-message.json").read_text())["blocks"]
    assert blocks[0]["text"]["text"] == "KeyError: 'spring10' in apply_coupon"
    picture = (out / "slack-message.md").read_text()
    assert "**Likely cause:** [`" in picture and "by Erin Coupons" in picture
    issue = (out / "github-issue.md").read_text()
    assert issue.startswith("KeyError: 'spring10' in apply_coupon\n\n")
    assert "https://github.com/acme/shop/blob/" in issue and issue.rstrip().endswith("-->")


def test_the_demo_shows_the_analysis_when_an_llm_endpoint_is_set(
    demo: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.openai_api import FakeOpenAI, answer, tool

    repo, event = demo
    command = [sys.executable, "-m", "incidentbot", "triage", str(event), "--repo", str(repo)]
    plain = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert "Analysis   unavailable: no LLM configured" in plain.stdout
    culprit = _sha_of(repo, "Look up coupons by their exact code")
    with FakeOpenAI() as llm:
        llm.script = [
            tool("ShowCommit", sha=culprit[:10]),
            answer(
                {
                    "summary": "Coupon codes typed in lower case no longer match.",
                    "root_cause": "The lookup became exact in the suspect commit; codes were upper-cased before.",
                    "evidence": ["shop/pricing.py:13"],
                    "suggested_fix": "Normalise the code with .upper() before the lookup.",
                    "fix_diff": None,
                    "confidence": 0.85,
                    "severity": "high",
                    "culprit_commit": culprit[:10],
                }
            ),
        ]
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        drafted = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert drafted.returncode == 0, drafted.stderr
    assert "Analysis   gpt-4o-mini, 85% confident, severity high" in drafted.stdout
    assert "Coupon codes typed in lower case no longer match." in drafted.stdout
    assert "(2 calls, " in drafted.stdout


def test_the_readme_cli_quickstart_runs_word_for_word(demo: tuple[Path, Path], tmp_path: Path) -> None:
    repo, event = demo
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "shop-repo").symlink_to(repo)
    (tmp_path / "examples" / "demo-event.json").symlink_to(event)
    readme = (EXAMPLES.parent / "README.md").read_text()
    block = readme.split("## CLI quickstart", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("incidentbot ")]
    assert len(commands) == 3
    for command in commands:
        args = command.split()[1:]
        done = subprocess.run(
            [sys.executable, "-m", "incidentbot", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stderr)
        assert "KeyError" in done.stdout or "repository history" in done.stdout
