# Two entry points for a fresh machine (see README): `make demo` and `make test`.
# `make demo` sets up only what the demo and the Fashion-MNIST study need (scripts/setup.sh demo);
# `make test` adds the dev extra, FFCV and the browser the tests use (scripts/setup.sh test).
.PHONY: setup setup-demo demo test lint bench

setup:
	./scripts/setup.sh test

setup-demo:
	./scripts/setup.sh demo

demo: setup-demo
	.venv/bin/ltsweep run demo

test: setup
	.venv/bin/python -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench: setup
	.venv/bin/python -m bench
