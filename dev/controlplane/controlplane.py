"""The local cluster's control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler.

The binaries are the Go builds cached by build.sh (pins in versions.env). Each runs with its own
client certificate (pki.py) and is tracked by a PID file (daemons.py). The API server listens on
the node address (network.py), so the host, the kubelet and every pod reach it at the same place.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from controlplane import pki
from controlplane.binaries import binary_path
from controlplane.daemons import ClusterError, Daemon, RecordedDaemons
from controlplane.network import (
    CLUSTER_CIDR,
    KUBERNETES_SERVICE_IP,
    NODE_IP,
    NODE_NAME,
    SERVICE_CIDR,
    Ports,
)

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def get_ok(url: str, ctx: ssl.SSLContext | None = None) -> bool:
    """True if GET `url` answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler, state under `state_dir`."""

    def __init__(self, state_dir: Path, ports: Ports, kubeconfig: Path) -> None:
        self.state_dir = state_dir
        self.pki = state_dir / "pki"
        self.kubeconfig = kubeconfig
        self.ports = ports
        self.daemons = RecordedDaemons(state_dir)

    @property
    def server(self) -> str:
        """The API server URL."""
        return f"https://{NODE_IP}:{self.ports.apiserver}"

    def admin_ssl(self) -> ssl.SSLContext:
        """TLS context of the admin client certificate."""
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(self.pki / "admin.crt", self.pki / "admin.key")
        return ctx

    def apiserver_ready(self) -> bool:
        """True once /readyz answers 200 (all post-start hooks, RBAC bootstrap included)."""
        return get_ok(f"{self.server}/readyz", self.admin_ssl())

    def prepare(self) -> None:
        """PKI and kubeconfigs (idempotent)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        pki.make_pki(self.pki, NODE_NAME, NODE_IP, KUBERNETES_SERVICE_IP)
        for ident in pki.client_identities(NODE_NAME):
            target = self.kubeconfig if ident.stem == "admin" else self.kubeconfig_of(ident.stem)
            pki.write_kubeconfig(target, self.server, self.pki, ident)

    def kubeconfig_of(self, stem: str) -> Path:
        """The kubeconfig of the component whose client certificate is `stem`."""
        return self.state_dir / f"{stem}.kubeconfig"

    def daemons_to_run(self) -> list[Daemon]:
        """The control plane's daemons in start order."""
        p, pki_dir, s = self.ports, self.pki, self.state_dir
        etcd_url = f"http://127.0.0.1:{p.etcd_client}"
        peer_url = f"http://127.0.0.1:{p.etcd_peer}"
        unverified = ssl._create_unverified_context()  # self-signed serving certs in cert-dir
        etcd = Daemon(
            "etcd",
            str(binary_path("etcd")),
            [
                "--name=cyberfortune",
                f"--data-dir={s / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=cyberfortune={peer_url}",
                "--initial-cluster-state=new",
                # A throwaway dev/test store: skipping fsync makes every write much cheaper.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            lambda: get_ok(f"{etcd_url}/health"),
        )
        apiserver = Daemon(
            "kube-apiserver",
            str(binary_path("kube-apiserver")),
            [
                f"--etcd-servers={etcd_url}",
                f"--bind-address={NODE_IP}",
                f"--advertise-address={NODE_IP}",
                f"--secure-port={p.apiserver}",
                f"--cert-dir={s / 'apiserver'}",
                f"--tls-cert-file={pki_dir / 'apiserver.crt'}",
                f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
                f"--client-ca-file={pki_dir / 'ca.crt'}",
                f"--requestheader-client-ca-file={pki_dir / 'front-proxy-ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki_dir / 'front-proxy-client.crt'}",
                f"--proxy-client-key-file={pki_dir / 'front-proxy-client.key'}",
                # Aggregated APIs (KEDA's external metrics) are reached at their pods' addresses on
                # the node's bridge, not their ClusterIP: a connection the API server (a host
                # process) opens before kube-proxy has the Service's rules would leave the machine
                # by the default route, and HTTP keep-alive would hold it there.
                "--enable-aggregator-routing=true",
                # Node authorizer + NodeRestriction: the kubelet may touch only its own node and
                # the pods bound to it, as in a kubeadm cluster.
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
                f"--service-account-key-file={pki_dir / 'sa.pub'}",
                f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # Towards the kubelets (logs, exec, port-forward): verify their serving certificate
                # and authenticate with a client certificate that RBAC grants the kubelet API.
                f"--kubelet-certificate-authority={pki_dir / 'ca.crt'}",
                f"--kubelet-client-certificate={pki_dir / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki_dir / 'apiserver-kubelet-client.key'}",
                "--kubelet-preferred-address-types=InternalIP",
                "--allow-privileged=true",
                "--profiling=false",
            ],
            self.apiserver_ready,
        )
        kcm_kubeconfig = self.kubeconfig_of("controller-manager")
        controller_manager = Daemon(
            "kube-controller-manager",
            str(binary_path("kube-controller-manager")),
            [
                f"--kubeconfig={kcm_kubeconfig}",
                f"--authentication-kubeconfig={kcm_kubeconfig}",
                f"--authorization-kubeconfig={kcm_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p.controller_manager}",
                f"--cert-dir={s / 'controller-manager'}",
                "--leader-elect=false",
                # Each controller acts as its own ServiceAccount (as in a real cluster).
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki_dir / 'sa.key'}",
                f"--root-ca-file={pki_dir / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki_dir / 'ca.crt'}",
                f"--cluster-signing-key-file={pki_dir / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # The node gets its pod CIDR from the node-ipam controller, as with kubeadm.
                "--allocate-node-cidrs=true",
                f"--cluster-cidr={CLUSTER_CIDR}",
                "--node-cidr-mask-size=24",
                "--cluster-name=cyberfortune",
                "--profiling=false",
            ],
            lambda: get_ok(f"https://127.0.0.1:{p.controller_manager}/healthz", unverified),
        )
        sched_kubeconfig = self.kubeconfig_of("scheduler")
        scheduler = Daemon(
            "kube-scheduler",
            str(binary_path("kube-scheduler")),
            [
                f"--kubeconfig={sched_kubeconfig}",
                f"--authentication-kubeconfig={sched_kubeconfig}",
                f"--authorization-kubeconfig={sched_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p.scheduler}",
                f"--cert-dir={s / 'scheduler'}",
                "--leader-elect=false",
                "--profiling=false",
            ],
            lambda: get_ok(f"https://127.0.0.1:{p.scheduler}/healthz", unverified),
        )
        return [etcd, apiserver, controller_manager, scheduler]

    def up(self, timeout: float = 120.0) -> None:
        """Start whatever is not running and wait until each is ready."""
        self.prepare()
        for daemon in self.daemons_to_run():
            self.daemons.start(daemon, timeout)
            if daemon.name == "kube-apiserver":
                self._bind_kubelet_api_admin()

    def _bind_kubelet_api_admin(self) -> None:
        """Grant the API server's kubelet client the kubelet API (as kubeadm does)."""
        self.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "cyberfortune:apiserver-kubelet-client"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "system:kubelet-api-admin",
                },
                "subjects": [
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "User",
                        "name": pki.APISERVER_KUBELET_CLIENT,
                    }
                ],
            }
        )

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl (at the server's version) as the admin; ClusterError if it fails."""
        cmd = [str(binary_path("kubectl")), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return proc

    def apply(self, *objects: dict[str, object]) -> None:
        """Server-side apply of `objects` as the cluster's own field manager."""
        manifest = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        self.kubectl(
            "apply",
            "--server-side",
            "--field-manager=cyberfortune-cluster",
            "-f",
            "-",
            input=json.dumps(manifest),
        )

    def down(self, timeout: float = 15.0) -> None:
        """Stop the components (reverse start order) by their recorded PIDs."""
        for name in reversed(COMPONENTS):
            self.daemons.stop(name, timeout)

    def status(self) -> dict[str, int | None]:
        """PID of each component, or None if it is not running."""
        return {n: self.daemons.running(n) for n in COMPONENTS}


__all__ = ["ClusterError", "ControlPlane", "get_ok"]
