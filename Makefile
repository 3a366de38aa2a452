# The two commands of the README: `make demo` and `make test` (both set up first).
.PHONY: setup demo test lint bench

# The venv's tools (dbt, dagster) first on PATH, as if it were activated.
export PATH := $(CURDIR)/.venv/bin:$(PATH)

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/hot demo

test: setup
	.venv/bin/python -m pytest

# ruff, then the import layers (the contracts in pyproject.toml's [tool.importlinter]).
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

bench: setup
	.venv/bin/python bench/pipeline.py && .venv/bin/python bench/api.py
