"""Whether a commit only reformatted a blamed line: the same statement in the same place, once whitespace,
quote style and trailing commas are removed (re-indenting, re-quoting, re-wrapping a call).

New code that copies a line from elsewhere, a moved block or a reworked one is a change of behaviour and is not
cosmetic. ``linkers/blame.py`` blames again past a commit this finds cosmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

from incidentbot.repo import RepoView
from linkers.blame_git import BlamedLine, _CommitMeta

MIN_CHARS = 6  # shorter lines ("else:", "}") are too common to call a change cosmetic
COMMENT_PREFIXES = ("#", "//", "/*", "*", "--")

Block = tuple[tuple[int, int], tuple[int, int]]  # (old lines, new lines) of one diff block, 0-based, end excluded
File = tuple[str, ...]


def normalise_code(text: str) -> str:
    """Code with formatting removed: whitespace, quote style and trailing commas do not count."""
    squashed = "".join(text.split()).replace("'", '"')
    return squashed.rstrip(",")


def changed_block(blocks: Sequence[Block], index: int) -> Block | None:
    """The block of a diff that replaced line ``index`` of the new file (0-based); None when it is unchanged."""
    return next((block for block in blocks if block[1][0] <= index < block[1][1]), None)


class CosmeticTest:
    """The test for one blame pass: each file version is read, flattened and diffed once, however many of its
    lines are asked about."""

    def __init__(self, repo: RepoView) -> None:
        self.repo = repo
        self._files: dict[tuple[str, str], File | None] = {}
        self._flat: dict[tuple[str, str], str] = {}
        self._blocks: dict[tuple[tuple[str, str], tuple[str, str]], list[Block] | None] = {}

    def __call__(self, line: BlamedLine, meta: _CommitMeta) -> bool:
        """True when the commit left the same statement in the same place, only reformatted.

        The block of the commit's diff that holds the line must read the same before and after once
        whitespace, quote style and trailing commas are removed."""
        if meta.previous is None:
            return False
        code = normalise_code(line.text)
        if len(code) < MIN_CHARS or code.startswith(COMMENT_PREFIXES):
            return False
        old_key, new_key = meta.previous, (line.sha, line.orig_path)
        before, after = self._file(old_key), self._file(new_key)
        if not before or not after or not 0 < line.orig_line <= len(after):
            return False
        if line.text in before or code not in self._flattened(old_key, before):
            return False  # unchanged text, or code that stood nowhere before: no diff needed to say it is not cosmetic
        if (old_key, new_key) not in self._blocks:
            self._blocks[(old_key, new_key)] = self.repo.changed_blocks(old_key, new_key)
        blocks = self._blocks[(old_key, new_key)]
        block = changed_block(blocks, line.orig_line - 1) if blocks is not None else None
        if block is None:
            return False
        (old_lo, old_hi), (new_lo, new_hi) = block
        old_code = "".join(normalise_code(x) for x in before[old_lo:old_hi])
        new_code = "".join(normalise_code(x) for x in after[new_lo:new_hi])
        return old_hi > old_lo and old_code == new_code

    def _file(self, key: tuple[str, str]) -> File | None:
        if key not in self._files:
            self._files[key] = self.repo.read_git_blob_lines(*key)
        return self._files[key]

    def _flattened(self, key: tuple[str, str], lines: File) -> str:
        if key not in self._flat:
            self._flat[key] = "".join(normalise_code(old) for old in lines)
        return self._flat[key]
