"""The local cluster's addresses and the host network it sets up (and removes again).

The node's address lives on an interface of its own (a bridge without ports: this VM's kernel has
no `dummy` driver, and a port-less bridge serves the same purpose), so it is the same on every
machine and reachable from the host and from every pod (through the bridge's gateway): the API
server listens there (pods reach it through the `kubernetes` Service, whose endpoint cannot be
loopback), and so does the kubelet (the API server reaches it by the node's InternalIP for logs
and exec).

Pods live on a Linux bridge (CNI `bridge` plugin, host-local IPAM) with the bridge as gateway and
masquerading for traffic leaving the pod network; kube-proxy (iptables mode) implements Services,
also for connections from the host, so a ClusterIP is reachable from this machine. The Service
range is routed onto the node interface, so a ClusterIP kube-proxy has no rules for is
unreachable at once instead of leaving by the default route.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
from dataclasses import asdict, dataclass, fields
from pathlib import Path

NODE_NAME = "cyberfortune-local"
NODE_INTERFACE = "cfnode0"  # a port-less bridge carrying NODE_IP
NODE_IP = "10.254.254.1"
BRIDGE = "cfbr0"  # the pods' bridge, created by the CNI bridge plugin
CNI_NETWORK = "cyberfortune"
CLUSTER_CIDR = "10.244.0.0/16"
POD_CIDR = "10.244.0.0/24"  # the one node's share of CLUSTER_CIDR (what the controller assigns)
SERVICE_CIDR = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"
DNS_SERVICE_IP = "10.0.0.10"
CLUSTER_DOMAIN = "cluster.local"
PORTS_FILE = "ports.json"  # in the state directory: the ports its cluster was started with

# Kernel settings a node needs; the previous values are saved and restored by teardown.
SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
}


@dataclass(frozen=True)
class Ports:
    """TCP ports of the cluster's components (the API server and kubelet on NODE_IP, the rest on
    loopback)."""

    etcd_client: int = 12379  # off etcd's default 2379/2380, so a system etcd does not clash
    etcd_peer: int = 12380
    apiserver: int = 6443
    controller_manager: int = 10357
    scheduler: int = 10359
    kubelet: int = 10250
    kubelet_healthz: int = 10248
    proxy_healthz: int = 10256
    proxy_metrics: int = 10249

    @classmethod
    def free(cls) -> Ports:
        """Distinct ports the kernel reports free right now (all held open until chosen)."""
        socks = []
        try:
            for _ in fields(cls):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("0.0.0.0", 0))
                socks.append(s)
            return cls(*(s.getsockname()[1] for s in socks))
        finally:
            for s in socks:
                s.close()

    @classmethod
    def saved(cls, state_dir: Path) -> Ports | None:
        """The ports a cluster in `state_dir` was started with, if one was."""
        saved = state_dir / PORTS_FILE
        return cls(**json.loads(saved.read_text())) if saved.exists() else None

    def save(self, state_dir: Path) -> None:
        """Record these ports in `state_dir` (for `saved`)."""
        (state_dir / PORTS_FILE).write_text(json.dumps(asdict(self)))

    def busy(self) -> list[int]:
        """The ports something else listens on already."""
        taken = []
        for f in fields(self):
            port = getattr(self, f.name)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("0.0.0.0", port))
                except OSError:
                    taken.append(port)
        return taken


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def link_exists(name: str) -> bool:
    """True if a network interface `name` exists."""
    return _ip("link", "show", "dev", name, check=False).returncode == 0


def cni_config() -> dict[str, object]:
    """The CNI network list: bridge (gateway, masquerade, hairpin) + host-local IPAM + portmap."""
    return {
        "cniVersion": "0.4.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,  # a pod reaching its own Service lands back on itself
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


@dataclass
class HostNetwork:
    """Sysctls and the node interface; the bridge itself is made by CNI and removed here."""

    state_dir: Path

    @property
    def _saved(self) -> Path:
        return self.state_dir / "sysctl-saved.json"

    def setup(self) -> None:
        """Set the sysctls (saving the old values once) and create the node interface."""
        if not self._saved.exists():
            saved = {key: Path("/proc/sys", key).read_text().strip() for key in SYSCTLS}
            self._saved.write_text(json.dumps(saved))
        for key, value in SYSCTLS.items():
            Path("/proc/sys", key).write_text(value)
        if not link_exists(NODE_INTERFACE):
            _ip("link", "add", NODE_INTERFACE, "type", "bridge")
        addrs = _ip("-j", "addr", "show", "dev", NODE_INTERFACE).stdout
        if NODE_IP not in addrs:
            _ip("addr", "add", f"{NODE_IP}/32", "dev", NODE_INTERFACE)
        _ip("link", "set", NODE_INTERFACE, "up")
        # The Service range is routed onto the port-less node interface, never by the default
        # route: a connection to a ClusterIP that kube-proxy has no rules for yet (a Service
        # just created) then fails ("no route to host") and the client's next try gets the rules.
        # By the default route it left this machine and this VM's network answered every such
        # connection with an empty 404 on a kept-alive connection, so a client polling it (KEDA's
        # RabbitMQ scaler, the API server's discovery of an aggregated API) stayed on that
        # connection for good. A connection kube-proxy translates is routed to its pod as before.
        _ip("route", "replace", SERVICE_CIDR, "dev", NODE_INTERFACE)

    def teardown(self) -> None:
        """Remove the bridge and the node interface (and with it the Service range's route),
        restore the sysctls."""
        for link in (BRIDGE, NODE_INTERFACE):
            if link_exists(link):
                _ip("link", "delete", link)
        with contextlib.suppress(OSError, ValueError):
            for key, value in json.loads(self._saved.read_text()).items():
                Path("/proc/sys", key).write_text(value)
            self._saved.unlink()
