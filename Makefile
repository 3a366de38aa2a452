# The two commands of the README: `make demo` and `make test` (both set up first).
.PHONY: setup demo test lint bench

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/hot demo

test: setup
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench: setup
	.venv/bin/python bench/pipeline.py && .venv/bin/python bench/api.py
