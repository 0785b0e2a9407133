#!/usr/bin/env bash
# Create .local/bench-venv, the benchmark-only environment (Celery, Dramatiq, matplotlib, py-spy):
# never the deployables' venv or images. Re-installs only when benchmarks/requirements-bench.txt
# or core/pyproject.toml changed (stamp = hash of them). Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.local/bench-venv
stamp_src=$(cat benchmarks/requirements-bench.txt core/pyproject.toml | sha256sum | cut -c1-16)
stamp="$venv/.installed-$stamp_src"
if [ ! -f "$stamp" ]; then
  if [ ! -x "$venv/bin/python" ]; then
    mkdir -p .local
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  echo "bench-venv: installing benchmarks/requirements-bench.txt into $venv" >&2
  "$venv/bin/python" -m pip install --quiet -r benchmarks/requirements-bench.txt >&2
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
echo "$venv/bin/python"
