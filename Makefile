# Two commands on a fresh clone: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,test]'
	touch $(STAMP)

run: install
	$(BIN)/billable demo
	$(BIN)/billable serve

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) billable.db billable.db-wal billable.db-shm
