#!/usr/bin/env bash
# `make cluster-up` / `make cluster-down` / `make cluster-status`: the local one-node cluster
# (control plane + containerd/kubelet/kube-proxy node + CoreDNS); state in .local/cluster, admin
# kubeconfig in .local/kubeconfig. The logic lives in cluster.py (shared with the e2e fixtures).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/.venv/bin/python"
[ -x "$py" ] || py=python3  # `down` needs only the standard library
exec "$py" "$root/dev/controlplane/cluster.py" "${1:-status}" "${@:2}"
