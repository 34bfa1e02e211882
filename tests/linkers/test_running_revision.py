"""A pasted trace from older code is blamed at the commit whose files hold its source lines, not at HEAD.

Each test pastes a traceback into ``incidentbot triage`` with no --rev and no release, as a user does with a
trace from a GitHub issue, in a repository whose code has moved on since the crash.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.gitbuilder import ALICE, BOB, CAROL, GitRepoBuilder

PRICING = '''"""Prices."""


def apply_discount(total, discount):
    return total * (1 - discount)
'''
BUGGY = PRICING.replace("total * (1 - discount)", "total / discount  # a percentage now")
CART = """from shop.pricing import apply_discount


def checkout(total, discount=0):
    return apply_discount(total, discount)
"""


def _trace(pricing_path: str = "shop/pricing.py", cart_line: str = "return apply_discount(total, discount)") -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/shop/cart.py", line 5, in checkout\n'
        f"    {cart_line}\n"
        f'  File "/srv/app/{pricing_path}", line 5, in apply_discount\n'
        "    return total / discount  # a percentage now\n"
        "ZeroDivisionError: division by zero\n"
    )


def _triage(repo: Path, trace: str, *args: str) -> dict:
    command = [sys.executable, "-m", "incidentbot", "triage", "-", "--repo", str(repo), "--json", *args]
    done = subprocess.run(command, input=trace, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _bug(git_repo: GitRepoBuilder) -> str:
    """The shop, then the commit that made discounts divide: the culprit."""
    files = {"shop/__init__.py": "", "shop/pricing.py": PRICING, "shop/cart.py": CART}
    git_repo.commit("Prices and cart", ALICE, "2024-01-10T10:00:00", files)
    return git_repo.commit("Discounts are percentages", BOB, "2024-02-01T10:00:00", {"shop/pricing.py": BUGGY})


def _history(git_repo: GitRepoBuilder) -> tuple[str, str]:
    """The bug, then the code moving on: lines inserted above the failing one, and the fix of that line."""
    culprit = _bug(git_repo)
    git_repo.commit("Docs", CAROL, "2024-02-05T10:00:00", {"README.md": "shop\n"})
    moved = BUGGY.replace('"""Prices."""\n', '"""Prices."""\nimport logging\n\nlog = logging.getLogger(__name__)\n')
    git_repo.commit("Log prices", CAROL, "2024-03-01T10:00:00", {"shop/pricing.py": moved})
    fixed = moved.replace("total / discount", "total / (discount or 1)")
    return culprit, git_repo.commit("Guard zero discounts", ALICE, "2024-03-02T10:00:00", {"shop/pricing.py": fixed})


def test_the_running_code_is_found_by_its_source_lines(git_repo: GitRepoBuilder) -> None:
    culprit, _ = _history(git_repo)
    report = _triage(git_repo.root, _trace())
    assert report["revision"] == culprit  # the docs commit after it changed none of the trace's files
    assert "source lines (2 of 2 frames;" in report["revision_reason"]
    assert report["suspects"][0]["commit"] == culprit
    assert report["location"]["line"] == 5


def test_a_named_revision_is_never_second_guessed(git_repo: GitRepoBuilder) -> None:
    _, fix = _history(git_repo)
    report = _triage(git_repo.root, _trace(), "--rev", "HEAD")
    assert report["revision"] == fix
    assert report["revision_reason"] == "--rev HEAD"


def test_code_that_still_matches_keeps_the_revision_chosen_by_time(git_repo: GitRepoBuilder) -> None:
    culprit = _bug(git_repo)
    report = _triage(git_repo.root, _trace())
    assert report["revision"] == culprit
    assert report["revision_reason"].startswith("last commit on the current branch")


def test_a_file_moved_since_is_found_where_it_lived(git_repo: GitRepoBuilder) -> None:
    culprit, _ = _history(git_repo)
    git_repo.rename("shop/pricing.py", "shop/money/pricing.py")
    git_repo.commit("Move pricing", CAROL, "2024-04-01T10:00:00", {"shop/money/__init__.py": ""})
    report = _triage(git_repo.root, _trace())
    assert report["suspects"][0]["commit"] == culprit
    assert report["location"]["path"] == "shop/pricing.py"


def test_a_locally_edited_frame_leaves_the_others_to_decide(git_repo: GitRepoBuilder) -> None:
    # The user's cart.py line was edited by hand: no commit holds it. pricing.py still tells the running code.
    culprit, _ = _history(git_repo)
    report = _triage(git_repo.root, _trace(cart_line="return apply_discount(total, discount)  # debug"))
    assert "source lines (1 of 2 frames;" in report["revision_reason"]
    assert report["suspects"][0]["commit"] == culprit


def test_of_the_commits_that_hold_the_lines_the_earliest_is_blamed(git_repo: GitRepoBuilder) -> None:
    # After the bug, a commit changed the line beside the failing one; both hold the trace's lines. Blaming at
    # the later one would put that change in the window beside the failing line.
    culprit, _ = _history(git_repo)
    git_repo.git("checkout", "-q", "-b", "old", culprit)
    beside = BUGGY.replace('"""Prices."""', '"""Prices, in percent."""')
    git_repo.commit("Say percent", CAROL, "2024-02-10T10:00:00", {"shop/pricing.py": beside})
    fixed = beside.replace("total / discount", "total / (discount or 1)")
    git_repo.commit("Guard zero discounts", ALICE, "2024-02-11T10:00:00", {"shop/pricing.py": fixed})
    report = _triage(git_repo.root, _trace())
    assert report["revision"] == culprit
    assert report["suspects"][0]["commit"] == culprit


def test_between_revisions_holding_as_many_frames_the_one_holding_the_raise_wins(git_repo: GitRepoBuilder) -> None:
    # A failing test pasted from CI: the fix added that test, so the test's line holds only after the fix, and the
    # failing line only before it. One frame each way; the raise's frame is the one whose line is blamed.
    culprit = _bug(git_repo)
    test = "from shop.cart import checkout\n\n\ndef test_no_discount():\n    assert checkout(10) == 10\n"
    fixed = BUGGY.replace("total / discount", "total / (discount or 1)")
    git_repo.commit(
        "Guard zero discounts", ALICE, "2024-03-02T10:00:00", {"shop/pricing.py": fixed, "tests/test_cart.py": test}
    )
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/tests/test_cart.py", line 5, in test_no_discount\n'
        "    assert checkout(10) == 10\n"
        '  File "/srv/app/shop/pricing.py", line 5, in apply_discount\n'
        "    return total / discount  # a percentage now\n"
        "ZeroDivisionError: division by zero\n"
    )
    report = _triage(git_repo.root, trace)
    assert report["revision"] == culprit
    assert "source lines (1 of 2 frames;" in report["revision_reason"]
    assert report["suspects"][0]["commit"] == culprit


CART_JAVA = """package shop;

class Cart {
    int total(int[] items, int discount) {
        int sum = 0;
        for (int item : items) {
            sum += item;
        }
        return sum / discount;
    }
}
"""


def test_a_java_trace_is_placed_by_the_functions_its_lines_fall_in(git_repo: GitRepoBuilder) -> None:
    # A Java trace has no source lines: the running code is the one where line 9 is inside total(), which the
    # culprit made that long. Since then a method was added above, so at HEAD line 9 falls in that one.
    first = "package shop;\n\nclass Cart {\n    int total(int[] items) {\n        return items.length;\n    }\n}\n"
    git_repo.commit("Cart", ALICE, "2024-01-10T10:00:00", {"src/main/java/shop/Cart.java": first})
    culprit = git_repo.commit("Discounts", BOB, "2024-02-01T10:00:00", {"src/main/java/shop/Cart.java": CART_JAVA})
    helper = (
        "    int count(int[] items) {\n        int n = 0;\n        n += items.length;\n        return n;\n    }\n\n"
    )
    later = CART_JAVA.replace("class Cart {\n", "class Cart {\n" + helper)
    git_repo.commit("Count items", CAROL, "2024-03-01T10:00:00", {"src/main/java/shop/Cart.java": later})
    trace = (
        "java.lang.ArithmeticException: / by zero\n"
        "\tat shop.Cart.total(Cart.java:9)\n"
        "\tat shop.Main.main(Main.java:5)\n"
    )
    report = _triage(git_repo.root, trace)
    assert "source lines (1 of 1 frames;" in report["revision_reason"]
    assert report["suspects"][0]["commit"] == culprit


def test_function_names_alone_move_the_revision_only_when_most_frames_disagree(git_repo: GitRepoBuilder) -> None:
    # Main.main still holds line 5 at HEAD and Cart.total does not: half the evidence agrees with HEAD, and names
    # of functions are weak evidence, so HEAD stands.
    main = (
        "package shop;\n\nclass Main {\n    public static void main(String[] args) {\n"
        "        new Cart().total(null, 0);\n    }\n}\n"
    )
    git_repo.commit(
        "Cart",
        ALICE,
        "2024-01-10T10:00:00",
        {"src/main/java/shop/Cart.java": CART_JAVA, "src/main/java/shop/Main.java": main},
    )
    helper = "    int count(int[] items) {\n        return items.length;\n    }\n\n"
    head = git_repo.commit(
        "Count items",
        CAROL,
        "2024-03-01T10:00:00",
        {"src/main/java/shop/Cart.java": CART_JAVA.replace("class Cart {\n", "class Cart {\n" + helper)},
    )
    trace = "java.lang.ArithmeticException: / by zero\n\tat shop.Cart.total(Cart.java:9)\n"
    report = _triage(git_repo.root, trace + "\tat shop.Main.main(Main.java:5)\n")
    assert report["revision"] == head
    assert report["revision_reason"].startswith("last commit on the current branch")


def test_function_names_alone_never_move_the_revision_on_a_tie(git_repo: GitRepoBuilder) -> None:
    # At HEAD only Main.main holds; at the older commit only Cart.total, the frame nearest the raise. With source
    # lines that would decide it, but a function's name is weak evidence: one frame against one moves nothing.
    service = "package shop;\n\nclass Service {\n    void run() {\n        new Cart().total(null, 0);\n    }\n}\n"
    fields = (
        "package shop;\n\nclass Main {\n    int x = 1;\n    int y = 2;\n    static void main(String[] a) {\n    }\n}\n"
    )
    git_repo.commit(
        "Shop",
        ALICE,
        "2024-01-10T10:00:00",
        {
            "src/main/java/shop/Cart.java": CART_JAVA,
            "src/main/java/shop/Main.java": fields,
            "src/main/java/shop/Service.java": service,
        },
    )
    helper = (
        "    int count(int[] items) {\n        int n = 0;\n        n += items.length;\n        return n;\n    }\n\n"
    )
    main = "package shop;\n\nclass Main {\n    static void main(String[] a) {\n        new Service().run();\n    }\n}\n"
    head = git_repo.commit(
        "Count items, run the service",
        CAROL,
        "2024-03-01T10:00:00",
        {
            "src/main/java/shop/Cart.java": CART_JAVA.replace("class Cart {\n", "class Cart {\n" + helper),
            "src/main/java/shop/Main.java": main,
        },
    )
    trace = (
        "java.lang.ArithmeticException: / by zero\n"
        "\tat shop.Cart.total(Cart.java:9)\n"
        "\tat shop.Service.run(Service.java:40)\n"
        "\tat shop.Main.main(Main.java:5)\n"
    )
    report = _triage(git_repo.root, trace)
    assert report["revision"] == head
    assert report["revision_reason"].startswith("last commit on the current branch")


def test_the_running_code_recognised_is_kept_for_the_next_process(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    """A trace pasted again in a new process (a re-run, the Action's next run) walks no history: the answer is
    kept in the store's git facts, keyed by the revision and the frames' evidence; a row that does not read is
    as good as none."""
    import sqlite3

    from incidentbot.models import Frame
    from incidentbot.repo import RepoView
    from linkers.blame_index import BlameIndex
    from linkers.blame_index_sqlite import SqliteIndexStore
    from linkers.running_revision import KEPT_KIND, RunningRevision, infer_running_revision

    culprit, head = _history(git_repo)
    frames = [
        Frame("/srv/app/shop/cart.py", "checkout", lineno=5, repo_path="shop/cart.py", in_app=True,
              context_line="return apply_discount(total, discount)"),
        Frame("/srv/app/shop/pricing.py", "apply_discount", lineno=5, repo_path="shop/pricing.py", in_app=True,
              context_line="return total / discount  # a percentage now"),
    ]  # fmt: skip

    def index(name: str) -> BlameIndex:
        url = f"sqlite:///{tmp_path / name}.sqlite3"
        from incidentbot.sqlite_schema import create_new_store

        assert create_new_store(url)
        store = SqliteIndexStore.open_existing(url)
        assert store is not None
        return BlameIndex(store, 10**9, 100)

    first = index("first")
    found = infer_running_revision(RepoView(git_repo.root), head, frames, first)
    assert found is not None and found.sha == culprit
    first.flush()
    conn = sqlite3.connect(tmp_path / "first.sqlite3")
    [(digest, kept)] = conn.execute("SELECT key, value_json FROM git_facts WHERE kind = ?", (KEPT_KIND,)).fetchall()
    conn.close()
    assert kept == f'["{culprit}", 2, 2]'
    assert infer_running_revision(RepoView(git_repo.root), head, frames, first) == found  # a new process
    # A trace whose code has not moved (most) is answered at once and keeps nothing: the store grows only by
    # the traces that needed the walk.
    assert infer_running_revision(RepoView(git_repo.root), head, frames[:1], first) is None
    first.flush()
    conn = sqlite3.connect(tmp_path / "first.sqlite3")
    assert conn.execute("SELECT COUNT(*) FROM git_facts WHERE kind = ?", (KEPT_KIND,)).fetchone() == (1,)
    conn.close()
    planted = index("planted")  # what the store holds is what is answered: the store, not a walk, was asked
    planted.save_git_facts(KEPT_KIND, {digest: f'["{"0" * 40}", 9, 9]'})
    assert infer_running_revision(RepoView(git_repo.root), head, frames, planted) == RunningRevision("0" * 40, 9, 9)
    broken = index("broken")
    broken.save_git_facts(KEPT_KIND, {digest: "not json"})
    assert infer_running_revision(RepoView(git_repo.root), head, frames, broken) == found
