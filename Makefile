# The two commands of the README, and a few more. Each installs what it needs first.
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: corpus test lint install install-test bench-deps report dag clean

## corpus: build the default corpus under results/ (real, small, offline, on the CPU)
corpus: install
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)

## test: run the whole test suite (unit tests, real vLLM, end-to-end workflow, style)
test: install-test
	$(BIN)/python -m pytest --durations=20

## lint: the style checks on their own
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint

install:
	@bash tools/install.sh

install-test:
	@bash tools/install.sh --test

## bench-deps: what benchmarks/ needs besides the workflow (text packages, baseline venvs)
bench-deps: install
	@bash tools/install_bench.sh

## report: one browsable HTML file with the figures, dataset card and manifest of the last build
report: install
	$(BIN)/snakemake --profile profiles/default --report report.html

## dag: the pipeline's rule graph as text (dot)
dag: install
	$(BIN)/snakemake --rulegraph

## clean: remove results/ (keeps the virtualenv)
clean:
	rm -rf results .snakemake
