"""The local cluster's PKI, laid out as kubeadm lays it out (one CA, one identity per component).

Every component authenticates with its own client certificate, so RBAC applies to it exactly as in a
real cluster: kube-controller-manager, kube-scheduler and kube-proxy as the users the bootstrap
policy binds to their roles, the kubelet as `system:node:<name>` in `system:nodes` (Node authorizer
and NodeRestriction), the API server towards the kubelets as `kube-apiserver-kubelet-client` (bound
to `system:kubelet-api-admin` after start-up), the admin as a member of `system:masters`.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Bumped whenever the set of certificates or their names change: an older PKI is then replaced.
LAYOUT_VERSION = "2"
CLUSTER_NAME = "cyberfortune"
ADMIN_USER = "cyberfortune-admin"
APISERVER_KUBELET_CLIENT = "kube-apiserver-kubelet-client"


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate: file stem, user (CN) and group (O)."""

    stem: str
    user: str
    group: str | None = None


def client_identities(node_name: str) -> list[ClientIdentity]:
    """The client certificates of the cluster's components."""
    return [
        ClientIdentity("admin", ADMIN_USER, "system:masters"),
        ClientIdentity("controller-manager", "system:kube-controller-manager"),
        ClientIdentity("scheduler", "system:kube-scheduler"),
        ClientIdentity("kube-proxy", "system:kube-proxy"),
        ClientIdentity("kubelet", f"system:node:{node_name}", "system:nodes"),
        ClientIdentity("apiserver-kubelet-client", APISERVER_KUBELET_CLIENT),
    ]


class _Issuer:
    """Creates keys and certificates into one directory (ECDSA P-256, ten years)."""

    def __init__(self, pki: Path) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.pki = pki
        self.ec = ec
        self.now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        self.until = self.now + dt.timedelta(days=3650)

    def _save(self, stem: str, key: Any, cert: Any) -> None:
        from cryptography.hazmat.primitives import serialization

        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(self.pki / f"{stem}.key", pem)
        (self.pki / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def name(cn: str, org: str | None = None) -> Any:
        """An X.509 name with CN (the user) and O (the group)."""
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def ca(self, stem: str) -> tuple[Any, Any]:
        """A self-signed CA; (key, subject)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        key = self.ec.generate_private_key(self.ec.SECP256R1())
        subject = self.name(f"{CLUSTER_NAME}-{stem}")
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
            .not_valid_before(self.now)
            .not_valid_after(self.until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        self._save(stem, key, cert)
        return key, subject

    def issue(
        self,
        stem: str,
        ca: tuple[Any, Any],
        subject: Any,
        server: bool,
        dns: list[str] | None = None,
        ips: list[str] | None = None,
    ) -> None:
        """A certificate signed by `ca`: a serving one (`server`) or a client one."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import ExtendedKeyUsageOID

        ca_key, ca_name = ca
        key = self.ec.generate_private_key(self.ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now)
            .not_valid_after(self.until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or []]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips or []]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        self._save(stem, key, builder.sign(ca_key, hashes.SHA256()))

    def service_account_keys(self) -> None:
        """The service-account token signing key (RS256, what every OIDC consumer accepts)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = sa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(self.pki / "sa.key", pem)
        public = sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (self.pki / "sa.pub").write_bytes(public)


def make_pki(pki: Path, node_name: str, node_ip: str, service_ip: str) -> None:
    """Create the CAs, serving and client certificates and the service-account key pair.

    Idempotent: an existing PKI of the same layout, node and addresses is kept as it is.
    """
    stamp = pki / "layout.json"
    wanted = {"version": LAYOUT_VERSION, "node": node_name, "ip": node_ip, "svc": service_ip}
    try:
        if json.loads(stamp.read_text()) == wanted:
            return
    except (OSError, ValueError):
        pass
    pki.mkdir(parents=True, exist_ok=True)
    issuer = _Issuer(pki)
    name = issuer.name
    ca = issuer.ca("ca")
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    dns.append("kubernetes.default.svc.cluster.local")
    # node_ip: where the API server listens (host and pods); service_ip: the `kubernetes` Service.
    ips = ["127.0.0.1", node_ip, service_ip]
    issuer.issue("apiserver", ca, name("kube-apiserver"), True, dns, ips)
    # The kubelet's serving certificate: the API server reaches it by the node's InternalIP.
    kubelet = name(f"system:node:{node_name}", "system:nodes")
    issuer.issue("kubelet-serving", ca, kubelet, True, [node_name], [node_ip])
    for ident in client_identities(node_name):
        issuer.issue(ident.stem, ca, name(ident.user, ident.group), False)
    # Front proxy (request-header authentication), as kubeadm sets it up: aggregated API servers and
    # the delegated authentication of the controller manager and scheduler read this CA.
    front_proxy_ca = issuer.ca("front-proxy-ca")
    issuer.issue("front-proxy-client", front_proxy_ca, name("front-proxy-client"), False)
    issuer.service_account_keys()
    stamp.write_text(json.dumps(wanted))


def _b64file(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, pki: Path, ident: ClientIdentity) -> None:
    """A self-contained kubeconfig (certificates embedded) for the client identity `ident`."""
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
                "name": ident.user,
                "user": {
                    "client-certificate-data": _b64file(pki / f"{ident.stem}.crt"),
                    "client-key-data": _b64file(pki / f"{ident.stem}.key"),
                },
            }
        ],
        "contexts": [
            {"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": ident.user}}
        ],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write_private(tmp, json.dumps(config, indent=2).encode())  # JSON is valid kubeconfig YAML
    tmp.replace(path)
