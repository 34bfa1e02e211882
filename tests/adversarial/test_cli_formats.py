"""Every adversarial case through ``incidentbot triage`` in every output format (checks.py says what holds)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.adversarial import cases_hostile  # noqa: F401 - registers the hostile cases
from tests.adversarial.cases import CASES, Case
from tests.adversarial.checks import FORMATS, check_run
from tests.adversarial.conftest import Target, run_cli


def test_the_catalogue_is_large_and_covers_every_category() -> None:
    by_category = Counter(c.category for c in CASES)
    assert len(CASES) >= 150, by_category
    assert set(by_category) == {
        "malformed",
        "sentry-json",
        "languages",
        "paths",
        "secrets",
        "injection",
        "invisible",
    }
    assert len({c.id for c in CASES}) == len(CASES), "case ids are unique"


@pytest.fixture(scope="module")
def inputs(target: Target, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each case's input written once to a file (the large ones are megabytes)."""
    folder = tmp_path_factory.mktemp("inputs")
    paths = {}
    for c in CASES:
        paths[c.id] = folder / f"{c.id}.txt"
        paths[c.id].write_bytes(c.make(target))
    return paths


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_in_format(case: Case, fmt: str, inputs: dict[str, Path], triage_env: dict[str, str]) -> None:
    run = run_cli(["triage", str(inputs[case.id]), "--format", fmt, "--no-llm"], triage_env)
    check_run(case, fmt, run)


STDIN_SAMPLE = [c for c in CASES if c.category == "malformed"][:6] + [c for c in CASES if c.category == "secrets"][:6]


@pytest.mark.parametrize("case", STDIN_SAMPLE, ids=lambda c: c.id)
def test_case_from_stdin(case: Case, target: Target, triage_env: dict[str, str]) -> None:
    """Standard input is read the same way as a file."""
    run = run_cli(["triage", "-", "--json", "--no-llm"], triage_env, stdin=case.make(target))
    check_run(case, "json", run)
