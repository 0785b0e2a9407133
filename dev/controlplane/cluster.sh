#!/usr/bin/env bash
# `make cluster-up` / `make cluster-down`: the local control plane (etcd + kube-apiserver +
# kube-controller-manager) on loopback; state in .local/cluster, admin kubeconfig in .local/kubeconfig.
# The logic lives in controlplane.py (shared with the e2e test fixture).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/.venv/bin/python"
[ -x "$py" ] || py=python3  # `down` needs only the standard library
exec "$py" "$root/dev/controlplane/controlplane.py" "${1:-status}" "${@:2}"
