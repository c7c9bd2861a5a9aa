# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-reliability lint audit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve on http://127.0.0.1:8000 with the embedded PostgreSQL (unless DATABASE_URL is set),
## migrations applied, demo data on first start and the job worker in the same process, as a
## sandbox whose clock can be moved forward (SANDBOX=false to run on the system clock alone).
run: install
	SANDBOX=$${SANDBOX:-true} $(BIN)/techx serve --migrate --demo --with-worker

## The test suite against a real PostgreSQL, then the linters and the type checker.
test: install
	$(BIN)/pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@$(MAKE) --no-print-directory audit

## Faults and load: PostgreSQL restarted under load, concurrent mixed traffic. Also part of
## `make test` (they fit its time budget).
test-reliability: install
	$(BIN)/pytest tests/reliability

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Known vulnerabilities in the installed dependencies (pip-audit): fails on a finding, skips
## (and says so) when the vulnerability service cannot be reached, as on an offline machine.
AUDIT_ERR := $(or $(TMPDIR),/tmp)/techx-pip-audit.err
audit: install
	@status=0; $(BIN)/pip-audit --local --skip-editable --progress-spinner off --timeout 15 \
		2>$(AUDIT_ERR) || status=$$?; \
	if [ $$status -ne 0 ] && grep -qiE "connection|timed? ?out|resolve|network|unreachable" $(AUDIT_ERR); then \
		echo "pip-audit: vulnerability service unreachable, skipped"; status=0; \
	else cat $(AUDIT_ERR) >&2; fi; rm -f $(AUDIT_ERR); exit $$status

## Every benchmark prints one JSON object of figures. HTTP load comes from wrk (C): installed
## with apt when missing and allowed, else the line says how.
bench: install
	@command -v wrk >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& apt-get install -y -qq wrk >/dev/null) \
		|| { echo "bench: wrk is missing: apt-get install wrk (Debian/Ubuntu)"; exit 1; }
	@for script in bench/[a-z]*_*.py; do $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
