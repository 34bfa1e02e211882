"""A small shop repository whose history holds every case the ranking must handle.

Timeline (all 2024, UTC):
- 01-10 Alice writes ``shop/pricing.py`` and ``shop/cart.py``.
- 02-01 Bob adds ``shop/inventory.py``.
- 03-01 Dave reformats everything (quotes, spacing): touches the failing line, changes no behaviour.
- 03-05 Carol adds a feature on a branch; merged by Bob on 03-06 (the merge itself adds nothing).
- 04-02 Bob introduces the bug: ``apply_discount`` divides by the discount (the culprit).
- 04-03 Alice renames ``shop/inventory.py`` to ``shop/stock.py``.
- 04-10 Dave bulk-reformats again, listed in ``.git-blame-ignore-revs`` on 04-11.
- release = the 04-11 commit; first seen 04-12.
- 05-01 (after first-seen) Alice changes the failing line again: must never be a suspect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.gitbuilder import ALICE, BOB, CAROL, DAVE, GitRepoBuilder

PRICING_V1 = '''"""Prices."""


def apply_discount(total, discount):
    """Return the total after a fractional discount."""
    if discount < 0:
        raise ValueError('negative discount')
    return total * (1 - discount)


def tax(total):
    return total * 0.2
'''

CART_V1 = '''"""A cart."""
from shop.pricing import apply_discount


class Cart:
    def __init__(self):
        self.items = []
        self.rates = {}

    def add(self, name, price):
        self.items.append((name, price))

    def total(self, discount=0):
        subtotal = sum(price for _, price in self.items)
        return apply_discount(subtotal, self.rates.get('discount', discount))
'''

INVENTORY = '''"""Stock levels."""

LEVELS = {}


def reserve(name, count):
    LEVELS[name] = LEVELS.get(name, 0) - count
    return LEVELS[name]
'''


def _reformat(text: str) -> str:
    """What a formatter does: quote style and spacing, no behaviour."""
    return text.replace("'", '"').replace("total * (1 - discount)", "total*(1 - discount)")


@dataclass(frozen=True)
class ShopHistory:
    builder: GitRepoBuilder
    first: str
    reformat: str
    merge: str
    feature: str
    culprit: str
    rename: str
    bulk: str
    release: str
    after_release: str


def build_shop(builder: GitRepoBuilder) -> ShopHistory:
    first = builder.commit(
        "Add pricing and cart",
        ALICE,
        "2024-01-10T10:00:00",
        {"shop/__init__.py": "", "shop/pricing.py": PRICING_V1, "shop/cart.py": CART_V1},
    )
    builder.commit("Add inventory", BOB, "2024-02-01T10:00:00", {"shop/inventory.py": INVENTORY})
    pricing_fmt, cart_fmt = _reformat(PRICING_V1), _reformat(CART_V1)
    reformat = builder.commit(
        "Apply black formatting",
        DAVE,
        "2024-03-01T10:00:00",
        {"shop/pricing.py": pricing_fmt, "shop/cart.py": cart_fmt},
    )
    builder.git("checkout", "-q", "-b", "feature")
    feature = builder.commit(
        "Add cart.clear",
        CAROL,
        "2024-03-05T10:00:00",
        {"shop/cart.py": cart_fmt + "\n    def clear(self):\n        self.items = []\n"},
    )
    builder.git("checkout", "-q", "main")
    merge = builder.merge("feature", "Merge branch 'feature'", BOB, "2024-03-06T10:00:00")
    buggy = (
        builder.root.joinpath("shop/pricing.py")
        .read_text()
        .replace("total*(1 - discount)", "total / discount  # discount is a percentage now")
    )
    culprit = builder.commit("Treat discounts as percentages", BOB, "2024-04-02T10:00:00", {"shop/pricing.py": buggy})
    builder.rename("shop/inventory.py", "shop/stock.py")
    rename = builder.commit("Rename inventory to stock", ALICE, "2024-04-03T10:00:00")
    bulk_files = {f"shop/generated/table_{i}.py": f"VALUE_{i} = {i}\n" for i in range(60)}
    spaced = (
        builder.root.joinpath("shop/pricing.py").read_text().replace("def tax(total):", "def tax(total, rate=0.2):")
    )
    bulk = builder.commit("Regenerate tables", DAVE, "2024-04-10T10:00:00", {**bulk_files, "shop/pricing.py": spaced})
    release = builder.commit(
        "Ignore the table regeneration in blame",
        ALICE,
        "2024-04-11T10:00:00",
        {".git-blame-ignore-revs": f"{bulk}\n"},
    )
    later = builder.root.joinpath("shop/pricing.py").read_text().replace("total / discount", "total / (discount or 1)")
    after = builder.commit("Guard zero discount", ALICE, "2024-05-01T10:00:00", {"shop/pricing.py": later})
    return ShopHistory(builder, first, reformat, merge, feature, culprit, rename, bulk, release, after)


def shop_traceback(repo: Path, prefix: str = "/srv/app/", message: str = "division by zero") -> str:
    """The shop's crash as CPython prints it, with the production checkout at ``prefix``."""
    cart = (repo / "shop/cart.py").read_text().splitlines()
    pricing = (repo / "shop/pricing.py").read_text().splitlines()
    cart_line = next(i for i, t in enumerate(cart, 1) if "return apply_discount(" in t)
    pricing_line = next(i for i, t in enumerate(pricing, 1) if "return total / discount" in t)
    return (
        "Traceback (most recent call last):\n"
        f'  File "{prefix}app.py", line 3, in <module>\n'
        "    main()\n"
        f'  File "{prefix}shop/cart.py", line {cart_line}, in total\n'
        f"    {cart[cart_line - 1].strip()}\n"
        f'  File "{prefix}shop/pricing.py", line {pricing_line}, in apply_discount\n'
        f"    {pricing[pricing_line - 1].strip()}\n"
        f"ZeroDivisionError: {message}\n"
    )
