"""The local one-node cluster: control plane + node + CoreDNS. `make cluster-up` / `cluster-down`.

    python dev/controlplane/cluster.py up|down|status [--state-dir DIR] [--kubeconfig FILE]

Start order: host network (node interface, sysctls) → etcd → kube-apiserver → controller manager →
scheduler → containerd (+ the locally built images) → kubelet → kube-proxy → node Ready → CoreDNS
Available. `down` reverses it and removes what the node made (containers, mounts, the bridge, the
node interface, kube-proxy's rules, the kubelet's cgroups), so nothing is left running or mounted.
State lives in the state directory (default .local/cluster), the admin kubeconfig in
.local/kubeconfig. Only one node can run on a machine (kube-proxy owns the host's Service rules):
`/run/cyberfortune/node.json` names the state directory of the one that runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import `controlplane` as the package it is
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from controlplane import addons, images
from controlplane.binaries import REPO_ROOT, binary_path, ensure_binaries
from controlplane.controlplane import ControlPlane
from controlplane.daemons import ClusterError
from controlplane.network import BRIDGE, NODE_INTERFACE, NODE_NAME, HostNetwork, Ports, link_exists
from controlplane.node import Node, kube_chains
from localservices.supervisor import ProcessError, wait_for

MACHINE_LOCK = Path("/run/cyberfortune/node.json")
BINARIES = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
    "crictl",
    "coredns",
    "pause",
    "local-path-provisioner",
]
# What the node and its add-ons need; `make images` builds the rest.
BOOT_IMAGES = ["pause", "coredns", "local-path-provisioner", "base"]


class LocalCluster:
    """Everything of one local cluster, state under `state_dir`."""

    def __init__(self, state_dir: Path, ports: Ports | None = None, kubeconfig: Path | None = None):
        self.state_dir = state_dir.resolve()
        self.ports = ports or Ports.saved(self.state_dir) or Ports()
        self.kubeconfig = (kubeconfig or self.state_dir / "admin.kubeconfig").resolve()
        self.network = HostNetwork(self.state_dir)
        self.plane = ControlPlane(self.state_dir, self.ports, self.kubeconfig)
        self.node = Node(self.plane)

    @property
    def server(self) -> str:
        """The API server URL."""
        return self.plane.server

    def status(self) -> dict[str, int | None]:
        """PID of every daemon, or None if it is not running."""
        return {**self.plane.status(), **self.node.status()}

    def _claim_machine(self) -> None:
        try:
            owner = json.loads(MACHINE_LOCK.read_text())["state_dir"]
        except (OSError, ValueError, KeyError):
            owner = None
        if owner and owner != str(self.state_dir):
            other = LocalCluster(Path(owner))
            if any(other.node.status().values()):
                raise ClusterError(
                    f"another local cluster runs on this machine (state in {owner}); "
                    f"stop it first: python dev/controlplane/cluster.py down --state-dir {owner}"
                )
        MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
        MACHINE_LOCK.write_text(json.dumps({"state_dir": str(self.state_dir)}))

    def up(self, timeout: float = 180.0) -> float:
        """Start whatever is not running and wait until the node is Ready and DNS serves; the
        seconds taken."""
        start = time.monotonic()
        if os.geteuid() != 0:
            raise ClusterError("the local node needs root (containerd, kubelet, iptables)")
        ensure_binaries(BINARIES)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._claim_machine()
        self.ports.save(self.state_dir)
        missing_boot = [n for n in BOOT_IMAGES if n not in images.built_archives()]
        if missing_boot:
            images.build_all(missing_boot)
        self.network.setup()
        self.plane.up(timeout)
        self.node.up(lambda node: images.load_into(node, images.built_archives()), timeout)
        self.plane.apply(*addons.coredns_objects())
        self.plane.apply(*addons.local_path_objects(self.state_dir / "volumes"))
        # Every add-on pod Ready again in this run: after a restart, a Deployment's status and its
        # pods' Ready conditions still say what they said before the node stopped.
        since = self.node.kubelet_started or dt.datetime.min.replace(tzinfo=dt.UTC)
        wait_for(lambda: self._addons_ready(since), timeout, "the add-ons Ready", interval=0.25)
        return time.monotonic() - start

    def _addons_ready(self, since: dt.datetime) -> bool:
        """Whether every add-on Deployment has all its replicas Ready since `since`."""
        for namespace, deployment in addons.DEPLOYMENTS:
            out = self.plane.kubectl(
                "-n", namespace, "get", "pods", "-l", addons.SELECTORS[deployment], "-o", "json"
            ).stdout
            pods = [
                p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")
            ]
            if not pods:
                return False
            for pod in pods:
                ready = [c for c in pod["status"].get("conditions", []) if c["type"] == "Ready"]
                if not ready or ready[0]["status"] != "True":
                    return False
                changed = dt.datetime.fromisoformat(
                    ready[0]["lastTransitionTime"].replace("Z", "+00:00")
                )
                if changed < since:
                    return False
        return True

    def down(self) -> None:
        """Stop everything (node first) and remove what the node made."""
        self.node.down()
        self.plane.down()
        self.network.teardown()
        try:
            if json.loads(MACHINE_LOCK.read_text())["state_dir"] == str(self.state_dir):
                MACHINE_LOCK.unlink()
        except (OSError, ValueError, KeyError):
            pass

    def leftovers(self) -> list[str]:
        """What is still running, mounted or configured on the host (empty after a clean down)."""
        found = [f"{name} (pid {pid})" for name, pid in self.status().items() if pid]
        found += [f"shim pid {pid}" for pid, _ in self.node.shims()]
        found += [f"mount {point}" for point in self.node.mounts()]
        found += [f"link {link}" for link in (BRIDGE, NODE_INTERFACE) if link_exists(link)]
        found += [f"iptables chain {chain}" for chain in kube_chains()]
        return found


def start_on_free_ports(state_dir: Path, attempts: int = 3) -> LocalCluster:
    """Start a cluster on free ports, retrying if a port was taken between pick and bind."""
    for attempt in range(attempts):
        cluster = LocalCluster(state_dir / f"attempt-{attempt}", Ports.free())
        try:
            cluster.up()
            return cluster
        except ProcessError:  # a ClusterError too
            cluster.down()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    """CLI: up, down, status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".local" / "cluster")
    parser.add_argument("--kubeconfig", type=Path, default=REPO_ROOT / ".local" / "kubeconfig")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.state_dir, kubeconfig=args.kubeconfig)

    if args.command == "down":
        cluster.down()
        print(f"cluster down (state kept in {args.state_dir}; `make clean` removes it)")
        return 0
    status = cluster.status()
    if args.command == "status":
        for name, pid in status.items():
            print(f"{name}: {'running, pid ' + str(pid) if pid else 'stopped'}")
        return 0 if all(status.values()) else 1

    if not any(status.values()):
        busy = cluster.ports.busy()
        if busy:
            print(f"ports in use by another program: {busy}", file=sys.stderr)
            return 1
    try:
        seconds = cluster.up()
    except ProcessError as exc:  # a ClusterError too
        print(f"cluster-up failed: {exc}", file=sys.stderr)
        return 1
    shown = os.path.relpath(cluster.kubeconfig)
    shown = str(cluster.kubeconfig) if shown.startswith("..") else shown
    print(f"cluster ready in {seconds:.1f}s: {cluster.server}, node {NODE_NAME} Ready")
    print(f"  kubeconfig: {cluster.kubeconfig}")
    print(f"  logs, PID files, etcd and containerd data: {args.state_dir}")
    print(f"  kubectl at the server's version: {binary_path('kubectl')}")
    print(f"  try: kubectl --kubeconfig {shown} get nodes,pods -A")
    print("  `make images` builds our images and loads them into the node")
    return 0


if __name__ == "__main__":
    sys.exit(main())
