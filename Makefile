# Two commands on a fresh machine: `make test` (and `make demo` once it exists).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The official SDK at the seed's version, apart from ours, for the compatibility test.
SDK_VENV := .venv-sdk
SDK_STAMP := $(SDK_VENV)/.installed
# The newest official SDK we test (its scan_history reads Parquet with pyarrow).
SDK31_VENV := .venv-sdk31
SDK31_STAMP := $(SDK31_VENV)/.installed

.PHONY: install generate check-generated lint test sdk-venv sdk31-venv bench

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

sdk31-venv: $(SDK31_STAMP)

$(SDK31_STAMP):
	$(PYTHON) -m venv $(SDK31_VENV)
	$(SDK31_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SDK31_VENV)/bin/python -m pip install --quiet 'wandb==0.31.0' pyarrow pandas polars
	touch $(SDK31_STAMP)

test: lint check-generated sdk-venv sdk31-venv
	$(BIN)/python -m pytest

# Server time against the read-and-serialize floor; ratios, side by side in one run.
bench: $(STAMP)
	$(BIN)/python benchmarks/server_speed.py
