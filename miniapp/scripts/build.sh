#!/usr/bin/env bash
# The mini-program's build steps, each skipped when its inputs did not change (stamps in .stamps/):
#   deps    npm ci, when package-lock.json or the node version changed
#   h5      taro build --type h5    → dist/h5     (when src/, config/, the lockfile or the env changed)
#   weapp   taro build --type weapp → dist/weapp
#   check   tsc --noEmit and the vitest unit tests (always run)
# Usage: bash miniapp/scripts/build.sh deps h5 weapp check
# TARO_APP_API_BASE / TARO_APP_PUBLIC_PATH (see config/index.ts) are part of a build's inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .stamps
exec 9>.stamps/.lock
flock 9 # one build at a time (make and the browser tests may both ask)

export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "miniapp: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
}

hash_of() { sha256sum | cut -c1-16; }

deps() {
  need_node
  local hash
  hash=$({ cat package-lock.json; node --version; } | hash_of)
  if [ -f "node_modules/.cf-installed-$hash" ]; then return 0; fi
  echo "miniapp: npm ci"
  local started=$SECONDS
  npm ci --no-audit --no-fund --loglevel=error
  touch "node_modules/.cf-installed-$hash"
  echo "miniapp: npm ci took $((SECONDS - started)) s"
}

build() {
  local target=$1 hash
  hash=$({
    find src config types -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum package-lock.json babel.config.js tsconfig.json project.config.json
    echo "api=${TARO_APP_API_BASE-<default>} public=${TARO_APP_PUBLIC_PATH-<default>} template=${TARO_APP_SUBSCRIBE_TEMPLATE_ID-} release=${TARO_APP_RELEASE-}"
  } | hash_of)
  if [ -f ".stamps/$target-$hash" ] && [ -d "dist/$target" ]; then
    echo "miniapp: dist/$target is up to date"
    return 0
  fi
  echo "miniapp: building $target"
  local started=$SECONDS
  rm -rf "dist/$target" .stamps/"$target"-*
  npx --no-install taro build --type "$target"
  touch ".stamps/$target-$hash"
  echo "miniapp: $target built in $((SECONDS - started)) s → dist/$target ($(du -sk "dist/$target" | cut -f1) KiB)"
}

check() {
  npx --no-install tsc --noEmit -p tsconfig.json
  npx --no-install vitest run
}

[ $# -gt 0 ] || set -- deps h5 weapp
for step in "$@"; do
  case $step in
    deps) deps ;;
    h5 | weapp) deps; build "$step" ;;
    check) deps; check ;;
    *) echo "miniapp: unknown step $step (deps, h5, weapp, check)" >&2; exit 2 ;;
  esac
done
