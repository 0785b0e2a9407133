"""`make cluster-deploy`: build the images, load them into the local node and install the chart as
release `cyberfortune` in namespace `cyberfortune` with charts/cyberfortune/values-local.yaml.

    python dev/controlplane/deploy.py [--values FILE ...] [--set key=value ...]

Needs `make cluster-up`. Prints how to reach the API (its Service's ClusterIP answers on this
machine through kube-proxy) and how to submit with kubectl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import `controlplane` as the package it is
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from controlplane import images
from controlplane.binaries import REPO_ROOT, binary_path
from controlplane.daemons import ClusterError
from controlplane.node import running_node

CHART = REPO_ROOT / "charts" / "cyberfortune"
RELEASE = NAMESPACE = "cyberfortune"


def helm(kubeconfig: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the pinned helm against the local cluster; ClusterError when it fails."""
    cmd = [str(binary_path("helm")), "--kubeconfig", str(kubeconfig), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"helm {args[0]} failed:\n{proc.stderr.strip()}")
    return proc


def main(argv: list[str] | None = None) -> int:
    """Build, load, install (or upgrade); print how to use it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".local" / "cluster")
    parser.add_argument("--kubeconfig", type=Path, default=REPO_ROOT / ".local" / "kubeconfig")
    parser.add_argument("--values", action="append", default=[], type=Path)
    parser.add_argument("--set", action="append", default=[], dest="sets")
    args = parser.parse_args(argv)
    node = running_node(args.state_dir)
    if node is None:
        print(
            "cluster-deploy: no local cluster runs; start it with `make cluster-up`",
            file=sys.stderr,
        )
        return 1
    start = time.monotonic()
    try:
        images.load_into(node, images.build_all())
        values = [CHART / "values-local.yaml", *args.values]
        helm_args = ["upgrade", "--install", RELEASE, str(CHART), "--namespace", NAMESPACE]
        helm_args += ["--create-namespace", "--wait", "--timeout", "10m"]
        for path in values:
            helm_args += ["--values", str(path)]
        for assignment in args.sets:
            helm_args += ["--set", assignment]
        helm(args.kubeconfig, *helm_args, timeout=700)
    except (ClusterError, subprocess.CalledProcessError) as exc:
        print(f"cluster-deploy: {exc}", file=sys.stderr)
        return 1
    kubectl = [str(binary_path("kubectl")), "--kubeconfig", str(args.kubeconfig), "-n", NAMESPACE]
    service = json.loads(
        subprocess.run(
            [*kubectl, "get", "service", f"{RELEASE}-api", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    api = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    print(f"cluster-deploy: release {RELEASE} ready in {time.monotonic() - start:.0f}s")
    print(f"  API: {api}   (the Service's ClusterIP, reachable from this machine)")
    body = '{"profile": {"birthDate": "1990-05-17", "birthTime": "08:30"}, "topic": "career"}'
    k = f"kubectl --kubeconfig {args.kubeconfig} -n {NAMESPACE}"
    print(f"  curl -s -X POST {api}/v1/fortunes -H 'Content-Type: application/json' -d '{body}'")
    print(f"  {k} apply -f docs/examples/fortunerequest.yaml")
    print(f"  {k} get fr -o wide")
    return 0


if __name__ == "__main__":
    sys.exit(main())
