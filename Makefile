# Two commands on a fresh machine: `make test` (and `make demo` once it exists).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The official SDK at the seed's version, apart from ours, for the compatibility test.
SDK_VENV := .venv-sdk
SDK_STAMP := $(SDK_VENV)/.installed

.PHONY: install generate check-generated lint test sdk-venv bench reliability

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

generate: $(STAMP)
	$(BIN)/python codegen/generate.py

check-generated: $(STAMP)
	$(BIN)/python codegen/generate.py --check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --exclude generated .
	$(BIN)/mypy runs_client runs_server runs_cli generated/runs_gql benchmarks

sdk-venv: $(SDK_STAMP)

$(SDK_STAMP):
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SDK_VENV)/bin/python -m pip install --quiet 'wandb==0.18.0' pandas
	touch $(SDK_STAMP)

test: lint check-generated sdk-venv
	$(BIN)/python -m pytest

# Reruns the reliability suite; its summary prints the figures the README
# quotes (requests tried, faults injected, bad inputs tried, rows lost).
reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability -q

# Server time against the read-and-serialize floor; ratios, side by side in one run.
bench: $(STAMP)
	$(BIN)/python benchmarks/server_speed.py
