# Polku: `make run` serves the embedded LRS on 127.0.0.1:8080; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[kafka,postgres,test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/polku serve

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/statements.py
	$(BIN)/python benchmarks/cohorts.py

clean:
	rm -rf $(VENV) data .pytest_cache
