# plantlake: every target creates .venv when it is missing and installs the project into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo test check ui serve bi bench bench-full java install docs docs-serve soak audit

java:
	@major=$$(java -version 2>&1 | sed -nE '1s/.*version "([0-9]+)[^"]*".*/\1/p'); \
	if [ -z "$$major" ] || [ "$$major" -lt 17 ]; then \
		echo "plantlake needs Java 17 or newer for Spark: install a JDK 17+ (for example 'apt install openjdk-17-jdk-headless') and put 'java' on your PATH."; \
		exit 1; \
	fi

# pip installs uv, uv the project and its bytecode: the same versions in 60 % of pip's time (docs/testing.md); pip and
# setuptools are upgraded past the advisories of the ones Python bundles (docs/operations.md).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --upgrade-package pip --upgrade-package setuptools \
		--compile-bytecode pip setuptools -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: java $(STAMP)

# Every target's Python processes keep the project's bytecode (and pytest its rewritten test modules) in
# __pycache__ (git ignores it), also where the environment says PYTHONDONTWRITEBYTECODE: the tests start dozens of
# processes that import the project, `make ui` and `make demo` a few, each of which would compile it again.
unexport PYTHONDONTWRITEBYTECODE

demo: install
	$(BIN)/plantlake demo

# The suite on WORKERS pytest-xdist workers; the files that share a lake go to one worker together
# (tests/conftest.py, docs/testing.md). WORKERS=0 runs it in this one process.
WORKERS ?= 2
test: install
	$(BIN)/python -m pytest $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadgroup)

# The inner loop before a commit: ruff, then the tests that need no JVM, no server and no S3 (docs/testing.md).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not (spark or s3 or server or cluster or slow)"

ui: install
	$(BIN)/plantlake ui

# The gold tables for BI tools over JDBC/ODBC/hive:// on 127.0.0.1:10000 (docs/bi.md); SERVE_ARGS="--port 10001 --layer ops".
serve: install
	$(BIN)/plantlake serve $(SERVE_ARGS)

# Superset on 127.0.0.1:8088 with the plant manager's dashboard, against plantlake serve (own venv: .venv-bi).
# Not part of make test; BI_ARGS=--check-only stops after checking that every chart returns data.
bi: install
	bash bi/up.sh $(BI_ARGS)

# One night at 1, 4 and 16 plants x 100 machines, the 30-night history (at most 15 minutes on 2 cores); the BI
# endpoint; ten years of a supplier export and the Azure plant as history runs (about 12 minutes); then the
# 16x100 night through a real dagster-daemon against plantlake run (about 2 minutes, bench/daemon.py).
bench: install
	$(BIN)/python -m bench.run quick $(BENCH_ARGS)
	$(BIN)/python -m bench.serve
	$(BIN)/python -m bench.history
	$(BIN)/python -m bench.daemon

# One night of the whole network (122 plants x 800 machines): about 19 minutes on 2 cores.
# DAEMON=1 adds the whole network's night twice more: through dagster-daemon and as plantlake run (bench/daemon.py).
bench-full: install
	$(BIN)/python -m bench.run full $(BENCH_ARGS)
	@if [ -n "$(DAEMON)" ]; then $(BIN)/python -m bench.daemon --network 122x800 --timeout 90; fi

# The documentation site (mkdocs.yml): reference pages generated from the catalog and the contracts, then
# built in strict mode into site/ (a broken link or a missing page fails it).
docs: $(STAMP)
	$(BIN)/python docs/gen_reference.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

soak: install
	$(BIN)/python -m bench.soak --nights 60 --every 7

audit: install
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off
