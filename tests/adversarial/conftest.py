"""The target of the adversarial suite: one real repository built once per session, with files in every
language the parsers read, a symlink leading out of it, canary files outside it, and the CLI run in-process.

Canaries: files outside the repository (beside it, in a fake home, /etc/passwd) whose content must never
appear in any output or request. The runner is ``incidentbot triage`` through click's test runner: the same
code path as the shell, minus process start-up, so several hundred runs fit in CI.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest
from click.testing import CliRunner, Result

from incidentbot.commands.cli import main
from tests.gitbuilder import ALICE, BOB, CAROL, GitRepoBuilder
from tests.linkers.history import ShopHistory, build_shop

OUTSIDE_CANARY = "CANARY-OUTSIDE-REPO-5f3c9a"
HOME_CANARY = "CANARY-HOME-SSH-KEY-8b21e0"
#: Output from /etc/passwd would start with this.
PASSWD_MARK = "root:x:0:0"
#: A hang guard, not a speed measurement (benchmarks measure speed): no single run may take this long.
HANG_SECONDS = 90

POLYGLOT = {
    "web/src/cart.js": "export function total(items) {\n  return items.reduce((a, b) => a + b.price, 0);\n}\n"
    "export function checkout(cart) {\n  return total(cart.items) / cart.count;\n}\n",
    "src/main/java/com/acme/Cart.java": "package com.acme;\n\npublic class Cart {\n  public int total(int[] items) {\n"
    "    int sum = 0;\n    for (int i : items) sum += i;\n    return sum / items.length;\n  }\n}\n",
    "cmd/server/main.go": "package main\n\nfunc total(items []int) int {\n\tsum := 0\n\tfor _, i := range items {\n"
    "\t\tsum += i\n\t}\n\treturn sum / len(items)\n}\n\nfunc main() {\n\ttotal(nil)\n}\n",
    "app/models/cart.rb": "class Cart\n  def total(items)\n    items.sum / items.size\n  end\nend\n",
    "CODEOWNERS": "* @acme/core\nshop/ @acme/payments\nweb/ @acme/frontend\n",
}


@dataclass(frozen=True)
class Target:
    repo: Path
    outside: Path  # a file beside the repository, never to be read
    home: Path  # a fake home with a private key, never to be read
    shop: ShopHistory

    def line_of(self, rel: str, needle: str) -> int:
        lines = (self.repo / rel).read_text().splitlines()
        return next(i for i, text in enumerate(lines, 1) if needle in text)


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    base = tmp_path_factory.mktemp("adversarial")
    outside = base / "outside" / "secret_canary.py"
    outside.parent.mkdir()
    outside.write_text(f"API = '{OUTSIDE_CANARY}'\n" * 40)
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"{HOME_CANARY}\n" * 40)
    builder = GitRepoBuilder(base / "repo")
    shop = build_shop(builder)
    builder.git("checkout", "-q", "-b", "deployed", shop.release)  # what ran: the release, before the later fix
    builder.commit("Add the other services", CAROL, "2024-04-11T11:00:00", dict(POLYGLOT))
    # A committed symlink leading out of the repository: reading it would read the canary.
    (builder.root / "shop" / "outside_link.py").symlink_to(outside)
    (builder.root / "shop" / "passwd_link.py").symlink_to("/etc/passwd")
    builder.git("add", "shop/outside_link.py", "shop/passwd_link.py")
    builder.commit("Link shared settings", BOB, "2024-04-11T12:00:00")
    builder.commit("Release", ALICE, "2024-04-11T13:00:00", {"RELEASE": "1\n"})
    return Target(builder.root, outside, home, shop)


@pytest.fixture
def triage_env(target: Target) -> dict[str, str]:
    """What a user sets to triage against the target: the repository, a fixed first-seen, a fake home."""
    return {
        "INCIDENTBOT_REPO": str(target.repo),
        "INCIDENTBOT_FIRST_SEEN": "2024-04-12T09:00:00+00:00",
        "HOME": str(target.home),
    }


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


def run_cli(args: list[str], env: dict[str, str], stdin: bytes | None = None) -> Run:
    """``incidentbot <args>`` in-process, with a hang guard."""

    def hang(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"incidentbot {' '.join(args)[:80]} ran over {HANG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_SECONDS)
    try:
        result: Result = CliRunner().invoke(main, args, input=stdin, env=env, catch_exceptions=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    if isinstance(result.exception, TimeoutError):
        raise result.exception
    exception = None if isinstance(result.exception, SystemExit) else result.exception
    return Run(result.exit_code, result.stdout, result.stderr, exception)


@pytest.fixture(autouse=True)
def _no_stray_tokens() -> Iterator[None]:
    """The suite must not depend on a developer's environment (the root conftest removes our variables)."""
    assert "OPENAI_API_KEY" not in os.environ
    yield
