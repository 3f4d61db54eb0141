# The one task vocabulary for people, hooks and CI. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export FLIGHTDELAY_TOOLS_BIN := $(CURDIR)/.venv-tools/bin
export DVC_NO_ANALYTICS := 1

HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
PIPELINE_BUNDLE := models/bundle
MODEL_DIR ?= $(PIPELINE_BUNDLE)
BASE ?= main
# The champion bundle for the gate and the PR report (the `model-vN` release asset, extracted);
# `none`: no model released yet (floors and base only); empty: the registry's champion when
# MLFLOW_TRACKING_URI is set.
CHAMPION_BUNDLE ?=
CHAMPION_ARGS = $(if $(filter none,$(CHAMPION_BUNDLE)),--no-champion,$(if $(CHAMPION_BUNDLE),--champion-bundle $(CHAMPION_BUNDLE)))
# Bytecode is written on first import, once, by whichever process imports a module first, so the
# environments are not compiled whole at install (most of a 1 GB environment is never imported).
# Every recipe therefore writes bytecode even where the caller's PYTHONDONTWRITEBYTECODE is set: with
# it, each of the hundreds of processes a test run or a pipeline starts would compile its imports
# again. FLIGHTDELAY_COMPILE_BYTECODE=1 compiles everything at install instead (e.g. for an image).
unexport PYTHONDONTWRITEBYTECODE
COMPILE := $(if $(filter 1,$(FLIGHTDELAY_COMPILE_BYTECODE)),--compile-bytecode,)
# ... and the packages' bytecode is compiled once per machine inside uv's cache, which uv hard-links
# into every environment it makes (scripts/bytecode_cache.py): a fresh environment (a clone, each CI
# job) then starts compiled instead of compiling its imports again (≈9 CPU s for the pipeline's).
BYTECODE_MARKERS = $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/flightdelay/bytecode
bytecode_cache = $(1)/bin/python scripts/bytecode_cache.py "$$($(UV) cache dir)" $(BYTECODE_MARKERS) $(1)

.PHONY: help setup tools system data repro lock-check gate report rehearse lint format test test-fast test-serve-env serve-env demo serve kernel bench bench-pipeline bench-pr bench-serve soak lock clean drift bench-drift bench-outcomes bench-scale

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# uv itself lives outside the project, once per machine and version (CI caches it with uv's own
# cache): the environments are then made by uv in seconds, without `python -m venv` and pip.
UV_HOME ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/flightdelay/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
export FLIGHTDELAY_UV := $(UV)

$(UV):
	@echo "setup: installing uv $(UV_VERSION) into $(UV_HOME) (once per machine)"
	@rm -rf $(UV_HOME) && $(PYTHON) -m venv $(UV_HOME)
	@$(UV_HOME)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The project itself is built with the environment's own pinned setuptools (requirements.txt): an
# isolated build environment would cost every fresh .venv (each CI job) about 1.5 s more.
$(STAMP): requirements.txt pyproject.toml | $(UV)
	@test -x $(BIN)/python || { echo "setup: creating $(VENV) with $(PYTHON)"; $(UV) venv --quiet --seed --python $(PYTHON) $(VENV); }
	@echo "setup: installing pinned requirements.txt into $(VENV) (uv)"
	@VIRTUAL_ENV=$(CURDIR)/$(VENV) $(UV) pip sync --quiet $(COMPILE) requirements.txt
	@VIRTUAL_ENV=$(CURDIR)/$(VENV) $(UV) pip install --quiet --no-deps --no-build-isolation -e .
	@$(call bytecode_cache,$(VENV))
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned environment (reused when up to date)

TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
$(TOOLS_STAMP): requirements-tools.txt $(STAMP)
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	@echo "setup: installing pinned linters (requirements-tools.txt) into $(TOOLS)"
	@VIRTUAL_ENV=$(CURDIR)/$(TOOLS) $(UV) pip sync --quiet $(COMPILE) requirements-tools.txt
	@$(call bytecode_cache,$(TOOLS))
	@touch $(TOOLS_STAMP)

system: ## install promtool, wrk and a C compiler from Debian packages when missing (.ci/system-packages)
	@.ci/system-packages

tools: $(TOOLS_STAMP) ## install the offline linters (checkov, zizmor, hadolint, …) into .venv-tools

data: setup ## restore the DVC-tracked raw partitions (remote, else embedded source; hashes verified)
	@flightdelay data restore

repro: data ## run the DVC pipeline (dvc repro)
	@dvc repro

lock-check: setup ## does the committed dvc.lock record what `dvc repro` just built? (PR check)
	flightdelay lock check

gate: setup ## may the candidate ship? floors, base (BASE=ref, default main), champion re-scored
	flightdelay gate --base $(BASE) $(CHAMPION_ARGS)

report: setup ## PR report (markdown + PNG) vs BASE in reports/pr/ (needs `dvc repro` first)
	flightdelay report pr --base $(BASE) $(CHAMPION_ARGS)

rehearse: setup tools system ## the six workflow files through the local forge (act), fast; .rehearsal/summary.json
	python -m rehearsal --fast

lint: setup ## ruff (lint + format check) and mypy
	ruff check src api tests scripts rehearsal
	ruff format --check src api tests scripts rehearsal
	mypy

format: setup ## apply ruff fixes and formatting
	ruff check --fix src api tests scripts rehearsal
	ruff format src api tests scripts rehearsal

# pytest-xdist workers for the suite (the rehearsal runs beside them); 0 runs it in one process.
# A test module stays on one worker (--dist loadscope): its module fixtures (a checkov scan, an S3
# server, a Prometheus) are built once.
TEST_WORKERS ?= 2
# The rehearsal (`--quick`: every workflow file runs, the story stops before the v2 release; several
# minutes, mostly waiting on subprocesses) runs in the background while the other checks run; tests/e2e/test_rehearsal.py, run last, waits for it and asserts on its
# summary. Whatever happens, the trap stops it (it stops every service it started). Lint, the
# serving-only tests, audit and SBOM run two at a time, each one's output kept together.
test: setup tools system kernel ## every check: lint, type check, audit, SBOM, unit + integration + static deploy + policy checks, the rehearsal
	@mkdir -p .rehearsal && rm -f .rehearsal/summary.json
	@echo "test: make rehearse runs in the background (log: .rehearsal/rehearse.log)"
	@python -m rehearsal --fast --quick > .rehearsal/rehearse.log 2>&1 & pid=$$!; \
	  trap 'kill $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true' EXIT; \
	  $(MAKE) --no-print-directory -j2 --output-sync=target lint test-serve-env audit sbom && \
	  pytest -q -n $(TEST_WORKERS) --dist loadscope --durations=15 -m "not serve_only" --ignore=tests/e2e && \
	  REHEARSAL_PID=$$pid pytest -q tests/e2e  # serve_only ran in test-serve-env

.PHONY: check-deploy
check-deploy: setup tools system ## render, validate, policy-check, unit-test alerts and checkov-scan deploy/ and argocd/
	MYPYPATH=scripts mypy --strict --explicit-package-bases scripts/check_*.py
	$(FLIGHTDELAY_TOOLS_BIN)/python scripts/check_deploy.py all

test-fast: setup ## unit tests only
	pytest -q -m "not slow"

demo: setup tools system ## the whole GitOps lifecycle through the workflow files (act + local forge), offline
	python scripts/demo.py

# On a fresh clone the pipeline's bundle does not exist yet: it is pulled (DVC remote) or built
# (data restore + dvc repro) first. Any other MODEL_DIR is served as given. A bundle or setting
# that cannot serve stops gunicorn before its workers start, with one line saying what to do.
serve: setup kernel ## run gunicorn on the latest trained bundle, building it first if missing (HOST, PORT, MODEL_DIR, WORKERS)
	@if [ "$(MODEL_DIR)" = "$(PIPELINE_BUNDLE)" ] && [ ! -e "$(MODEL_DIR)/metadata.json" ]; then \
	  echo "serve: no model bundle in $(MODEL_DIR) yet: restoring the data and building it (flightdelay data restore, dvc repro bundle)"; \
	  flightdelay data restore --no-push; \
	  if dvc remote default >/dev/null 2>&1; then dvc repro --pull bundle; else dvc repro bundle; fi; \
	fi
	MODEL_DIR=$(MODEL_DIR) gunicorn -c api/gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) api.main:app

# The serving image's dependency set alone (requirements-serve.txt + this package without deps),
# plus the test runner: proof that serving never needs the pipeline's libraries.
SERVE_VENV := .venv-serve
SERVE_STAMP := $(SERVE_VENV)/.installed
$(SERVE_STAMP): requirements-serve.txt requirements.txt pyproject.toml $(shell find src -name '*.py') $(STAMP)
	@echo "setup: building $(SERVE_VENV) from requirements-serve.txt alone (uv)"
	@test -x $(SERVE_VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(SERVE_VENV)
	@VIRTUAL_ENV=$(CURDIR)/$(SERVE_VENV) $(UV) pip sync --quiet --compile-bytecode requirements-serve.txt
	@VIRTUAL_ENV=$(CURDIR)/$(SERVE_VENV) $(UV) pip install --quiet --no-deps --reinstall-package flightdelay .
	@VIRTUAL_ENV=$(CURDIR)/$(SERVE_VENV) $(UV) pip install --quiet -c requirements.txt pytest pytest-timeout httpx
	@touch $(SERVE_STAMP)

kernel: setup ## build the C scoring kernel api/forest.c and the batch check api/rows.c (a no-op when built; needs cc, or CC; without Python.h the batch check is skipped with a warning)
	python -m api.ckernel

serve-env: $(SERVE_STAMP) ## build .venv-serve: the serving image's dependency set, nothing else

test-serve-env: serve-env kernel ## API tests inside the serving-only environment (no pandas, sklearn, mlflow)
	@! $(SERVE_VENV)/bin/python -c "import pandas" 2>/dev/null || { echo "test-serve-env: pandas is importable in $(SERVE_VENV); the serving set must not need it"; exit 1; }
	PATH=$(CURDIR)/$(SERVE_VENV)/bin:/usr/bin:/bin $(SERVE_VENV)/bin/python -m pytest -q -m serve_only tests/api

bench-serve: setup serve-env kernel ## our service vs `mlflow models serve` vs a no-op handler (wrk, 2 workers each)
	python scripts/bench_serve.py --model-dir $(MODEL_DIR)

soak: setup system kernel ## load (60 s at a fixed rate near capacity) and faults under load, with figures
	python scripts/soak.py --model-dir $(MODEL_DIR)

bench: bench-pipeline bench-pr bench-serve bench-drift bench-outcomes bench-scale ## every benchmark

bench-pipeline: setup ## cold dvc repro: wall time and peak RSS, 6 months and the full year, plus no-op
	python scripts/bench_pipeline.py

bench-pr: setup ## the PR path (data, repro, report, gate) for a train param change and a new month, cold vs main's DVC cache
	python scripts/bench_pr.py

DRIFT_ARGS ?= --months next
drift: setup ## drift check vs the reference (DRIFT_ARGS, default --months next); exit 0 ok, 10 drift, 11 too few rows
	flightdelay drift check $(DRIFT_ARGS)

bench-drift: setup ## one drift check for a month vs the reference, for 10x both sizes, and on a 1x/10x/100x prediction log (needs make repro)
	python scripts/bench_drift.py

bench-outcomes: setup ## monitor outcomes on 1x, 10x, 100x a month's prediction log (fresh process each): time, peak RSS, both against linear (needs make repro)
	python scripts/bench_outcomes.py

bench-scale: setup ## train on 1x and 10x a year (2013 repeated), engine local vs dask (LocalCluster): wall time, peak RSS per process
	python scripts/bench_scale.py

lock: ## regenerate the pinned requirements from pyproject.toml (needs uv)
	$(UV) pip compile pyproject.toml --all-extras --python-version 3.11 --custom-compile-command "make lock" -o requirements.txt
	$(UV) pip compile pyproject.toml --extra serve -c requirements.txt --python-version 3.11 --custom-compile-command "make lock" -o requirements-serve.txt
	$(UV) pip compile requirements-tools.in --python-version 3.11 --custom-compile-command "make lock" -o requirements-tools.txt

clean: ## remove caches (keeps .venv, data and models)
	rm -rf .mypy_cache .ruff_cache .pytest_cache build dist

# ---- release (merge side): see docs/release-and-rollback.md ----------------------------------
IMAGE_REPOSITORY ?=
PR ?=
DEPLOY_ENV ?= staging
TO ?=
RELEASE_WORKFLOWS := .github/workflows/release.yml .github/workflows/promote.yml
.PHONY: release bump verify rollback lint-release

release: setup ## register + tag the reviewed model, card, changelog (PR=…, IMAGE_REPOSITORY=…)
	flightdelay release $(if $(IMAGE_REPOSITORY),--image-repository $(IMAGE_REPOSITORY)) $(if $(PR),--pr $(PR))

bump: setup ## point an overlay at the champion and commit it (DEPLOY_ENV=staging|production)
	flightdelay release bump --env $(DEPLOY_ENV)

verify: setup ## check that git tag, MLflow alias, model card and overlays agree
	flightdelay release verify

rollback: setup ## revert the overlays to the previous model (or TO=version), move champion back
	flightdelay release rollback $(if $(TO),--to $(TO))

lint-release: tools ## hadolint the Dockerfiles (serving, training); zizmor --offline + schema over the release workflows
	$(FLIGHTDELAY_TOOLS_BIN)/hadolint --failure-threshold style Dockerfile Dockerfile.train
	$(FLIGHTDELAY_TOOLS_BIN)/zizmor --offline $(RELEASE_WORKFLOWS)
	$(FLIGHTDELAY_TOOLS_BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(RELEASE_WORKFLOWS)

.PHONY: audit sbom policy

audit: tools ## pip-audit requirements.txt; says SKIPPED-BY-NETWORK when the advisory database is unreachable
	@python scripts/supply_chain.py audit

sbom: tools ## CycloneDX SBOM of the serving environment (requirements-serve.txt) -> build/sbom-serve.cdx.json
	@python scripts/supply_chain.py sbom

policy: setup tools ## workflow policy and supply-chain checks (zizmor, schemas, secrets, SBOM, Dockerfile)
	mypy --strict tests/policy scripts/supply_chain.py
	pytest -q tests/policy
