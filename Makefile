# Two commands do everything on a fresh machine: `make study` and `make test`.
# Each creates the virtual environment .venv on first use (pinned versions from pyproject.toml).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
CORES ?= all
CONFIG ?= config/config.yaml
# Scripts run by Snakemake must find the venv's python and modedrop.
export PATH := $(BIN):$(PATH)
# --max-jobs-per-timespan: Snakemake's default (100/1s) re-plans every second while the cores are
# busy, stat-ing every ready job's inputs each time: a fifth of a core on the default study.
# Every 10 s is ample for local jobs (docs/performance.md, "The scheduler's own time").
SNAKEMAKE := snakemake --cores $(CORES) --configfile $(CONFIG) --show-failed-logs \
	--max-jobs-per-timespan 100/10s

.PHONY: help study report test lint bench clean-results

help:
	@echo "make study   run the whole study on the embedded default data set (results/)"
	@echo "make test    lint (ruff, snakemake --lint) and run the test suite"
	@echo "make report  build results/report.html from a finished study"
	@echo "make bench   run the benchmark suite (about 23 min on 2 cores; results/bench/)"

$(VENV)/.installed-study: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-study
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

study: $(VENV)/.installed-study
	time $(SNAKEMAKE)
	$(SNAKEMAKE) --report results/report.html

report: $(VENV)/.installed-study
	$(SNAKEMAKE) --report results/report.html

lint: $(VENV)/.installed-test
	ruff check .
	ruff format --check .
	snakemake --lint --configfile $(CONFIG)

test: lint
	pytest

# Not part of `make test` (too slow); tests/test_benchmarks.py runs every benchmark at a tiny size.
# BENCH_SCALE=full runs the end-to-end comparison on the whole default study (hours on 2 cores).
BENCH_SCALE ?= default
bench: $(VENV)/.installed-test
	time python -m benchmarks.run --scale $(BENCH_SCALE) --out results/bench

clean-results:
	rm -rf results/*/ .snakemake/
