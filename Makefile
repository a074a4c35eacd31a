# byom: `make demo` runs the seed flow end to end, `make test` runs every test.
# Both install what they need on a fresh Debian machine (run as root).

PYTHON ?= python3.11
VENV := .venv
RAY_VENV := .venv-ray
MLFLOW_VENV := .venv-mlflow
MLSERVER_VENV := .venv-mlserver
BIN := $(VENV)/bin
STAMP_SYSTEM := .make/system
STAMP_VENV := .make/venv
STAMP_RAY := .make/ray
STAMP_MLFLOW := .make/mlflow
STAMP_MLSERVER := .make/mlserver
STAMP_NODE := .make/node
NODE_CLIENT := tests/clients/node
MARIADB_JAR := /usr/share/java/mariadb-java-client.jar

.PHONY: demo test bench lint typecheck check system venv ray-venv mlflow-venv mlserver-venv clean

demo: $(STAMP_VENV) $(STAMP_RAY)
	$(BIN)/python examples/demo.py --ray-python $(CURDIR)/$(RAY_VENV)/bin/python

test: $(STAMP_SYSTEM) $(STAMP_VENV) $(STAMP_RAY) $(STAMP_MLFLOW) $(STAMP_MLSERVER) \
		$(STAMP_NODE) lint typecheck
	$(BIN)/python -m pytest tests

# Benchmarks are not tests: they print figures and write docs/benchmarks.md.
bench: $(STAMP_SYSTEM) $(STAMP_VENV) $(STAMP_RAY) $(STAMP_MLFLOW) $(STAMP_MLSERVER)
	$(BIN)/python -m bench.run

lint: $(STAMP_VENV)
	$(BIN)/ruff check src tests examples fixtures bench
	$(BIN)/ruff format --check src tests examples fixtures bench

typecheck: $(STAMP_VENV)
	$(BIN)/mypy

check: lint typecheck test

system: $(STAMP_SYSTEM)
venv: $(STAMP_VENV)
ray-venv: $(STAMP_RAY)
mlflow-venv: $(STAMP_MLFLOW)
mlserver-venv: $(STAMP_MLSERVER)

# Database servers and the mariadb client that the tests start and drive themselves,
# plus the client matrix's Debian parts: libmariadb-dev and pkg-config to build
# mysqlclient, libmariadb-java for MariaDB Connector/J (java, javac, node and npm
# come with the machine).
$(STAMP_SYSTEM):
	@mkdir -p .make
	@if ! command -v mariadbd >/dev/null || ! command -v mariadb >/dev/null \
	    || ! { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
	    || ! command -v pkg-config >/dev/null || ! pkg-config --exists libmariadb \
	    || ! test -f $(MARIADB_JAR); then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        mariadb-server mariadb-client postgresql \
	        libmariadb-dev pkg-config libmariadb-java >/dev/null; \
	fi
	@touch $@

# mysqlclient (the mysqlclient extra, and a dev dependency) compiles against
# libmariadb-dev.
$(STAMP_VENV): pyproject.toml $(STAMP_SYSTEM)
	@mkdir -p .make
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# Ray Serve lives in its own environment, as a user's model server would.
$(STAMP_RAY): examples/ray_serve/requirements.txt
	@mkdir -p .make
	$(PYTHON) -m venv $(RAY_VENV)
	$(RAY_VENV)/bin/pip install -q -r examples/ray_serve/requirements.txt
	@touch $@

# The MLflow scoring server the tests run, in its own environment as well.
$(STAMP_MLFLOW): fixtures/mlflow/requirements.txt
	@mkdir -p .make
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install -q -r fixtures/mlflow/requirements.txt
	@touch $@

# MLServer, for the open_inference format's tests, in an environment of its own.
$(STAMP_MLSERVER): fixtures/mlserver/requirements.txt
	@mkdir -p .make
	$(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/pip install -q -r fixtures/mlserver/requirements.txt
	@touch $@

# node mysql2 for the client matrix, at the version package-lock.json pins.
$(STAMP_NODE): $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	@mkdir -p .make
	cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --silent
	@touch $@

clean:
	rm -rf .make $(VENV) $(RAY_VENV) $(MLFLOW_VENV) $(MLSERVER_VENV) \
		$(NODE_CLIENT)/node_modules
