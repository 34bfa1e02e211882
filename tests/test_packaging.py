"""A non-editable install carries the templates; the console script and ``python -m`` both run."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_the_packages_and_templates(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("incidentbot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "incidentbot/_prompts/report.md.j2" in names
    assert {"incidentbot/commands/cli.py", "linkers/suspects.py", "reporters/console.py"} <= names
    assert "incidentbot/sqlite_schema.sql" in names  # a new store's tables, created without SQLAlchemy
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "incidentbot = incidentbot.commands.cli:main" in text and "suspects = linkers.suspects:SuspectRanker" in text


def test_module_entry_point_and_help() -> None:
    done = subprocess.run([sys.executable, "-m", "incidentbot", "triage", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "Examples:" in done.stdout and "--first-seen" in done.stdout


def test_every_command_has_help_with_examples() -> None:
    from incidentbot.commands.cli import main

    for name in main.commands:
        done = subprocess.run([sys.executable, "-m", "incidentbot", name, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "Examples:" in done.stdout, name
