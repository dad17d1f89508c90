# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PORT ?= 8000
PY := .venv/bin/python

.PHONY: run test setup setup-dev browser clean

setup:
	@scripts/bootstrap

setup-dev:
	@scripts/bootstrap dev
	@scripts/install-browser

run: setup
	@scripts/run-demo $(PORT)

test: setup-dev
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf .venv var
