# `make demo` and `make test` set everything up themselves (a .venv in this directory, and the
# Debian packages the tests need, through scripts/system-packages.sh).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench bench-scaling system-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What the demo needs: the package and its runtime dependencies only.
$(VENV)/.demo: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

# What the tests need: the test extras too.
$(VENV)/.test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.demo

system-test:
	@bash scripts/system-packages.sh test

DEMO := demo

demo: $(VENV)/.demo
	$(BIN)/digitnet train --plots $(DEMO) --log $(DEMO)/train.jsonl
	$(BIN)/digitnet evaluate --plots $(DEMO)
	$(BIN)/digitnet report --out $(DEMO)
	@echo
	@echo "Pictures and a report are in $(DEMO)/ (open $(DEMO)/index.html). Next, try:"
	@echo "  $(BIN)/digitnet evaluate                 # accuracy, per-class accuracy, confusion matrix"
	@echo "  $(BIN)/digitnet predict --index 0        # a test digit, read by the model just trained"
	@echo "  $(BIN)/digitnet serve                    # draw a digit at http://127.0.0.1:8000"
	@echo "  $(BIN)/digitnet train --recipe seed      # the tutorial's run, line for line"

# axe-core, the accessibility checker the browser tests inject (npm, pinned in package-lock.json)
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# lint and types first (seconds), then the tests
test: system-test $(VENV)/.test node_modules/axe-core/axe.min.js
	$(BIN)/ruff check
	$(BIN)/mypy
	$(BIN)/python -m pytest

$(VENV)/.bench: $(VENV)/.test
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run.py

bench-scaling: $(VENV)/.bench  # ~13 minutes: docs/scaling.png and the table in docs/performance.md
	$(BIN)/python benchmarks/scaling.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache node_modules
