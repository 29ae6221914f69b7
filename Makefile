# Two entry points for a fresh machine (see README): `make demo` and `make test`.
.PHONY: setup demo test lint bench

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/ltsweep run demo

test: setup
	.venv/bin/python -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench: setup
	.venv/bin/python -m bench
