# The two commands a new user runs:  `make run`  and  `make test`.
# Both set up what they need first (a virtualenv with the package, and for tests the local
# services, Debian's chromium and the npm tools for the widget checks).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test test-fast setup demo clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

## run: the app on the embedded default (SQLite, tasks in-process, messages to the outbox folder)
run: $(STAMP)
	$(BIN)/backbell serve

demo: $(STAMP)
	$(BIN)/backbell demo

## test: every stage — the suite on PostgreSQL + Redis (+ real Celery workers, + chromium) with branch
## coverage, Lighthouse alone, the same suite with the app clock years ahead, the fuzz and fault tests, the
## fast subset on SQLite — then the stage summary. Pass pytest arguments with ARGS="-k redact";
## move the clock-ahead stage with CLOCK=2031-01-01 (or BACKBELL_TEST_CLOCK).
test: $(STAMP)
	$(if $(CLOCK),BACKBELL_TEST_CLOCK=$(CLOCK)) scripts/test $(ARGS)

test-fast: $(STAMP)
	BACKBELL_TEST_BACKEND=sqlite $(BIN)/pytest -q -n 2 -m "not pg_only and not worker and not browser and not fuzz and not fault" $(ARGS)

## bench: issue #13's benchmarks (not tests: never part of `make test`). Needs the local PostgreSQL
## and Redis (db 15); installs the bench extra, wrk and the widget's Lighthouse when missing. Each
## script is bounded by `timeout`; about 15 minutes in all. Results: bench/RESULTS.md.
BENCH_RUN := $(BIN)/python
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)
	test -x tests/widget/node_modules/.bin/lighthouse || (cd tests/widget && npm ci --no-audit --no-fund)
	timeout 300 $(BENCH_RUN) bench/ingress.py --seconds 5 --rounds 3
	timeout 300 $(BENCH_RUN) bench/restock.py --trials 50 --big 20000
	timeout 420 $(BENCH_RUN) bench/fanout.py --sizes 10000,100000 --profile
	timeout 240 $(BENCH_RUN) bench/intake.py --seconds 8 --rounds 2
	timeout 300 $(BENCH_RUN) bench/reconcile.py --variants 2000 --page-variants 500
	timeout 900 $(BENCH_RUN) bench/storefront.py --runs 3

clean:
	rm -rf $(VENV) instance tests/artifacts .cache .coverage .coverage.*
