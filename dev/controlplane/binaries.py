"""Where the local cluster's binaries are: built by build.sh into a versioned cache directory.

    ${CYBERFORTUNE_CACHE:-~/.cache/cyberfortune}/bin/<name>-<version>/<name>

Pins are in versions.env (the one place to change them); a pin change means a new directory, so
exactly the changed components are rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

# binary -> the versions.env key that pins it
PINS = {
    "etcd": "ETCD_VERSION",
    "kube-apiserver": "KUBERNETES_VERSION",
    "kube-controller-manager": "KUBERNETES_VERSION",
    "kube-scheduler": "KUBERNETES_VERSION",
    "kubelet": "KUBERNETES_VERSION",
    "kube-proxy": "KUBERNETES_VERSION",
    "kubectl": "KUBERNETES_VERSION",
    "helm": "HELM_VERSION",
    "coredns": "COREDNS_VERSION",
    "crictl": "CRICTL_VERSION",
    "local-path-provisioner": "LOCAL_PATH_PROVISIONER_VERSION",
    "kube-score": "KUBE_SCORE_VERSION",
    "skaffold": "SKAFFOLD_VERSION",
    "keda": "KEDA_VERSION",
    "keda-adapter": "KEDA_VERSION",
}
# files fetched from Go module sources by build.sh: name -> (versions.env key, file name)
FILES = {
    "keda": ("KEDA_VERSION", "keda.sh_scaledobjects.yaml"),
    "prometheus-operator": (
        "PROMETHEUS_OPERATOR_VERSION",
        "monitoring.coreos.com_servicemonitors.yaml",
    ),
    "skaffold": ("SKAFFOLD_VERSION", "v4beta13.json"),
    # KEDA's own manifests (kustomize bases: CRDs, RBAC, operator, metrics API server)
    "keda-manifests": ("KEDA_VERSION", "config"),
}


def fetched_file(name: str) -> Path:
    """A file (or directory) build.sh fetched from a module source:
    <cache>/files/<name>-<version>/<file>."""
    key, filename = FILES[name]
    return cache_dir() / "files" / f"{name}-{read_versions()[key]}" / filename


def read_versions() -> dict[str, str]:
    """The pins from versions.env (KEY=value lines)."""
    versions: dict[str, str] = {}
    for raw in (HERE / "versions.env").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


def cache_dir() -> Path:
    """Where build.sh puts the binaries and the image builder its state (outside the repo)."""
    override = os.environ.get("CYBERFORTUNE_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "cyberfortune"


def pause_version() -> str:
    """The pause binary is ours (dev/node/pause.c): its version is its source's hash."""
    return "src-" + hashlib.sha256((REPO_ROOT / "dev/node/pause.c").read_bytes()).hexdigest()[:12]


def binary_path(name: str) -> Path:
    """Path of a cached binary at its pinned version: <cache>/bin/<name>-<version>/<name>."""
    version = pause_version() if name == "pause" else read_versions()[PINS[name]]
    return cache_dir() / "bin" / f"{name}-{version}" / name


def ensure_binaries(names: list[str]) -> None:
    """Run build.sh if one of the pinned binaries `names` is missing (it builds what is missing)."""
    if not all(binary_path(n).is_file() for n in names):
        subprocess.run(["bash", str(HERE / "build.sh")], check=True)
