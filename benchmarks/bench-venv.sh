#!/usr/bin/env bash
# Create .local/bench-venv, the benchmark-only environment (Celery, Dramatiq, matplotlib, py-spy):
# never the deployables' venv or images. Also .local/bench-venv-cf: core, the API and the worker
# with their own dependencies and nothing else, as the images install them (the dev venv's extra
# packages change what they import: mongoengine loads Pillow and the openai SDK aiohttp when
# present). Re-installs only when the requirements or pyproject files changed (stamp = hash of
# them). Prints the benchmark venv's python.
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
cf=.local/bench-venv-cf
cf_src=$(cat core/pyproject.toml api-image/pyproject.toml worker-image/pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$cf/.installed-$cf_src" ]; then
  [ -x "$cf/bin/python" ] || python3 -m venv "$cf"
  "$cf/bin/python" -m pip install --quiet --upgrade pip >&2
  echo "bench-venv: installing core, api-image and worker-image into $cf" >&2
  "$cf/bin/python" -m pip install --quiet -e ./core -e ./api-image -e ./worker-image >&2
  rm -f "$cf"/.installed-*
  touch "$cf/.installed-$cf_src"
fi
echo "$venv/bin/python"
