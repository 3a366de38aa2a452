# The two commands of the README: `make demo` and `make test` (both set up first).
.PHONY: setup demo test test-fast lint bench

# The venv's tools (dbt, dagster) first on PATH, as if it were activated.
export PATH := $(CURDIR)/.venv/bin:$(PATH)

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/hot demo

test: setup
	.venv/bin/python -m pytest

# The fast tier: the scoring SQL (dbt on DuckDB), the API and its contract, the units; no
# Spark, Kafka, browser, published stack, Redis Cluster, Dagster pass or whole system (the
# markers, set from fixtures in tests/conftest.py). About 3 minutes on 2 cores.
FAST = not (spark or kafka or browser or stack or cluster or pipeline or system or slow)
test-fast: setup
	.venv/bin/python -m pytest -m "$(FAST)"

# ruff, then the import layers (the contracts in pyproject.toml's [tool.importlinter]).
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

bench: setup
	.venv/bin/python bench/pipeline.py && .venv/bin/python bench/api.py
