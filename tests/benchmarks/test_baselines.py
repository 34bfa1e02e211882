"""The plain-git baselines on a small real repository whose answers were worked out by hand."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from benchmarks.baselines import (
    TraceInput,
    datadog_rule,
    deepest_frame_blame,
    git_stacktrace,
    most_recent_touching,
    parse_git_stacktrace,
    sentry_rule,
)
from benchmarks.plaintrace import parse_frames, without_carets
from tests.gitbuilder import ALICE, BOB, CAROL, DAVE, GitRepoBuilder

TRACE = """Traceback (most recent call last):
  File "/srv/app/app/core.py", line 2, in handle
    data = load(request)
           ^^^^^^^^^^^^^
  File "/usr/local/lib/python3.11/site-packages/lib/wrap.py", line 10, in wrapped
    return function()
  File "/srv/app/app/helpers.py", line 2, in load
    key = request["id"]
          ~~~~~~~^^^^^^
KeyError: 'id'
"""


@pytest.fixture
def history(git_repo: GitRepoBuilder) -> dict[str, str]:
    """core.py by Alice (old), helpers.py by Bob, an unrelated line by Carol, a whitespace-only edit by Dave."""
    core = "def handle(request):\n    data = load(request)\n    return render(data)\n"
    helpers = 'def load(request):\n    key = request["id"]\n    return key\n'
    return {
        "alice": git_repo.commit("core", ALICE, "2023-01-10T09:00:00", {"app/core.py": core}),
        "bob": git_repo.commit("helpers", BOB, "2024-05-01T09:00:00", {"app/helpers.py": helpers}),
        "carol": git_repo.commit(
            "strict render", CAROL, "2024-06-15T09:00:00", {"app/core.py": core.replace("(data)", "(data, True)")}
        ),
        "dave": git_repo.commit(
            "spacing", DAVE, "2024-06-20T09:00:00", {"app/helpers.py": helpers.replace("key =", "key  =")}
        ),
    }


def _trace(repo: GitRepoBuilder, first_seen: str) -> TraceInput:
    return TraceInput.read(repo.root, TRACE, datetime.fromisoformat(first_seen))


def test_frames_skip_carets_and_only_tracked_app_files_are_in_app(
    git_repo: GitRepoBuilder, history: dict[str, str]
) -> None:
    assert [f.function for f in parse_frames(TRACE)] == ["handle", "wrapped", "load"]
    assert "^^^" not in without_carets(TRACE) and "~~~" not in without_carets(TRACE)
    assert [m.repo_path for m in _trace(git_repo, "2024-07-01T00:00:00+00:00").frames] == [
        "app/core.py",
        "app/helpers.py",
    ]


def test_deepest_frame_blame_ignores_whitespace_edits(git_repo: GitRepoBuilder, history: dict[str, str]) -> None:
    answer = deepest_frame_blame(_trace(git_repo, "2024-07-01T00:00:00+00:00"))
    assert answer.commits == (history["bob"],)
    assert answer.owners[0].email == BOB.email


def test_sentry_rule_keeps_the_newest_blamed_commit_within_a_year(
    git_repo: GitRepoBuilder, history: dict[str, str]
) -> None:
    # core.py:2 blames Alice (2023-01-10), helpers.py:2 blames Bob (2024-05-01): Bob is newer.
    assert sentry_rule(_trace(git_repo, "2024-09-01T00:00:00+00:00")).commits == (history["bob"],)
    assert sentry_rule(_trace(git_repo, "2025-06-01T00:00:00+00:00")).commits == ()


def test_datadog_rule_gives_up_after_ninety_days(git_repo: GitRepoBuilder, history: dict[str, str]) -> None:
    assert datadog_rule(_trace(git_repo, "2024-07-01T00:00:00+00:00")).commits == (history["bob"],)
    assert datadog_rule(_trace(git_repo, "2024-09-01T00:00:00+00:00")).commits == ()


def test_most_recent_touching_lists_commits_before_first_seen(
    git_repo: GitRepoBuilder, history: dict[str, str]
) -> None:
    later = most_recent_touching(_trace(git_repo, "2024-07-01T00:00:00+00:00"))
    assert later.commits == (history["dave"], history["carol"], history["bob"])
    earlier = most_recent_touching(_trace(git_repo, "2024-06-01T00:00:00+00:00"))
    assert earlier.commits == (history["bob"], history["alice"])
    assert earlier.owners[0].name == BOB.name


def test_git_stacktrace_ranks_the_commit_that_added_the_failing_line(
    git_repo: GitRepoBuilder, history: dict[str, str]
) -> None:
    answer = git_stacktrace(_trace(git_repo, "2024-07-01T00:00:00+00:00"))
    assert answer.note == ""
    assert answer.commits[0] == history["bob"]
    assert answer.owners[0].email == BOB.email


def test_parse_git_stacktrace_output_pairs_commits_with_authors() -> None:
    sha_a, sha_b = "a" * 40, "b" * 40
    output = (
        f"Traceback...\n\ncommit {sha_a}\nCommit Date: x\nAuthor:      Ann Lee <ann@example.com>\nSubject: s\n\n"
        f"commit {sha_b}\nAuthor:      Bo <bo@example.com>\n"
    )
    answer = parse_git_stacktrace(output)
    assert answer.commits == (sha_a, sha_b)
    assert [o.email for o in answer.owners] == ["ann@example.com", "bo@example.com"]


def test_no_in_app_frame_gives_no_answer(git_repo: GitRepoBuilder, history: dict[str, str]) -> None:
    outside = TRACE.replace("/srv/app/", "/opt/other/")
    trace = TraceInput.read(Path(git_repo.root), outside, datetime.fromisoformat("2024-07-01T00:00:00+00:00"))
    assert deepest_frame_blame(trace).commits == ()
    assert most_recent_touching(trace).commits == ()
