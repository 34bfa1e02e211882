"""Build the demo repository: a small shop app with a scripted, deterministic git history.

Usage: python examples/build_demo_repo.py [DEST]   (default: examples/shop-repo; rebuilt from scratch)

The history has several authors (one with a GitHub noreply address), a CODEOWNERS file, a feature branch and
its merge, a rename, a formatting-only commit that rewrites the buggy line after the bug landed (so plain blame
points at the formatter), and one commit that introduces a bug. The answer is not written anywhere the tool can
read: the tests find the culprit by its commit message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP = HERE / "shop"

ALICE = ("Alice Archer", "alice@shop.example")
BOB = ("Bob Pricing", "bob@shop.example")
CAROL = ("Carol Dev", "4242+carol-dev@users.noreply.github.com")
DAVE = ("Dave Ops", "dave@shop.example")
ERIN = ("Erin Coupons", "erin@shop.example")
BOT = ("Formatter Bot", "formatter-bot@shop.example")


def final(path: str) -> str:
    return (APP / path).read_text()


def before_formatting(text: str) -> str:
    """The code as it was before the formatter changed quote style."""
    return (
        text.replace('["percent"]', "['percent']")
        .replace('"SPRING10"', "'SPRING10'")
        .replace('"WELCOME5"', "'WELCOME5'")
    )


def pricing_at(step: str) -> str:
    text = before_formatting(final("shop/pricing.py"))
    if step == "coupons":
        # Before the bug: codes were matched case-insensitively and unknown codes were ignored.
        return text.replace(
            "    rate = COUPONS[code]['percent']\n",
            "    coupon = COUPONS.get(code.upper())\n    if coupon is None:\n        return subtotal\n"
            "    rate = coupon['percent']\n",
        )
    return text


def steps() -> list[tuple[tuple[str, str], str, str, dict[str, str | None]]]:
    """(author, ISO date, message, files) in order; None deletes a file."""
    receipt = final("shop/receipt.py")
    return [
        (
            ALICE,
            "2024-03-01T09:00:00",
            "Initial shop: catalog, cart and checkout",
            {
                "README.md": final("README.md"),
                "app.py": final("app.py"),
                "shop/__init__.py": final("shop/__init__.py"),
                "shop/catalog.py": final("shop/products.py"),
                "shop/cart.py": final("shop/cart.py").replace("from shop.products", "from shop.catalog"),
                "shop/checkout.py": final("shop/checkout.py")
                .replace("from shop.receipt import render\n", "")
                .replace("    print(render(cart, total))\n", ""),
            },
        ),
        (BOB, "2024-03-04T10:30:00", "Add coupon codes", {"shop/pricing.py": pricing_at("coupons")}),
        (ALICE, "2024-03-08T14:00:00", "Add CODEOWNERS", {".github/CODEOWNERS": final("CODEOWNERS")}),
        ("branch", "feature/inventory", "", {}),
        (CAROL, "2024-03-11T11:00:00", "Add inventory checks", {"shop/inventory.py": final("shop/inventory.py")}),
        ("merge", "feature/inventory", "Merge branch 'feature/inventory'", {}),
        (DAVE, "2024-03-18T16:20:00", "Rename catalog to products", {"rename": "shop/catalog.py shop/products.py"}),
        (DAVE, "2024-03-18T16:25:00", "Import products from the new module", {"shop/cart.py": final("shop/cart.py")}),
        (ERIN, "2024-03-20T15:45:00", "Look up coupons by their exact code", {"shop/pricing.py": pricing_at("bug")}),
        (BOT, "2024-03-21T08:00:00", "Reformat with black", {"shop/pricing.py": final("shop/pricing.py")}),
        (
            BOB,
            "2024-03-22T10:10:00",
            "Print a receipt after checkout",
            {"shop/receipt.py": receipt, "shop/checkout.py": final("shop/checkout.py")},
        ),
    ]


def shifted(when: str) -> str:
    """The scripted dates moved so that the last commit lands yesterday: the demo crash happens today."""
    last = datetime.fromisoformat(LAST_SCRIPTED).replace(tzinfo=UTC)
    base = datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    moment = datetime.fromisoformat(when).replace(tzinfo=UTC) + (base - last.replace(hour=0, minute=0, second=0))
    return moment.isoformat()


LAST_SCRIPTED = "2024-03-22T10:10:00"


def git(dest: Path, *args: str, who: tuple[str, str] | None = None, when: str | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if who and when:
        stamp = shifted(when)
        env.update(
            GIT_AUTHOR_NAME=who[0],
            GIT_AUTHOR_EMAIL=who[1],
            GIT_AUTHOR_DATE=stamp,
            GIT_COMMITTER_NAME=who[0],
            GIT_COMMITTER_EMAIL=who[1],
            GIT_COMMITTER_DATE=stamp,
        )
    return subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True, text=True).stdout


def build(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "config", "user.name", "Demo")
    git(dest, "config", "user.email", "demo@shop.example")
    git(dest, "config", "commit.gpgsign", "false")
    # Never fetched: it only tells incidentbot where permalinks and commit links point.
    git(dest, "remote", "add", "origin", "https://github.com/acme/shop.git")
    for who, when, message, files in steps():
        if who == "branch":
            git(dest, "checkout", "-q", "-b", when)
            continue
        if who == "merge":
            git(dest, "checkout", "-q", "main")
            git(dest, "merge", "-q", "--no-ff", "-m", message, when, who=ALICE, when="2024-03-12T09:00:00")
            continue
        for path, text in files.items():
            if path == "rename":
                old, new = str(text).split()
                git(dest, "mv", old, new)
                continue
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(text))
            git(dest, "add", path)
        git(dest, "commit", "-q", "-m", message, who=who, when=when)


def main() -> None:
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "shop-repo"
    build(dest.resolve())
    count = git(dest, "rev-list", "--count", "HEAD").strip()
    print(f"built {dest} ({count} commits)")


if __name__ == "__main__":
    main()
