# Entry points for a fresh Debian 12 machine (Python 3.11, root):
#   make demo        set everything up, then build the default dataset
#   make test        set everything up, then run the whole test suite (Blender, Slurm; what CI runs)
#   make test-fast   everything but the `slow` and `slurm` tests: the lane for each change
#   make check       lint, format check, types, and workflow lint (CI runs it too)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synthact-installed
CORES ?= all
# pytest-xdist workers. make test runs two, grouped by tests/conftest.py: the Slurm tests
# on one worker, the other slow tests (renders, workflows) one after another on the other,
# the fast ones around them. So no two local workflows share the 2 cores (two side by side,
# 8 Blender tasks, once stalled for an hour here). TEST_WORKERS=1 runs it in one process.
# --no-loadscope-reorder keeps conftest's order (the Slurm tests first).
TEST_WORKERS ?= 2
FAST_WORKERS ?= 2
workers = $(if $(filter 1,$(1)),,-n $(1) --dist loadgroup --no-loadscope-reorder)
# Runtime libraries of the bpy wheel, and h5ls/h5dump for reading shards.
APT_PACKAGES := libgl1 libegl1 libx11-6 libxext6 libxfixes3 libxi6 libxrender1 libxkbcommon0 libsm6 libice6 hdf5-tools

export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup demo test test-fast check system-deps dry-run clean-demo install-profile

setup: system-deps $(STAMP)

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install these Debian packages: $$missing" >&2; exit 1; fi; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "bpy 5.0 needs Python 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned, so that no dependency pulls a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: setup
	$(BIN)/snakemake --cores $(CORES)

dry-run: setup
	$(BIN)/snakemake -n --cores $(CORES)

test: setup
	$(BIN)/python -m pytest $(call workers,$(TEST_WORKERS))

test-fast: setup
	$(BIN)/python -m pytest $(call workers,$(FAST_WORKERS)) -m "not slow and not slurm"

# Each step runs even when an earlier one fails, so one run shows every finding.
check: setup
	@status=0; \
	echo "== ruff check"; $(BIN)/ruff check . || status=1; \
	echo "== ruff format --check"; $(BIN)/ruff format --check . || status=1; \
	echo "== mypy synthact"; $(BIN)/mypy synthact || status=1; \
	echo "== snakemake --lint"; $(BIN)/python scripts/lint-workflow.py || status=1; \
	exit $$status

clean-demo:
	rm -rf output/demo data/demo

# Lets HPC users type `snakemake --profile slurm` (Snakemake looks in ~/.config/snakemake).
install-profile:
	mkdir -p $(HOME)/.config/snakemake
	ln -sfn $(abspath profiles/slurm) $(HOME)/.config/snakemake/slurm
	@echo "installed: snakemake --profile slurm -> $(abspath profiles/slurm)"
