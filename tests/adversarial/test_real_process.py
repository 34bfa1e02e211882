"""A sample of the catalogue through the real program (``python -m incidentbot``), so the in-process runner is
not the only witness: exit codes, one-line errors and clean outputs hold for a real process too, including
what the interpreter itself would print on a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adversarial import cases_hostile  # noqa: F401 - registers the hostile cases
from tests.adversarial.cases import CASES, Case
from tests.adversarial.checks import check_run
from tests.adversarial.conftest import HANG_SECONDS, Run, Target

SAMPLE = (
    "empty",
    "binary-random",
    "five-mb-single-line",
    "sentry-deep-nesting-list",
    "secret-sentry-every-section",
    "inject-sentry-every-field",
    "path-symlink-out-of-repo",
    "invisible-bidi-override-in-message",
)


@pytest.mark.parametrize("fmt", ["json", "github"])
@pytest.mark.parametrize("case", [c for c in CASES if c.id in SAMPLE], ids=lambda c: c.id)
def test_sample_through_the_real_program(
    case: Case, fmt: str, target: Target, triage_env: dict[str, str], tmp_path: Path
) -> None:
    trace = tmp_path / "input"
    trace.write_bytes(case.make(target))
    done = subprocess.run(
        [sys.executable, "-m", "incidentbot", "triage", str(trace), "--format", fmt, "--no-llm"],
        env={**os.environ, **triage_env},
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
    )
    check_run(case, fmt, Run(done.returncode, done.stdout, done.stderr, None))
