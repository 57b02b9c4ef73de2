# Developer tasks. Everything runs from a project virtualenv that `install` creates on demand
# (from PyPI), so a machine needs only python3.11 (or python3), git and make.

VENV ?= .venv
PY = $(VENV)/bin/python
PYTEST_ARGS ?= -q
# `make test` runs on this many pytest-xdist workers, each with servers of its own (the
# suite waits on servers more than it computes: 2 workers take ~4 min on 2 cores, against
# ~6-7 min in one process). The slow tests stay in one process: several time themselves.
TEST_WORKERS ?= 2

.PHONY: install run test test-slow lint bench clean

install: $(VENV)/.installed

# Re-installs whenever pyproject.toml changes; the stamp records the last successful install.
$(VENV)/.installed: pyproject.toml
	@if [ ! -x $(PY) ]; then \
		if command -v python3.11 >/dev/null 2>&1; then python3.11 -m venv $(VENV); \
		else python3 -m venv $(VENV); fi; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Embedded Postgres + Temporal + worker + API; DOCKET_* settings pass through the environment.
run: install
	$(PY) -m docket dev

test: install
	$(PY) -m pytest $(PYTEST_ARGS) -n $(TEST_WORKERS)

test-slow: install
	$(PY) -m pytest $(PYTEST_ARGS) -m slow

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Every benchmark on a throwaway stack (~20 min); BENCH_ARGS=--quick for smoke sizes,
# BENCH_ARGS='--only list_jobs' for one (see docs/benchmarks.md).
bench: install
	$(PY) -m bench $(BENCH_ARGS)

# Build and tool caches only: the virtualenv and the dev data dir (.docket) are kept.
clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
