# The two commands a newcomer needs: `make run` and `make test`. See README.md.
# `make bench` runs the benchmark suite (bench/README.md); `make lock` resolves the lock files
# (requirements/) again from pyproject.toml.
PORT ?= 8000
PY := .venv/bin/python

.PHONY: run test bench setup setup-dev setup-bench browser clean lock

setup:
	@scripts/bootstrap

setup-dev:
	@scripts/bootstrap dev
	@scripts/install-browser

run: setup
	@scripts/run-demo $(PORT)

test: setup-dev
	$(PY) -m pytest $(PYTEST_ARGS)

setup-bench:
	@scripts/bootstrap bench
	@scripts/install-wrk

bench: setup-bench
	$(PY) -m bench.run $(BENCH_ARGS)

lock:
	@scripts/lock

clean:
	rm -rf .venv var
