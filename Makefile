# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The project, editable, with every extra (and the newest pip, for the wheel test).
PROJECT_DEV := -e '.[all,dev]' --upgrade pip
# The official SDK at the seed's version, apart from ours, for the compatibility test.
SDK_VENV := .venv-sdk
SDK_STAMP := $(SDK_VENV)/.installed
# The newest official SDK we test (its scan_history reads Parquet with pyarrow).
SDK31_VENV := .venv-sdk31
SDK31_STAMP := $(SDK31_VENV)/.installed

.PHONY: install demo generate check-generated lint test sdk-venv sdk31-venv bench reliability

# pip puts uv into each new venv; uv then resolves, downloads and installs in
# parallel (about half pip's time for these venvs), compiling bytecode as pip
# does. uv reads UV_* settings (UV_INDEX_URL...), not pip.conf.
define uv_install
$(1)/bin/python -m pip install --quiet 'uv>=0.5'
$(1)/bin/python -m uv pip install --quiet --compile-bytecode --python $(1)/bin/python $(2)
endef

install: $(STAMP)

# The editable install's import hook is invisible to type checkers, which
# would see runs_client as Any outside the repository: the .pth file's plain
# path entries let mypy and pyright resolve runs_client and runs_gql anywhere.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(call uv_install,$(VENV),$(PROJECT_DEV))
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/generated" > \
	  "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/runs_client_paths.pth"
	touch $(STAMP)

# The main job: a local server with demo data, a runs table, a Parquet export
# and a plot in ./demo-output/.
demo: $(STAMP)
	$(BIN)/runs-client demo

generate: $(STAMP)
	$(BIN)/python codegen/generate.py

check-generated: $(STAMP)
	$(BIN)/python codegen/generate.py --check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --exclude generated .
	$(BIN)/mypy runs_client runs_server runs_cli runs_mirror generated/runs_gql benchmarks

sdk-venv: $(SDK_STAMP)

$(SDK_STAMP):
	$(PYTHON) -m venv $(SDK_VENV)
	$(call uv_install,$(SDK_VENV),'wandb==0.18.0' pandas)
	touch $(SDK_STAMP)

sdk31-venv: $(SDK31_STAMP)

$(SDK31_STAMP):
	$(PYTHON) -m venv $(SDK31_VENV)
	$(call uv_install,$(SDK31_VENV),'wandb==0.31.0' pyarrow pandas polars)
	touch $(SDK31_STAMP)

# Test files spread over up to 4 pytest-xdist workers (one per core; a file's
# tests share one worker and its module fixtures).
test: lint check-generated sdk-venv sdk31-venv
	$(BIN)/python -m pytest --numprocesses auto --maxprocesses 4 --dist loadfile

# Reruns the reliability suite; its summary prints the figures the README
# quotes (requests tried, faults injected, bad inputs tried, rows lost).
reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability tests/server_bounds -q

# Ratios measured side by side in one run: the server against its
# read-and-serialize floor, then histories() against the per-run client,
# then mirroring against scan_history run by run, then the official SDK
# logging into the server against logging offline, then columnar histories
# against reading the same rows from Parquet, then 10^3 and 10^4 runs into a
# dataset partitioned by run (flat memory), then AsyncApi against Api, then
# lean listings against SDK 0.31, then serve --workers 2 against 1 under 16
# client processes, then the web pages in headless Chromium (each exits
# non-zero on a missed target).
BENCHMARKS := server_speed histories_speed mirror_speed sdk_logging \
  columnar_speed dataset_memory async_speed listing_speed concurrency_speed \
  web_speed

# Every benchmark runs (and writes its figures) even after another missed;
# the target exits non-zero at the end, naming the misses.
bench: $(STAMP) sdk31-venv
	@missed=""; for name in $(BENCHMARKS); do \
	  echo "== benchmarks/$$name.py"; \
	  $(BIN)/python benchmarks/$$name.py || missed="$$missed $$name"; \
	done; \
	if [ -n "$$missed" ]; then echo "make bench: missed in$$missed"; exit 1; fi
