#!/usr/bin/env bash
# skaffold's custom build for the local profile: build one of our images with buildah (the local
# Debian base, no daemon) and load it into the local node's containerd under skaffold's $IMAGE tag.
#   IMAGE=cyberfortune/api:abc123 dev/skaffold-build.sh api
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${IMAGE:?skaffold sets IMAGE to the tag to build}"
state="${CYBERFORTUNE_CLUSTER_STATE:-$root/.local/cluster}"  # the node to load into
exec "$root/.venv/bin/python" "$root/dev/controlplane/images.py" build "$1" --tag "$IMAGE" \
  --state-dir "$state"
