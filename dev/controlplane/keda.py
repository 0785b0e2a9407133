"""KEDA on the local cluster: what the chart's `scaling.mode=keda` needs, for the e2e tier.

    python dev/controlplane/keda.py manifest        # print what `install` applies (YAML)

KEDA's own manifests come from its Go module (`config/`: kustomize bases, fetched and verified by
build.sh as `keda-manifests`), rendered with the pinned kubectl's kustomize: the CRDs, the
`keda` namespace, RBAC, the operator and the metrics API server with its APIService
(`v1beta1.external.metrics.k8s.io`). Changed here, and nothing else:

- the images: `cyberfortune/keda:dev` and `cyberfortune/keda-adapter:dev`, built FROM scratch
  from the binaries build.sh made from the same module (never pulled);
- the admission webhooks are left out (neither their Deployment nor their configuration), so the
  operator is told not to patch a webhook configuration;
- smaller CPU and memory requests, for a node of two cores.

The operator makes its own certificates (`--enable-cert-rotation`, upstream's default) and
writes their CA into the APIService, so the API server trusts the metrics API server.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):  # run as a script: import `controlplane` as the package it is
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from controlplane.binaries import binary_path, ensure_binaries, fetched_file
from controlplane.network import CLUSTER_DOMAIN

NAMESPACE = "keda"
OPERATOR = "keda-operator"
METRICS_SERVER = "keda-metrics-apiserver"
API_SERVICE = "v1beta1.external.metrics.k8s.io"
IMAGES = {OPERATOR: "cyberfortune/keda:dev", METRICS_SERVER: "cyberfortune/keda-adapter:dev"}
# KEDA's kustomize bases used (upstream's config/default also has `webhooks`).
BASES = ["crd", "general", "rbac", "manager", "metrics-server", "service_account"]
OPERATOR_ARGS = ["--enable-webhook-patching=false", f"--k8s-cluster-domain={CLUSTER_DOMAIN}"]
REQUESTS = {"cpu": "20m", "memory": "64Mi"}


def manifests_dir() -> Path:
    """KEDA's `config/` directory, fetched from its module at KEDA_VERSION."""
    ensure_binaries(["kubectl"])
    found = fetched_file("keda-manifests")
    if not found.is_dir():
        subprocess.run(["bash", str(Path(__file__).with_name("build.sh"))], check=True)
    return found


def render() -> list[dict[str, Any]]:
    """KEDA's objects as upstream's kustomize bases make them (webhooks left out)."""
    with tempfile.TemporaryDirectory(prefix="cyberfortune-keda-") as tmp:
        root = Path(tmp) / "config"
        shutil.copytree(manifests_dir(), root)
        overlay = root / "local"
        overlay.mkdir()
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [f"../{base}" for base in BASES],
        }
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        proc = subprocess.run(
            [str(binary_path("kubectl")), "kustomize", str(overlay)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"kubectl kustomize of KEDA's manifests failed: {proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def objects() -> list[dict[str, Any]]:
    """What `install` applies: KEDA's objects with the local images and requests."""
    rendered = render()
    deployments = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Deployment"}
    if set(deployments) != set(IMAGES):
        raise RuntimeError(f"KEDA's manifests have Deployments {sorted(deployments)}")
    for name, deployment in deployments.items():
        (main,) = deployment["spec"]["template"]["spec"]["containers"]
        main["image"] = IMAGES[name]
        main["imagePullPolicy"] = "Never"
        main["resources"]["requests"] = dict(REQUESTS)
        if name == OPERATOR:
            main["args"] = [*main.get("args", []), *OPERATOR_ARGS]
    return rendered


def removal(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What to delete to remove KEDA again, in order: the APIService first (an aggregated API
    without its server makes discovery fail, which blocks every namespace deletion); the CRDs are
    kept (the chart tier dry-runs ScaledObjects against them)."""
    kept = [o for o in items if o["kind"] != "CustomResourceDefinition"]
    return sorted(kept, key=lambda obj: obj["kind"] != "APIService")


def main(argv: list[str] | None = None) -> int:
    """CLI: print the manifest."""
    parser = argparse.ArgumentParser(description="KEDA's manifests for the local cluster.")
    parser.add_argument("command", choices=["manifest"])
    parser.parse_args(argv)
    print(yaml.safe_dump_all(objects(), sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
