"""A trace's source lines are recognised in the files even where the scrubber removed a secret from them."""

from __future__ import annotations

import pytest

from incidentbot.models import ExceptionInfo, Frame, Trace
from incidentbot.repo import RepoView
from incidentbot.scrub import scrub_trace
from incidentbot.settings import Redaction
from linkers.align import align_frame, same_source, squash
from linkers.running_revision import infer_running_revision
from tests.gitbuilder import ALICE, BOB, GitRepoBuilder

LINE = 'notify("ops@example.com", total / discount)'


@pytest.mark.parametrize(
    ("line", "source", "same"),
    [
        (LINE, LINE, True),
        ("    notify( 'a',  b)", "notify( 'a', b)", True),
        (LINE, 'notify("[REDACTED:email]", total / discount)', True),
        ('token = "s3cr3t-v4lue"', "token = [REDACTED:secret]", True),
        ('a = f("x@y.io", g("p@q.io"))', 'a = f("[REDACTED:email]", g("[REDACTED:email]"))', True),
        (LINE, 'notify("[REDACTED:email]", total * discount)', False),
        (LINE, 'send("[REDACTED:email]", total / discount)', False),
        ('f("x")', 'f("[REDACTED:email]", "x")', False),  # the pieces must fit in the line without overlapping
        (LINE, 'notify("ops@example.com", total / discount) or 1', False),
    ],
)
def test_same_source(line: str, source: str, same: bool) -> None:
    assert same_source(line, squash(source)) is same


def _scrubbed(frame: Frame) -> Frame:
    """The frame as the linkers see it: after incidentbot.scrub, which redacts the e-mail address."""
    trace, _ = scrub_trace(Trace(exceptions=(ExceptionInfo("E", "m", frames=(frame,)),)), Redaction())
    scrubbed = trace.exceptions[0].frames[0]
    assert "[REDACTED:" in str(scrubbed.context_line)
    return scrubbed


def test_a_moved_line_that_held_a_secret_is_found_by_its_other_text() -> None:
    lines = ("import x", "", "def f():", "    " + LINE, "")
    frame = _scrubbed(Frame("shop/notify.py", "f", lineno=2, context_line=LINE, repo_path="shop/notify.py"))
    aligned, warning = align_frame(frame, lines)
    assert (aligned.repo_line, aligned.alignment, warning) == (4, "moved", None)


def test_the_running_code_is_recognised_by_a_line_that_held_a_secret(git_repo: GitRepoBuilder) -> None:
    body = f"def f(total, discount):\n    {LINE}\n"
    old = git_repo.commit("Notify", ALICE, "2024-01-01T10:00:00", {"shop/notify.py": body})
    moved = "import logging\n\n\n" + body
    head = git_repo.commit("Log", BOB, "2024-02-01T10:00:00", {"shop/notify.py": moved})
    frame = _scrubbed(Frame("/srv/shop/notify.py", "f", lineno=2, context_line=LINE, repo_path="shop/notify.py"))
    found = infer_running_revision(RepoView(git_repo.root), head, [frame])
    assert found is not None and (found.sha, found.matched) == (old, 1)
