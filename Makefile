# seawarden: the two commands are `make demo` (install + run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint browser postgres bench clean

$(BIN)/seawarden: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/seawarden

demo: install
	$(BIN)/seawarden run --demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Debian's chromium for the end-to-end tests (tests/e2e, Playwright with executable_path):
# installed with apt-get when missing and we are root (CI); otherwise a message, and the
# e2e tests skip with that reason. `playwright install` cannot download a browser here.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "make browser: installing Debian's chromium for tests/e2e (apt-get)"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
		echo "make browser: $(CHROMIUM) is missing and we are not root: the end-to-end tests" \
			"(tests/e2e) will be skipped. Install it with: sudo apt-get install chromium"; \
	fi

# A throw-away PostgreSQL 15 + PostGIS cluster for tests/store (the PostgreSQL store): Debian's
# packages apt-installed when missing and we are root (CI); initdb in a temp dir, run as the
# `postgres` user (runuser) when root, listening on 127.0.0.1 on a free port (trust auth:
# loopback only, thrown away), with a database `seawarden_test` owned by a non-superuser role
# `seawarden` and PostGIS created in it. The DSN goes to $(PG_DSN_FILE), which the tests read
# (SEAWARDEN_TEST_PG_DSN overrides); a cluster still answering there is reused. Without the
# packages and not root: a message, and those tests skip with that reason (fail in CI).
PG_DSN_FILE ?= $(VENV)/seawarden-test-pg.dsn
postgres:
	@set -e; \
	pgbin=$$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); \
	if [ -s $(PG_DSN_FILE) ] && [ -n "$$pgbin" ] && \
		$$pgbin/pg_isready -q -d "$$(cat $(PG_DSN_FILE))"; then \
		echo "make postgres: reusing $$(cat $(PG_DSN_FILE))"; exit 0; fi; \
	if [ ! -x "$$pgbin/pg_ctl" ] || ! ls /usr/share/postgresql/*/extension/postgis.control \
		>/dev/null 2>&1; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make postgres: PostgreSQL/PostGIS are missing and we are not root: the" \
				"PostgreSQL store tests will be skipped. Install them with:" \
				"sudo apt-get install postgresql postgresql-15-postgis-3"; \
			exit 0; fi; \
		echo "make postgres: installing Debian's postgresql-15-postgis-3 (apt-get)"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$$([ -x "$$pgbin/pg_ctl" ] || echo postgresql) postgresql-15-postgis-3 >/dev/null; \
		pgbin=$$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); \
	fi; \
	dir=$$(mktemp -d $${TMPDIR:-/tmp}/seawarden-pg.XXXXXX); \
	as=""; if [ "$$(id -u)" = 0 ]; then chown postgres: $$dir; as="runuser -u postgres --"; fi; \
	port=$$($(PYTHON) -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	$$as $$pgbin/initdb -D $$dir/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >$$dir/initdb.log; \
	$$as $$pgbin/pg_ctl -D $$dir/data -l $$dir/server.log -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $$port -k $$dir" start >/dev/null; \
	psql="$$pgbin/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $$port -U postgres"; \
	$$psql -d postgres -c "CREATE ROLE seawarden LOGIN" \
		-c "CREATE DATABASE seawarden_test OWNER seawarden"; \
	$$psql -d seawarden_test -c "CREATE EXTENSION postgis" \
		-c "GRANT CREATE ON SCHEMA public TO seawarden"; \
	mkdir -p $$(dirname $(PG_DSN_FILE)); \
	echo "postgresql://seawarden@127.0.0.1:$$port/seawarden_test" >$(PG_DSN_FILE); \
	echo "make postgres: PostgreSQL + PostGIS at $$(cat $(PG_DSN_FILE)) (cluster in $$dir;" \
		"stop: $$as $$pgbin/pg_ctl -D $$dir/data stop)"

# Two workers (pytest-xdist), a test module at a time; each worker has a PostgreSQL database
# of its own (tests/conftest.py). Then the few `single_process` modules (the schemathesis
# fuzzing) in one process. Plain `pytest` still runs everything in one process.
test: lint browser postgres
	$(BIN)/pytest -n 2 --dist loadfile -m "not single_process"
	$(BIN)/pytest -m single_process

bench: install
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/out
