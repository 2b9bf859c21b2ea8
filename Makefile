# Flowsite: `make run` serves the app, `make test` runs the whole suite.
# Both work on a fresh machine with only Python 3.11+ and make: with REDIS_URL unset an embedded
# Valkey server (Redis-compatible) is started, with DATABASE_URL unset SQLite under var/ is used.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

# Tests run against $REDIS_URL when set, else against an embedded Valkey started for them.
ifdef REDIS_URL
WITH_REDIS :=
else
WITH_REDIS := $(BIN)/python -m flowsite.embedded_redis --dir var/test-redis --
endif

.PHONY: run test lint format bench browser example runner clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py serve

runner: $(STAMP)
	$(BIN)/python manage.py runflows

example: $(STAMP)
	$(BIN)/python examples/stripe_flow_example.py
	$(BIN)/python examples/stripe_http_example.py
	$(BIN)/python examples/branching_example.py

# Browser tests drive Debian's Chromium; install it where missing and we may.
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

test: $(STAMP) browser
	$(WITH_REDIS) $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) browser
	$(WITH_REDIS) $(BIN)/python bench/engine.py
	$(WITH_REDIS) $(BIN)/python bench/long_chain.py
	$(WITH_REDIS) $(BIN)/python bench/http_steps.py
	$(WITH_REDIS) $(BIN)/python bench/builder.py
	$(WITH_REDIS) $(BIN)/python bench/scheduler.py
	$(WITH_REDIS) $(BIN)/python bench/live_latency.py
	$(WITH_REDIS) $(BIN)/python bench/live_fanout.py
	$(WITH_REDIS) $(BIN)/python bench/live_overhead.py
	$(WITH_REDIS) $(BIN)/python bench/runs_load.py
	$(WITH_REDIS) $(BIN)/python bench/metrics.py
	$(BIN)/python bench/cluster.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
