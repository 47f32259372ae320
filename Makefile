# Two set-up commands (see README): `make demo` and `make test`.
# Both install the package from this checkout first (pip builds the Rust extension with maturin).
PYTHON ?= python3
PIP := $(PYTHON) -m pip
ANN := examples/demo_project_annotations_2026-11-25.json
META := examples/demo_project_dicom_metadata_2026-11-25.json

.PHONY: install demo test test-rust test-python lint validators bench

install:
	$(PIP) install --quiet ".[test]"

demo: install
	mdai-fastexport seg --annotations $(ANN) --metadata $(META) --out demo_out/SEG
	mdai-fastexport sr --annotations $(ANN) --metadata $(META) --out demo_out/SR

validators:
	bash .ci/install-validators.sh

test-rust:
	cargo test --quiet

test-python: install validators
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check --no-cache python tests benchmarks
	$(PYTHON) -m ruff format --no-cache --check python tests benchmarks
	cargo fmt --check
	cargo clippy --quiet --all-targets -- -D warnings
	cargo clippy --quiet --all-targets --features python -- -D warnings

test: test-rust test-python lint

bench:
	$(PIP) install --quiet ".[bench]"
	$(PYTHON) benchmarks/bench_export.py $(BENCH_ARGS)
