# Two set-up commands (see README): `make demo` and `make test`.
#
# Python environment: the activated virtual environment ($VIRTUAL_ENV) when there is one, else
# ./.venv, created on first use with $(BOOTSTRAP_PYTHON). Every command runs that environment's
# interpreter ($(PYTHON) -m ...), so nothing needs to be activated and no script needs to be on
# PATH. Overrides: `make test VENV=.venv-other`, `make test PYTHON=/path/to/python` (a conda
# environment, say), `make test BOOTSTRAP_PYTHON=python3.12`.
#
# Versions: pip installs the package and its test extra under the constraints file
# $(CONSTRAINTS): by default constraints/locked.txt, the exact versions CI tests with.
# `make test CONSTRAINTS=constraints/lowest.txt` tests the lowest supported versions;
# `make test CONSTRAINTS=` lets pip choose anything within pyproject.toml's ranges.
# PYTEST_ARGS: extra pytest arguments, e.g. `make test-python PYTEST_ARGS="-x -k raster"`.
BOOTSTRAP_PYTHON ?= python3
ifneq ($(strip $(VIRTUAL_ENV)),)
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
CONSTRAINTS := constraints/locked.txt
PIP_INSTALL = $(PIP) install --quiet $(if $(strip $(CONSTRAINTS)),--constraint $(CONSTRAINTS))
# `make test-lowest`: the Python tests again, in a second environment, under the lowest
# supported versions, with the oldest supported Python when one is installed.
LOWEST_VENV := target/venv-lowest
LOWEST_PYTHON ?= $(or $(shell for p in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo "$$p" && break; done),$(BOOTSTRAP_PYTHON))
ANN := examples/demo_project_annotations_2026-11-25.json
META := examples/demo_project_dicom_metadata_2026-11-25.json

.PHONY: venv install install-test demo test test-rust test-python test-lowest lint validators bench

# Creates ./.venv (or $(VENV)) unless PYTHON was pointed at another interpreter.
venv: $(if $(filter $(VENV)/bin/python,$(PYTHON)),$(VENV)/bin/python)

$(VENV)/bin/python:
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

# pip builds the Rust extension with maturin (a few minutes the first time, seconds after).
install: venv
	@echo "Installing mdai-fastexport into $(VENV) (constraints: $(or $(CONSTRAINTS),none))"
	$(PIP_INSTALL) .

install-test: venv
	@echo "Installing mdai-fastexport[test] into $(VENV) (constraints: $(or $(CONSTRAINTS),none))"
	$(PIP_INSTALL) ".[test]"

demo: install
	$(PYTHON) -m mdai_fastexport seg --annotations $(ANN) --metadata $(META) --out demo_out/SEG
	$(PYTHON) -m mdai_fastexport sr --annotations $(ANN) --metadata $(META) --out demo_out/SR

validators:
	bash .ci/install-validators.sh

test-rust:
	cargo test --quiet

test-python: install-test validators
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)

lint: install-test
	$(PYTHON) -m ruff check --no-cache python tests benchmarks
	$(PYTHON) -m ruff format --no-cache --check python tests benchmarks
	cargo fmt --check
	cargo clippy --quiet --all-targets -- -D warnings
	cargo clippy --quiet --all-targets --features python -- -D warnings

test: test-rust test-python lint

test-lowest:
	$(MAKE) test-python VENV=$(LOWEST_VENV) PYTHON=$(LOWEST_VENV)/bin/python \
		BOOTSTRAP_PYTHON=$(LOWEST_PYTHON) CONSTRAINTS=constraints/lowest.txt

bench: venv
	$(PIP) install --quiet ".[bench]"
	$(PYTHON) benchmarks/bench_export.py $(BENCH_ARGS)
