# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: venv demo test fuzz lint bench chaos examples clean sqlite-schema

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "incidentbot needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e ".[test]"
	@touch $@

venv: $(VENV)/.installed

# The newest major release of the Sentry SDK, in a venv of its own (ours pins 2.x): the ingest tests send an
# event with it, since the applications that report to incidentbot upgrade on their own schedule.
SENTRY3 := .venv-sentry3
$(SENTRY3)/.installed:
	$(PYTHON) -m venv $(SENTRY3)
	$(SENTRY3)/bin/python -m pip --disable-pip-version-check -q install "sentry-sdk>=3,<4" "brotli>=1.2"
	@touch $@

demo: venv
	$(PY) examples/build_demo_repo.py examples/shop-repo
	$(PY) examples/capture_event.py examples/shop-repo examples/demo-event.json
	$(VENV)/bin/incidentbot triage examples/demo-event.json --repo examples/shop-repo

# The rendered Slack message and GitHub issue of the demo incident, for docs/destinations.md.
examples: venv
	$(PY) examples/build_demo_repo.py examples/shop-repo
	$(PY) examples/capture_event.py examples/shop-repo examples/demo-event.json
	$(PY) examples/render_examples.py examples/shop-repo examples/demo-event.json docs/examples

test: venv $(SENTRY3)/.installed
	INCIDENTBOT_TEST_SENTRY3_PYTHON=$(CURDIR)/$(SENTRY3)/bin/python $(PY) -m pytest

# After adding a store migration: the tables a new SQLite store is created with, without SQLAlchemy.
sqlite-schema: venv
	$(PY) -c "from incidentbot.store import write_sqlite_schema; print('wrote', write_sqlite_schema())"

# The property tests of the parsers, renderers and redaction, longer than in `make test` (FUZZ_EXAMPLES each).
FUZZ_EXAMPLES ?= 5000
fuzz: venv
	INCIDENTBOT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/parse/test_fuzz.py tests/adversarial/test_fuzz_renderers.py tests/test_scrub.py

lint: venv
	$(VENV)/bin/ruff check incidentbot linkers reporters tests benchmarks examples
	$(VENV)/bin/ruff format --check incidentbot linkers reporters
	$(VENV)/bin/mypy

bench: venv
	$(PIP) install -e ".[test,bench]"
	$(PY) -m benchmarks.run

# The daemon through kill -9, destination faults, dropped database connections, a full disk and a burst
# (benchmarks/chaos.py, about 10 minutes); kept out of `make test`. The table goes into benchmarks/results.md.
chaos: venv
	$(PIP) install -e ".[test,bench]"
	$(PY) -m benchmarks.chaos --write

clean:
	rm -rf $(VENV) $(SENTRY3) examples/shop-repo examples/demo-event.json benchmarks/work build dist *.egg-info
