"""Every trace in tests/data/traces/ parses to the Trace in its .expected.json (checked by hand when added).

The Python, loguru (0.8), pytest (9.2), rich (15), cleo (2.1), Django 5.2 (its ExceptionReporter's text), Node
and Java samples were produced by running real programs (the IPython 8 one by IPython 9.18, paths moved to
/srv/app); Go, Ruby, IPython 7 and Django 2.2 are transcribed; the Sentry SDK event was captured from the real
sentry-sdk by examples/capture_event.py. The ``sentry_raw_*`` samples are written by the rules of Sentry's "Raw"
stack trace view (its frontend's rawContent: Python oldest call first with ``Module "…"`` for a frame without a
file, other platforms the exception line first and the innermost frame next).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from incidentbot.models import Trace
from incidentbot.parse import parse_trace

DATA = Path(__file__).resolve().parents[1] / "data" / "traces"
SAMPLES = sorted(p for p in DATA.iterdir() if not p.name.endswith(".expected.json"))


def shape(trace: Trace) -> dict[str, Any]:
    return {
        "language": trace.language,
        "source": trace.source,
        "release": trace.release,
        "exceptions": [
            {
                "type": e.type,
                "value": e.value,
                "relation": e.relation,
                "frames": [[f.filename, f.lineno, f.function, f.context_line, f.in_app] for f in e.frames],
            }
            for e in trace.exceptions
        ],
        "warnings": len(trace.warnings),
    }


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sample_parses_as_expected(sample: Path) -> None:
    expected = json.loads(sample.with_name(sample.name.rsplit(".", 1)[0] + ".expected.json").read_text())
    text = sample.read_bytes().decode("utf-8", errors="replace")
    assert shape(parse_trace(text)) == expected


def test_every_language_is_covered() -> None:
    languages = {json.loads(p.read_text())["language"] for p in DATA.glob("*.expected.json")}
    assert languages == {"python", "javascript", "java", "go", "ruby"}
