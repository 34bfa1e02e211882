"""`incidentbot triage` end to end, the way a user runs it, on a real repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from incidentbot import __version__
from incidentbot.commands.cli import main
from tests.gitbuilder import CAROL, GitRepoBuilder
from tests.linkers.history import ShopHistory, build_shop, shop_traceback

FIRST_SEEN = "2024-04-12T09:00:00Z"


def _traceback(repo: Path, prefix: str = "/srv/app/") -> str:
    return shop_traceback(repo, prefix)


@pytest.fixture
def shop(git_repo: GitRepoBuilder) -> ShopHistory:
    history = build_shop(git_repo)
    git_repo.git("checkout", "-q", history.release)
    return history


def _run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incidentbot", *args], input=input, capture_output=True, text=True, timeout=120
    )


def test_triage_json_names_culprit_location_and_owner(shop: ShopHistory, tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text(_traceback(shop.builder.root))
    done = _run("triage", str(trace), "--repo", str(shop.builder.root), "--first-seen", FIRST_SEEN, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["revision"] == shop.release
    assert report["exception"] == {"type": "ZeroDivisionError", "value": "division by zero"}
    assert report["location"]["path"] == "shop/pricing.py"
    assert report["location"]["function"] == "apply_discount"
    assert report["suspects"][0]["commit"] == shop.culprit
    assert report["suspects"][0]["reasons"]
    assert any(owner["email"] == "bob@example.com" for owner in report["owners"])
    in_app = [f for f in report["frames"] if f["in_app"]]
    assert [f["repo_path"] for f in in_app] == ["shop/cart.py", "shop/pricing.py"]
    assert len(report["fingerprint"]) >= 16


RICH_TRACEBACK = """
import sys
from rich.console import Console
from rich.traceback import Traceback
from shop.cart import Cart
try:
    Cart().total()
except ZeroDivisionError:
    Console(width=int(sys.argv[1]), color_system=None).print(Traceback())
"""


@pytest.mark.parametrize(
    "printed_by", ["pytest --tb=auto", "pytest --tb=long", "pytest --tb=short", "rich 60", "rich 200"]
)
def test_a_crash_as_pytest_or_rich_prints_it_is_triaged_as_its_traceback_is(
    shop: ShopHistory, tmp_path: Path, printed_by: str
) -> None:
    # Real pytest and rich output of the shop's crash at the release, against CPython's traceback of the same.
    tests = tmp_path / "checkout_test.py"
    tests.write_text("from shop.cart import Cart\n\n\ndef test_checkout():\n    assert Cart().total() == 0\n")
    env = {**os.environ, "PYTHONPATH": str(shop.builder.root), "PYTHONDONTWRITEBYTECODE": "1"}

    def report(tool: str, option: str) -> dict[str, object]:
        if tool == "pytest":
            command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", option, str(tests)]
        else:
            command = [sys.executable, "-c", RICH_TRACEBACK, option]
        crashed = subprocess.run(command, cwd=shop.builder.root, env=env, capture_output=True, text=True)
        assert "ZeroDivisionError" in crashed.stdout, crashed.stdout + crashed.stderr
        args = ("triage", "-", "--repo", str(shop.builder.root), "--first-seen", FIRST_SEEN, "--json")
        done = _run(*args, input=crashed.stdout)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    printed, native = report(*printed_by.split()), report("pytest", "--tb=native")
    assert printed["exception"] == native["exception"] == {"type": "ZeroDivisionError", "value": "division by zero"}
    assert printed["location"] == native["location"]
    assert printed["location"]["path"] == "shop/pricing.py"  # type: ignore[index]
    suspects = [s["commit"] for s in printed["suspects"]]  # type: ignore[attr-defined]
    assert suspects == [s["commit"] for s in native["suspects"]]  # type: ignore[attr-defined]
    assert suspects[0] == shop.culprit


def test_json_and_console_output_do_not_load_what_they_do_not_use(shop: ShopHistory, tmp_path: Path) -> None:
    """Start-up is most of a triage on indexed files: the JSON and console outputs never render the Markdown
    body (Jinja2) or talk to an LLM (openai); Markdown output still has its body."""
    trace = tmp_path / "trace.txt"
    trace.write_text(_traceback(shop.builder.root))
    for output in ("--json", "--format=console", "--format=markdown"):
        argv = ["incidentbot", "triage", str(trace), "--repo", str(shop.builder.root), output]
        code = (
            f"import sys, runpy; sys.argv = {argv!r}\n"
            "try:\n    runpy.run_module('incidentbot', run_name='__main__')\n"
            "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
            "print('LOADED', 'jinja2' in sys.modules, 'openai' in sys.modules)"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        loaded = done.stdout.rsplit("LOADED", 1)[1].split()
        assert loaded == (["True", "False"] if output.endswith("markdown") else ["False", "False"]), output
        if output.endswith("markdown"):
            assert "### Suspect commits" in done.stdout


def test_stdin_and_markdown(shop: ShopHistory) -> None:
    done = _run(
        "triage",
        "-",
        "--repo",
        str(shop.builder.root),
        "--first-seen",
        FIRST_SEEN,
        "--format",
        "markdown",
        input=_traceback(shop.builder.root),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# ZeroDivisionError")
    assert shop.culprit[:7] in done.stdout


def test_console_has_no_colour_when_not_a_terminal(shop: ShopHistory, tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text(_traceback(shop.builder.root))
    done = _run("triage", str(trace), "--repo", str(shop.builder.root), "--first-seen", FIRST_SEEN)
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout
    assert "shop/pricing.py" in done.stdout and shop.culprit[:7] in done.stdout


@pytest.mark.parametrize(
    ("flags", "environment", "coloured"),
    [
        (["--color", "always"], {"NO_COLOR": "1", "TERM": "dumb"}, True),  # an explicit flag beats both
        (["--color"], {"NO_COLOR": "1"}, True),
        (["--color", "never"], {"TERM": "xterm-256color"}, False),
        (["--no-color"], {}, False),
        ([], {"NO_COLOR": "1", "TERM": "xterm-256color"}, False),  # auto, and not a terminal anyway
    ],
)
def test_an_explicit_colour_choice_overrides_no_color_and_term(
    shop: ShopHistory, tmp_path: Path, flags: list[str], environment: dict[str, str], coloured: bool
) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text(_traceback(shop.builder.root))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "FORCE_COLOR")} | environment
    done = subprocess.run(
        [sys.executable, "-m", "incidentbot", "triage", str(trace), "--repo", str(shop.builder.root), *flags],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert ("\x1b[" in done.stdout) is coloured
    assert "shop/pricing.py" in done.stdout


def test_a_file_moved_after_the_release_is_found_at_the_release(shop: ShopHistory, tmp_path: Path) -> None:
    builder = shop.builder
    text = _traceback(builder.root)
    builder.git("checkout", "-q", "main")
    builder.rename("shop/pricing.py", "shop/prices.py")
    builder.commit("Rename pricing", CAROL, "2024-06-01T00:00:00")
    trace = tmp_path / "trace.txt"
    trace.write_text(text)
    done = _run("triage", str(trace), "--repo", str(builder.root), "--first-seen", FIRST_SEEN, "--json")
    report = json.loads(done.stdout)
    assert report["revision"] == shop.release
    assert report["location"]["path"] == "shop/pricing.py"
    assert report["suspects"][0]["commit"] == shop.culprit


def test_secrets_in_the_trace_never_reach_the_output(shop: ShopHistory, tmp_path: Path) -> None:
    token = "ghp_" + "A1b2C3d4" * 4 + "Zz9Y"
    text = _traceback(shop.builder.root).replace(
        "ZeroDivisionError: division by zero",
        f"ZeroDivisionError: bad token {token} for jane.doe@example.org",
    )
    trace = tmp_path / "trace.txt"
    trace.write_text(text)
    for fmt in ("json", "markdown", "console"):
        done = _run(
            "triage",
            str(trace),
            "--repo",
            str(shop.builder.root),
            "--first-seen",
            FIRST_SEEN,
            "--format",
            fmt,
        )
        assert done.returncode == 0, done.stderr
        assert token not in done.stdout and "jane.doe@example.org" not in done.stdout
    report = json.loads(
        _run("triage", str(trace), "--repo", str(shop.builder.root), "--first-seen", FIRST_SEEN, "--json").stdout
    )
    assert report["redactions"] >= 2


def test_paths_outside_the_repository_are_never_read(shop: ShopHistory, tmp_path: Path) -> None:
    secret_file = tmp_path / "outside.py"
    secret_file.write_text("TOP_SECRET_CONTENT = 1\n")
    text = (
        "Traceback (most recent call last):\n"
        f'  File "{secret_file}", line 1, in <module>\n'
        f'  File "{shop.builder.root}/../outside.py", line 1, in <module>\n'
        '  File "/etc/passwd", line 1, in <module>\n'
        '  File "/proc/self/environ", line 1, in <module>\n'
        "ValueError: boom\n"
    )
    trace = tmp_path / "trace.txt"
    trace.write_text(text)
    done = _run("triage", str(trace), "--repo", str(shop.builder.root), "--first-seen", FIRST_SEEN, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["location"] is None
    assert all(f["repo_path"] is None for f in report["frames"])
    assert "TOP_SECRET_CONTENT" not in done.stdout and "root:x:0:0" not in done.stdout


@pytest.mark.parametrize("config", ["kept", "removed"])
def test_a_bare_repository_is_triaged_like_its_checkout(shop: ShopHistory, tmp_path: Path, config: str) -> None:
    # Some mirroring tools leave a bare repository without a config file (core.bare unset); GitPython then takes
    # its parent folder for a work tree.
    bare = tmp_path / "mirror" / "shop.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(shop.builder.root), str(bare)], check=True, capture_output=True)
    if config == "removed":
        (bare / "config").unlink()
    trace = tmp_path / "trace.txt"
    trace.write_text(_traceback(shop.builder.root))
    done = _run("triage", str(trace), "--repo", str(bare), "--rev", shop.release, "--first-seen", FIRST_SEEN, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["location"]["path"] == "shop/pricing.py"
    assert report["suspects"][0]["commit"] == shop.culprit


def test_not_a_repository_is_one_line_and_exit_2(tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text('Traceback (most recent call last):\n  File "/a.py", line 1, in f\nValueError: x\n')
    done = _run("triage", str(trace), "--repo", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"Error: not a git repository: {tmp_path / 'nowhere'} — pass --repo PATH to a git checkout"
    ]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("content", ["", "hello world\n", "\x00\x01\x02binary"])
def test_unrecognisable_input_is_exit_2_without_traceback(shop: ShopHistory, tmp_path: Path, content: str) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text(content)
    done = _run("triage", str(trace), "--repo", str(shop.builder.root))
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith("Error: ") and len(done.stderr.splitlines()) == 1
    assert "Traceback (most recent call last)" not in done.stderr


def test_missing_input_file(shop: ShopHistory, tmp_path: Path) -> None:
    done = _run("triage", str(tmp_path / "missing.txt"), "--repo", str(shop.builder.root))
    assert done.returncode == 2
    assert done.stderr.startswith("Error: ")


def test_bad_first_seen_is_a_usage_error(shop: ShopHistory) -> None:
    result = CliRunner().invoke(main, ["triage", "-", "--repo", str(shop.builder.root), "--first-seen", "yesterday"])
    assert result.exit_code == 2
    assert "ISO 8601" in result.output


def test_version() -> None:
    assert _run("--version").stdout.strip().endswith(__version__)
    result = CliRunner().invoke(main, ["--version"])
    assert __version__ in result.output


def test_no_input_on_a_terminal_is_an_error_not_a_hang(shop: ShopHistory) -> None:
    import os

    leader, follower = os.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "incidentbot", "triage", "--repo", str(shop.builder.root)],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: no input: standard input is a terminal")
