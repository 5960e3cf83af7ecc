# Two commands on a fresh clone: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install browser run test bench clean

# Running the service needs its runtime alone; the tests add their tools (test_makefile.py).
install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server]'
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[server,test]'
	touch $(TEST_STAMP)

run: install
	$(BIN)/billable demo
	$(BIN)/billable serve

# The type checker first: strict on the package and the benchmark, then the tests, which
# need no annotations but are checked all the same.
TEST_TYPING := --allow-untyped-defs --allow-incomplete-defs --allow-untyped-calls --allow-any-generics --no-warn-return-any

test: $(TEST_STAMP) browser
	$(BIN)/mypy
	$(BIN)/mypy tests $(TEST_TYPING)
	$(BIN)/python -m pytest

# The benchmark (docs/performance.md): not part of the tests. SIZE is S, M or L; DB is
# sqlite or postgresql (127.0.0.1:5432, user postgres).
SIZE ?= S
DB ?= sqlite
BENCH_STAMP := $(VENV)/.installed-bench

bench: install $(BENCH_STAMP)
	$(BIN)/python bench/benchmark.py --size $(SIZE) --database $(DB)

$(BENCH_STAMP): pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[server,bench]'
	touch $(BENCH_STAMP)

# The page's end-to-end tests drive Debian's Chromium; no browser is downloaded.
browser:
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

clean:
	rm -rf $(VENV) billable.db billable.db-*
