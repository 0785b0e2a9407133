"""Local Kubernetes control plane: etcd + kube-apiserver + kube-controller-manager.

The binaries are the Go builds cached by build.sh (pins in versions.env). This module is what
`make cluster-up` / `make cluster-down` run (through cluster.sh) and what the e2e pytest fixture
uses, so the start and stop logic exists once. Every process is recorded in a PID file in the state
directory and stopped by that PID (SIGTERM, then SIGKILL after a timeout), never by name.

Usage: python dev/controlplane/controlplane.py up|down|status [--state-dir DIR] [--kubeconfig FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
CLUSTER_NAME = "cyberfortune"
ADMIN_USER = "cyberfortune-admin"


class ControlPlaneError(RuntimeError):
    """A component failed to build, start or become ready."""


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
    """Where build.sh puts the binaries (outside the repository)."""
    override = os.environ.get("CYBERFORTUNE_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "cyberfortune"


def binary_path(name: str) -> Path:
    """Path of a cached binary at its pinned version: <cache>/bin/<name>-<version>/<name>."""
    versions = read_versions()
    key = {
        "etcd": "ETCD_VERSION",
        "kube-apiserver": "KUBERNETES_VERSION",
        "kube-controller-manager": "KUBERNETES_VERSION",
        "kubectl": "KUBERNETES_VERSION",
        "helm": "HELM_VERSION",
    }[name]
    return cache_dir() / "bin" / f"{name}-{versions[key]}" / name


def ensure_binaries(names: list[str]) -> None:
    """Run build.sh if one of the pinned binaries `names` is missing (it builds what is missing)."""
    if not all(binary_path(n).is_file() for n in names):
        subprocess.run(["bash", str(HERE / "build.sh")], check=True)


@dataclass(frozen=True)
class Ports:
    """Loopback ports of the components."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int

    @classmethod
    def free(cls) -> Ports:
        """Four distinct ports the kernel reports free right now (all held open until chosen)."""
        socks = []
        try:
            for _ in range(4):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0))
                socks.append(s)
            return cls(*(s.getsockname()[1] for s in socks))
        finally:
            for s in socks:
                s.close()


# Fixed ports for `make cluster-up`: etcd off its default 2379/2380 so a system etcd does not clash.
DEFAULT_PORTS = Ports(etcd_client=12379, etcd_peer=12380, apiserver=6443, controller_manager=10357)


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# --- processes ------------------------------------------------------------------------------------


def _alive(pid: int, exe: str) -> bool:
    """True if `pid` is running (not a zombie) and is still the program we started."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our exited child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    if state in ("Z", "X"):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # it exited after the first reap attempt
        return False
    return cmdline[0].decode() == exe


def _stop_pid(pid: int, exe: str, timeout: float) -> None:
    """SIGTERM `pid`, wait up to `timeout` seconds, then SIGKILL it."""
    if not _alive(pid, exe):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid, exe):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    while _alive(pid, exe):
        time.sleep(0.05)


def _wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc_ok: Callable[[], bool]
) -> None:
    """Poll `check` until true; fail early if the process died, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not proc_ok():
            raise ControlPlaneError(f"{what}: process exited")
        time.sleep(0.1)
    raise ControlPlaneError(f"{what}: not ready after {timeout:.0f}s")


# --- certificates ---------------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


PKI_FILES = ("ca", "apiserver", "admin", "controller-manager", "front-proxy-ca")
PKI_FILES += ("front-proxy-client",)


def make_pki(pki: Path) -> None:
    """Create the CAs, serving and client certificates and the service-account key pair once."""
    if all((pki / f"{stem}.crt").exists() for stem in PKI_FILES) and (pki / "sa.pub").exists():
        return
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pki.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ten_years = now + dt.timedelta(days=3650)

    def pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def name(cn: str, org: str | None = None) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def save(stem: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        _write_private(pki / f"{stem}.key", pem_key(key))
        (pki / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def make_ca(stem: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = name(f"{CLUSTER_NAME}-{stem}")
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(ten_years)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        save(stem, key, cert)
        return key, subject

    def issue(
        stem: str,
        ca: tuple[ec.EllipticCurvePrivateKey, x509.Name],
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName] | None = None,
    ) -> None:
        ca_key, ca_name = ca
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(ten_years)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        save(stem, key, builder.sign(ca_key, hashes.SHA256()))

    ca = make_ca("ca")
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    dns.append("kubernetes.default.svc.cluster.local")
    ips = ["127.0.0.1", "::1", "10.0.0.1"]  # 10.0.0.1: the `kubernetes` Service's cluster IP
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    issue("apiserver", ca, name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
    # O=system:masters: the group bound to cluster-admin by the bootstrap RBAC policy.
    issue("admin", ca, name(ADMIN_USER, "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH)
    # The user the bootstrap policy grants exactly kube-controller-manager's own rights.
    kcm_user = name("system:kube-controller-manager")
    issue("controller-manager", ca, kcm_user, ExtendedKeyUsageOID.CLIENT_AUTH)
    # Front proxy (request-header authentication), as kubeadm sets it up: aggregated API servers and
    # the controller manager's delegated authentication read this CA from the cluster.
    front_proxy_ca = make_ca("front-proxy-ca")
    proxy_user = name("front-proxy-client")
    issue("front-proxy-client", front_proxy_ca, proxy_user, ExtendedKeyUsageOID.CLIENT_AUTH)

    # Service-account token signing key (RS256, what every OIDC consumer accepts).
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(pki / "sa.key", pem_key(sa_key))
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _b64file(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, pki: Path, user: str, stem: str) -> None:
    """A self-contained kubeconfig (certificates embedded) for the client certificate `stem`."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": _b64file(pki / "ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64file(pki / f"{stem}.crt"),
                    "client-key-data": _b64file(pki / f"{stem}.key"),
                },
            }
        ],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    _write_private(tmp, json.dumps(config, indent=2).encode())  # JSON is valid kubeconfig YAML
    tmp.replace(path)


# --- the control plane ----------------------------------------------------------------------------


@dataclass
class Component:
    """One process of the control plane: how to start it and how to tell it is ready."""

    name: str
    args: list[str]
    ready: Callable[[], bool]


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) on loopback, state under `state_dir`."""

    def __init__(
        self,
        state_dir: Path,
        ports: Ports = DEFAULT_PORTS,
        kubeconfig: Path | None = None,
        controller_manager: bool = True,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.pki = self.state_dir / "pki"
        self.kubeconfig = (kubeconfig or self.state_dir / "admin.kubeconfig").resolve()
        self.ports = ports
        self.controller_manager = controller_manager

    @property
    def server(self) -> str:
        """The API server URL."""
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def _pidfile(self, name: str) -> Path:
        return self.state_dir / f"{name}.pid"

    def _running(self, name: str) -> int | None:
        """PID of component `name` if its PID file names a live process we started."""
        try:
            record = json.loads(self._pidfile(name).read_text())
        except (OSError, ValueError):
            return None
        return record["pid"] if _alive(record["pid"], record["exe"]) else None

    def _admin_ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(self.pki / "admin.crt", self.pki / "admin.key")
        return ctx

    def _get_ok(self, url: str, ctx: ssl.SSLContext | None = None) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def apiserver_ready(self) -> bool:
        """True once /readyz answers 200 (all post-start hooks, RBAC bootstrap included)."""
        return self._get_ok(f"{self.server}/readyz", self._admin_ssl())

    def _components(self) -> list[Component]:
        p, pki, s = self.ports, self.pki, self.state_dir
        etcd_url = f"http://127.0.0.1:{p.etcd_client}"
        peer_url = f"http://127.0.0.1:{p.etcd_peer}"
        etcd = Component(
            "etcd",
            [
                f"--name={CLUSTER_NAME}",
                f"--data-dir={s / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster={CLUSTER_NAME}={peer_url}",
                "--initial-cluster-state=new",
                # A throwaway dev/test store: skipping fsync makes every write much cheaper.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            lambda: self._get_ok(f"{etcd_url}/health"),
        )
        apiserver = Component(
            "kube-apiserver",
            [
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={p.apiserver}",
                f"--cert-dir={s / 'apiserver'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
                f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # Endpoints may not hold loopback IPs, so do not publish the `kubernetes` Service's
                # endpoints (nothing in-cluster needs them: there are no nodes or pods).
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
            ],
            self.apiserver_ready,
        )
        components = [etcd, apiserver]
        if self.controller_manager:
            kcm_kubeconfig = s / "controller-manager.kubeconfig"
            components.append(
                Component(
                    "kube-controller-manager",
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
                        f"--service-account-private-key-file={pki / 'sa.key'}",
                        f"--root-ca-file={pki / 'ca.crt'}",
                        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                        f"--cluster-signing-key-file={pki / 'ca.key'}",
                        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                        f"--cluster-name={CLUSTER_NAME}",
                        "--profiling=false",
                    ],
                    lambda: self._get_ok(
                        f"https://127.0.0.1:{p.controller_manager}/healthz",
                        ssl._create_unverified_context(),  # self-signed serving cert in cert-dir
                    ),
                )
            )
        return components

    def up(self, timeout: float = 120.0) -> float:
        """Start whatever is not running, wait until each is ready; returns the seconds taken."""
        start = time.monotonic()
        components = self._components()
        ensure_binaries([c.name for c in components])
        self.state_dir.mkdir(parents=True, exist_ok=True)
        make_pki(self.pki)
        write_kubeconfig(self.kubeconfig, self.server, self.pki, ADMIN_USER, "admin")
        write_kubeconfig(
            self.state_dir / "controller-manager.kubeconfig",
            self.server,
            self.pki,
            "system:kube-controller-manager",
            "controller-manager",
        )
        (self.state_dir / "ports.json").write_text(json.dumps(asdict(self.ports)))
        for component in components:
            self._start(component, timeout)
        return time.monotonic() - start

    def _start(self, component: Component, timeout: float) -> None:
        if self._running(component.name) is not None:
            _wait_until(component.ready, timeout, component.name, lambda: True)
            return
        exe = str(binary_path(component.name))
        log = self.state_dir / f"{component.name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [exe, *component.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives `cluster.sh up`; no terminal signals
            )
        self._pidfile(component.name).write_text(json.dumps({"pid": proc.pid, "exe": exe}))
        try:
            _wait_until(component.ready, timeout, component.name, lambda: proc.poll() is None)
        except ControlPlaneError as exc:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise ControlPlaneError(f"{exc}; last lines of {log}:\n" + "\n".join(tail)) from None

    def down(self, timeout: float = 15.0) -> None:
        """Stop the components (reverse start order) by their recorded PIDs."""
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            pidfile = self._pidfile(name)
            try:
                record = json.loads(pidfile.read_text())
            except (OSError, ValueError):
                continue
            _stop_pid(record["pid"], record["exe"], timeout)
            pidfile.unlink(missing_ok=True)

    def status(self) -> dict[str, int | None]:
        """PID of each component, or None if it is not running."""
        names = ["etcd", "kube-apiserver"]
        if self.controller_manager:
            names.append("kube-controller-manager")
        return {n: self._running(n) for n in names}


def start_on_free_ports(state_dir: Path, attempts: int = 3, **kwargs: object) -> ControlPlane:
    """Start a control plane on free ports, retrying if a port was taken between pick and bind."""
    for attempt in range(attempts):
        plane = ControlPlane(state_dir / f"attempt-{attempt}", Ports.free(), **kwargs)  # type: ignore[arg-type]
        try:
            plane.up()
            return plane
        except ControlPlaneError:
            plane.down()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    """CLI: up, down, status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".local" / "cluster")
    parser.add_argument("--kubeconfig", type=Path, default=REPO_ROOT / ".local" / "kubeconfig")
    parser.add_argument("--no-controller-manager", action="store_true")
    args = parser.parse_args(argv)

    state_dir: Path = args.state_dir
    ports = DEFAULT_PORTS
    saved = state_dir / "ports.json"
    if saved.exists():
        ports = Ports(**json.loads(saved.read_text()))
    plane = ControlPlane(state_dir, ports, args.kubeconfig, not args.no_controller_manager)

    if args.command == "down":
        plane.down()
        print(f"cluster down (state kept in {state_dir}; `make clean` removes it)")
        return 0
    if args.command == "status":
        for name, pid in plane.status().items():
            print(f"{name}: {'running, pid ' + str(pid) if pid else 'stopped'}")
        return 0 if all(plane.status().values()) else 1

    if not any(plane.status().values()):
        busy = [port for port in asdict(ports).values() if _port_in_use(port)]
        if busy:
            print(f"ports in use by another program: {busy}", file=sys.stderr)
            return 1
    try:
        seconds = plane.up()
    except ControlPlaneError as exc:
        print(f"cluster-up failed: {exc}", file=sys.stderr)
        return 1
    print(f"cluster ready in {seconds:.1f}s: {plane.server}")
    print(f"  kubeconfig: {plane.kubeconfig}")
    print(f"  logs, PID files, etcd data: {state_dir}")
    shown = os.path.relpath(plane.kubeconfig)
    shown = str(plane.kubeconfig) if shown.startswith("..") else shown
    print(f"  kubectl at the server's version: {binary_path('kubectl')}")
    print(f"  try: kubectl --kubeconfig {shown} get namespaces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
