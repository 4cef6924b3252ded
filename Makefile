# Glucodiary: the two commands a newcomer needs (`make run`, `make test`) and a few more.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: browser run test lint typecheck imports test-sqlite test-postgres bench migrate install clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/glucodiary migrate
	$(BIN)/glucodiary demo
	GLUCODIARY_BACKGROUND__IN_API=true $(BIN)/glucodiary serve --host $(HOST) --port $(PORT)

migrate: $(STAMP)
	$(BIN)/glucodiary migrate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

test-sqlite: $(STAMP)
	GLUCODIARY_TEST_BACKEND=sqlite $(BIN)/pytest

# Runs when a server answers; with CI=true a missing server fails the run (tests/conftest.py says why).
test-postgres: $(STAMP)
	GLUCODIARY_TEST_BACKEND=postgres $(BIN)/pytest

# The browser tests use Debian's chromium; install it when we can (root with apt), else they skip and say so.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will skip"; }

# The two database legs run side by side, one per core: the whole run takes about as long as the longer leg.
# --output-sync keeps each leg's output together.
test: lint typecheck imports browser
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

bench: $(STAMP)
	bash bench/run.sh

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
