# seawarden: the two commands are `make demo` (install + run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint browser bench clean

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

test: lint browser
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/out
