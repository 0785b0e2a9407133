# CyberFortune: `make run` starts the stack locally, `make test` sets everything up and runs every tier.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help setup venv system-packages lint typecheck test test-fast test-unit test-integration test-e2e run smoke bench chaos cluster-up cluster-down binaries clean

help:
	@echo "make run      start the standalone stack (API on http://127.0.0.1:8080)"
	@echo "make test     set up everything (apt packages, venv, Go-built binaries) and run every tier"
	@echo "make test-fast  lint + unit tests only"
	@echo "make cluster-up / cluster-down  local kube-apiserver + etcd (kubeconfig in .local/kubeconfig)"
	@echo "make bench    benchmarks (figures go to docs/benchmarks.md)"

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
	$(VENV)/bin/hadolint api-image/Dockerfile worker-image/Dockerfile

typecheck: venv
	$(VENV)/bin/mypy --strict -p fortune_core -p fortune_api -p fortune_worker

test-unit: venv
	$(PY) -m pytest tests/unit

test-integration: venv system-packages
	$(PY) -m pytest tests/integration

test-e2e: venv binaries
	$(PY) -m pytest tests/e2e

test-fast: lint typecheck test-unit

test: setup lint typecheck
	$(PY) -m pytest tests

# --- running -----------------------------------------------------------------------------------
run: system-packages venv
	@bash dev/run.sh

smoke: venv
	$(PY) dev/smoke.py

bench: venv system-packages
	$(PY) benchmarks/pipeline.py

chaos: venv system-packages
	$(PY) benchmarks/chaos.py

cluster-up: venv binaries
	@bash dev/controlplane/cluster.sh up

cluster-down:
	@bash dev/controlplane/cluster.sh down

clean: cluster-down
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
