# plantlake: every target creates .venv when it is missing and installs the project into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo test ui bench bench-full java install docs soak audit

java:
	@major=$$(java -version 2>&1 | sed -nE '1s/.*version "([0-9]+)[^"]*".*/\1/p'); \
	if [ -z "$$major" ] || [ "$$major" -lt 17 ]; then \
		echo "plantlake needs Java 17 or newer for Spark: install a JDK 17+ (for example 'apt install openjdk-17-jdk-headless') and put 'java' on your PATH."; \
		exit 1; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: java $(STAMP)

demo: install
	$(BIN)/plantlake demo

test: install
	$(BIN)/python -m pytest

ui: install
	$(BIN)/plantlake ui

# One night at 1, 4 and 16 plants x 100 machines, the 30-night history; at most 15 minutes on 2 cores.
bench: install
	$(BIN)/python -m bench.run quick $(BENCH_ARGS)

# One night of the whole network (122 plants x 800 machines): about 19 minutes on 2 cores.
bench-full: install
	$(BIN)/python -m bench.run full $(BENCH_ARGS)

docs: $(STAMP)
	$(BIN)/python -c "import re, pathlib; from lakehouse import catalog; p = pathlib.Path('README.md'); t = p.read_text(); p.write_text(re.sub(r'(<!-- tables:start -->\n).*?(<!-- tables:end -->)', lambda m: m.group(1) + catalog.markdown() + m.group(2), t, flags=re.S))"
	$(BIN)/python -c "import re, pathlib; from sources import contracts; p = pathlib.Path('README.md'); t = p.read_text(); p.write_text(re.sub(r'(<!-- contracts:start -->\n).*?(<!-- contracts:end -->)', lambda m: m.group(1) + contracts.markdown() + m.group(2), t, flags=re.S))"

soak: install
	$(BIN)/python -m bench.soak --nights 60 --every 7

audit: install
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off
