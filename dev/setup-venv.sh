#!/usr/bin/env bash
# Create .venv at the repository root and install every deployable (editable) plus the dev tools.
# Re-runs only when a pyproject.toml or requirements file changed (stamp = hash of them).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(core api-image worker-image operator)
stamp_src=$(cat dev/requirements-dev.txt $(for p in "${packages[@]}"; do [ -f "$p/pyproject.toml" ] && echo "$p/pyproject.toml"; done) | sha256sum | cut -c1-16)
stamp=".venv/.installed-$stamp_src"
if [ -f "$stamp" ]; then exit 0; fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
args=(-r dev/requirements-dev.txt)
for p in "${packages[@]}"; do
  [ -f "$p/pyproject.toml" ] && args+=(-e "./$p")
done
echo "setup-venv: installing ${args[*]}"
.venv/bin/python -m pip install --quiet "${args[@]}"
rm -f .venv/.installed-*
touch "$stamp"
