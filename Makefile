# `make demo` and `make test` set everything up themselves (a .venv in this directory).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

DEMO := demo

demo: $(STAMP)
	$(BIN)/digitnet train --plots $(DEMO) --log $(DEMO)/train.jsonl
	$(BIN)/digitnet evaluate --plots $(DEMO)
	$(BIN)/digitnet report --out $(DEMO)
	@echo
	@echo "Pictures and a report are in $(DEMO)/ (open $(DEMO)/index.html). Next, try:"
	@echo "  $(BIN)/digitnet evaluate                 # accuracy, per-class accuracy, confusion matrix"
	@echo "  $(BIN)/digitnet predict MODEL --index 0  # MODEL: the path printed above"
	@echo "  $(BIN)/digitnet train --recipe seed      # the tutorial's run, line for line"

test: $(STAMP)
	$(BIN)/python -m pytest

$(VENV)/.bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
