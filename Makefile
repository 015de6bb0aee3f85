# Polku: `make run` serves the embedded LRS on 127.0.0.1:8080; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install services services-stop bench clean

# The PostgreSQL that `make services` starts; the tests' scale-out half runs against it.
POLKU_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export POLKU_TEST_DATABASE_URL

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[kafka,postgres,test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/polku serve

# PostgreSQL started (installed from Debian's packages if missing) and Apache Kafka's jars fetched.
services: $(STAMP)
	PYTHON=$(BIN)/python deploy/services/up.sh

services-stop:
	deploy/services/postgres.sh stop

# Two test processes (one per core): each module stays in one of them (its servers and brokers
# start once), and each process has its own PostgreSQL database and Kafka broker.
PYTEST_WORKERS ?= 2

# The static checks first (ruff's lint, the import rules of pyproject.toml [tool.importlinter]): they fail in seconds.
test: $(STAMP) services
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=20 $(PYTEST_ARGS)

bench: $(STAMP) services
	$(BIN)/python benchmarks/goals.py
	$(BIN)/python benchmarks/statements.py
	$(BIN)/python benchmarks/cohorts.py

clean:
	rm -rf $(VENV) data .pytest_cache
