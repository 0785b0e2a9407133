# CyberFortune: `make run` starts the stack locally, `make test` sets everything up and runs every tier.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help setup venv system-packages lint typecheck test test-fast test-unit test-integration test-e2e run smoke bench bench-compare bench-reuse chaos cluster-up cluster-down cluster-status cluster-deploy images binaries clean miniapp test-miniapp test-browser

help:
	@echo "make run      start the standalone stack (API on http://127.0.0.1:8080, H5 app on /app/)"
	@echo "make test     set up everything (apt packages, venv, Go-built binaries) and run every tier"
	@echo "make test-fast  lint + unit tests only"
	@echo "make cluster-up / cluster-down  local one-node cluster (kubeconfig in .local/kubeconfig; root)"
	@echo "make images   build our images locally and load them into the local node (root)"
	@echo "make bench    benchmarks (figures go to docs/benchmarks.md)"
	@echo "make bench-compare  CyberFortune beside Celery, Dramatiq and a bare thread pool (~10 min)"
	@echo "make miniapp  build the mini-program (miniapp/dist/h5, miniapp/dist/weapp); test-miniapp, test-browser"

# --- setup -------------------------------------------------------------------------------------
system-packages:
	@bash dev/install-system-packages.sh

venv:
	@bash dev/setup-venv.sh

binaries:
	@bash dev/controlplane/build.sh

setup: system-packages venv binaries

# --- checks ------------------------------------------------------------------------------------
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint api-image/Dockerfile worker-image/Dockerfile operator/Dockerfile dev/images/*/Dockerfile

typecheck: venv
	$(VENV)/bin/mypy --strict -p fortune_core -p fortune_api -p fortune_worker -p fortune_operator

test-unit: venv
	$(PY) -m pytest tests/unit

test-integration: venv system-packages
	$(PY) -m pytest tests/integration

test-e2e: venv system-packages binaries
	$(PY) -m pytest tests/e2e

test-fast: lint typecheck test-unit

test: setup lint typecheck test-miniapp
	$(PY) -m pytest tests

# --- mini-program (miniapp/): npm ci and each build only when their inputs changed ------------
miniapp:
	@bash miniapp/scripts/build.sh deps h5 weapp

test-miniapp: miniapp
	@bash miniapp/scripts/build.sh check

test-browser: venv system-packages miniapp
	$(PY) -m pytest tests/browser

# --- running -----------------------------------------------------------------------------------
run: system-packages venv
	@bash dev/run.sh

smoke: venv
	$(PY) dev/smoke.py

bench: venv system-packages
	$(PY) benchmarks/pipeline.py

# Celery and Dramatiq live only in the benchmark-only venv .local/bench-venv (bench-venv.sh).
bench-compare: venv system-packages
	@BENCH_VIA_MAKE=1 "$$(bash benchmarks/bench-venv.sh)" benchmarks/compare.py --write

chaos: venv system-packages
	$(PY) benchmarks/chaos.py

bench-reuse: venv system-packages
	$(PY) benchmarks/reuse.py --write

cluster-up: venv system-packages binaries
	@bash dev/controlplane/cluster.sh up

cluster-down:
	@bash dev/controlplane/cluster.sh down

cluster-status:
	@bash dev/controlplane/cluster.sh status

images: venv system-packages binaries
	$(PY) dev/controlplane/images.py build

cluster-deploy: venv system-packages binaries
	$(PY) dev/controlplane/deploy.py

clean: cluster-down
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
	rm -rf miniapp/node_modules miniapp/dist miniapp/.stamps miniapp/.swc
