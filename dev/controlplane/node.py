"""The local cluster's one node: containerd (CRI) + kubelet + kube-proxy, pods on a CNI bridge.

containerd and runc are Debian's (containerd 1.6 speaks CRI v1, which kubelet 1.34 needs), as are
the CNI plugins (/usr/lib/cni); kubelet and kube-proxy are built from the Kubernetes pin. This
node's containerd is a private instance (own config, root, state and socket under the state
directory), so it never touches a system containerd. Images are never pulled: the pause image and
our images are built locally (images.py) and imported; pods use `imagePullPolicy: IfNotPresent`
(or Never).

Two quirks of this kind of VM are handled here, each where it bites:
- a negative oom_score_adj is refused even to root, and containerd gives every pod sandbox -998,
  so runc fails ("can't get final child's PID from pipe: EOF"); `restrict_oom_score_adj` clamps it
  and the kubelet gets `oomScoreAdj: 0`;
- cgroup v1 (hybrid layout): kubelet 1.34 still supports it with the cgroupfs driver.

Teardown stops the kubelet first (nothing restarts containers), removes every pod sandbox through
CRI (so CNI releases addresses, veths and masquerade rules), stops containerd and any shim left,
removes kube-proxy's rules, unmounts what is left under the state directory and deletes the
kubelet's cgroups, so nothing stays running or mounted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from controlplane.binaries import binary_path
from controlplane.controlplane import ControlPlane, get_ok
from controlplane.daemons import ClusterError, Daemon, RecordedDaemons
from controlplane.network import (
    CLUSTER_CIDR,
    CLUSTER_DOMAIN,
    DNS_SERVICE_IP,
    NODE_IP,
    NODE_NAME,
    POD_CIDR,
    Ports,
    cni_config,
)
from localservices.supervisor import stop_pid, wait_for

CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
CNI_BIN_DIR = "/usr/lib/cni"
PAUSE_IMAGE = "localhost/cyberfortune/pause:dev"
NODE_COMPONENTS = ("containerd", "kubelet", "kube-proxy")
CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBELET_CGROUP = "kubepods"
CONTAINER_LOG_LINKS = Path("/var/log/containers")  # fixed in the kubelet


def _write(path: Path, data: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def host_resolv_conf() -> str:
    """The resolv.conf with the host's real upstream (not systemd-resolved's loopback stub)."""
    resolved = Path("/run/systemd/resolve/resolv.conf")
    return str(resolved if resolved.exists() else Path("/etc/resolv.conf"))


def kube_chains() -> list[str]:
    """`<tool> <table> <chain>` of every KUBE-* chain on the host."""
    found = []
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in ("filter", "nat", "mangle", "raw"):
            listing = subprocess.run(
                [tool, "-w", "-t", table, "-S"], capture_output=True, text=True, check=False
            )
            found += [
                f"{tool} {table} {line.split()[1]}"
                for line in listing.stdout.splitlines()
                if line.startswith("-N KUBE-")
            ]
    return found


def remove_kube_chains() -> None:
    """Delete the KUBE-* chains and the rules jumping to them (IPv4 and IPv6, every table).

    kube-proxy --cleanup removes its own; the kubelet's (KUBE-FIREWALL, KUBE-KUBELET-CANARY,
    KUBE-IPTABLES-HINT) it leaves, so they are removed here. Only one node runs on a machine, so
    every KUBE-* chain is this node's.
    """
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in ("filter", "nat", "mangle", "raw"):
            listing = subprocess.run(
                [tool, "-w", "-t", table, "-S"], capture_output=True, text=True, check=False
            )
            if listing.returncode != 0:
                continue
            chains = []
            for rule in listing.stdout.splitlines():
                parts = shlex.split(rule)
                if parts[:1] == ["-N"] and parts[1].startswith("KUBE-"):
                    chains.append(parts[1])
                elif (
                    parts[:1] == ["-A"]
                    and not parts[1].startswith("KUBE-")
                    and "-j" in parts
                    and parts[parts.index("-j") + 1].startswith("KUBE-")
                ):
                    subprocess.run([tool, "-w", "-t", table, "-D", *parts[1:]], check=False)
            for verb in ("-F", "-X"):
                for chain in chains:
                    subprocess.run([tool, "-w", "-t", table, verb, chain], check=False)


class Node:
    """containerd + kubelet + kube-proxy registered as node NODE_NAME with `plane`."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.state_dir = plane.state_dir
        self.daemons = RecordedDaemons(self.state_dir)
        self.containerd_dir = self.state_dir / "containerd"
        self.socket = self.containerd_dir / "containerd.sock"
        self.kubelet_dir = self.state_dir / "kubelet"
        self.cni_conf_dir = self.state_dir / "cni" / "net.d"
        # When this process started the kubelet (None: it was running already).
        self.kubelet_started: dt.datetime | None = None

    @property
    def endpoint(self) -> str:
        """The CRI endpoint of this node's containerd."""
        return f"unix://{self.socket}"

    # --- clients ----------------------------------------------------------------------------

    def ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """containerd's own client against this node's containerd, namespace k8s.io (CRI's)."""
        cmd = [CTR, "--address", str(self.socket), "--namespace", "k8s.io", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def crictl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """crictl against this node's CRI endpoint."""
        cmd = [str(binary_path("crictl")), "--runtime-endpoint", self.endpoint]
        cmd += ["--image-endpoint", self.endpoint, "--timeout", "30s", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def containerd_ready(self) -> bool:
        """True once the CRI plugin answers and reports the runtime ready."""
        if not self.socket.exists():
            return False
        proc = self.crictl("info")
        if proc.returncode != 0:
            return False
        conditions = json.loads(proc.stdout).get("status", {}).get("conditions", [])
        return any(c["type"] == "RuntimeReady" and c["status"] for c in conditions)

    def node_ready(self) -> bool:
        """True once the Node object reports Ready."""
        proc = subprocess.run(
            [
                str(binary_path("kubectl")),
                "--kubeconfig",
                str(self.plane.kubeconfig),
                "get",
                "node",
                NODE_NAME,
                "-o",
                "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return proc.returncode == 0 and proc.stdout.strip() == "True"

    # --- configuration ----------------------------------------------------------------------

    def _containerd_config(self) -> Path:
        c = self.containerd_dir
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""version = 2
root = "{c / "root"}"
state = "{c / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{self.socket}"

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # This VM refuses negative oom_score_adj values even to root: clamp instead of failing.
  restrict_oom_score_adj = true
  # Pod network namespaces under our state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{self.cni_conf_dir}"
"""
        return _write(c / "config.toml", config)

    def _kubelet_config(self) -> Path:
        pki, p = self.plane.pki, self.plane.ports
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": p.kubelet,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": p.kubelet_healthz,
            "tlsCertFile": str(pki / "kubelet-serving.crt"),
            "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
            # As kubeadm configures it: client certificates from our CA, everything else by a
            # SubjectAccessReview against the API server.
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(pki / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "containerRuntimeEndpoint": self.endpoint,
            "cgroupDriver": "cgroupfs",
            "clusterDNS": [DNS_SERVICE_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": host_resolv_conf(),
            "podCIDR": POD_CIDR,
            "podLogsDir": str(self.state_dir / "pod-logs"),
            "volumePluginDir": str(self.kubelet_dir / "volume-plugins"),
            "failSwapOn": False,
            "oomScoreAdj": 0,  # negative values are refused in this VM
            # Local images cannot be pulled again: never garbage-collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            # A development machine's disk is shared with everything else: evict only when
            # really short (the defaults of 10-15 % free would evict on a well-used disk).
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "serializeImagePulls": False,
            "rotateCertificates": False,
            "serverTLSBootstrap": False,
            "staticPodPath": "",
            "maxPods": 110,
        }
        return _write(self.state_dir / "kubelet-config.json", json.dumps(config, indent=2))

    def _kube_proxy_config(self) -> Path:
        p = self.plane.ports
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.plane.kubeconfig_of("kube-proxy"))},
            "mode": "iptables",
            "clusterCIDR": CLUSTER_CIDR,
            "hostnameOverride": NODE_NAME,
            "bindAddress": NODE_IP,
            "healthzBindAddress": f"127.0.0.1:{p.proxy_healthz}",
            "metricsBindAddress": f"127.0.0.1:{p.proxy_metrics}",
            # Leave the host's conntrack limits and timeouts as they are (0 = do not change).
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            # NodePorts on 127.0.0.1 would need route_localnet=1 on the host: not worth it here.
            "iptables": {"localhostNodePorts": False},
        }
        return _write(self.state_dir / "kube-proxy-config.json", json.dumps(config, indent=2))

    def daemons_to_run(self) -> list[Daemon]:
        """containerd, kubelet, kube-proxy, in start order."""
        p = self.plane.ports
        containerd = Daemon(
            "containerd",
            CONTAINERD,
            ["--config", str(self._containerd_config())],
            self.containerd_ready,
        )
        kubelet = Daemon(
            "kubelet",
            str(binary_path("kubelet")),
            [
                f"--config={self._kubelet_config()}",
                f"--kubeconfig={self.plane.kubeconfig_of('kubelet')}",
                f"--root-dir={self.kubelet_dir}",
                f"--cert-dir={self.kubelet_dir / 'pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--v=1",
            ],
            lambda: get_ok(f"http://127.0.0.1:{p.kubelet_healthz}/healthz"),
        )
        kube_proxy = Daemon(
            "kube-proxy",
            str(binary_path("kube-proxy")),
            [f"--config={self._kube_proxy_config()}", "--v=1"],
            lambda: get_ok(f"http://127.0.0.1:{p.proxy_healthz}/healthz"),
        )
        return [containerd, kubelet, kube_proxy]

    # --- lifecycle --------------------------------------------------------------------------

    def up(self, import_images: object = None, timeout: float = 180.0) -> None:
        """Start containerd, import the local images, start kubelet and kube-proxy, wait until
        the node is Ready. `import_images(node)` loads images before the kubelet starts."""
        for missing in (CONTAINERD, CTR, f"{CNI_BIN_DIR}/bridge", "/usr/sbin/runc"):
            if not Path(missing).exists():
                raise ClusterError(f"{missing} is missing: run `make system-packages` (as root)")
        _write(self.cni_conf_dir / "10-cyberfortune.conflist", json.dumps(cni_config(), indent=2))
        containerd, kubelet, kube_proxy = self.daemons_to_run()
        self.daemons.start(containerd, timeout)
        if callable(import_images):
            import_images(self)
        before = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1)
        if self.daemons.start(kubelet, timeout):
            self.kubelet_started = before
        self.daemons.start(kube_proxy, timeout)
        wait_for(self.node_ready, timeout, f"node {NODE_NAME} Ready", interval=0.25)

    def status(self) -> dict[str, int | None]:
        """PID of each node daemon, or None if it is not running."""
        return {n: self.daemons.running(n) for n in NODE_COMPONENTS}

    def down(self, timeout: float = 15.0) -> None:
        """Stop everything the node started and remove what it left (see the module docstring)."""
        self.daemons.stop("kubelet", timeout)
        if self.daemons.running("containerd") is not None:
            removed = self.crictl("rmp", "--all", "--force")
            if removed.returncode != 0:
                print(f"node: crictl rmp failed: {removed.stderr.strip()}")
        self.daemons.stop("containerd", timeout)
        self._kill_leftover_shims(timeout)
        self.daemons.stop("kube-proxy", timeout)
        if binary_path("kube-proxy").exists():
            # Removes every KUBE-* chain and rule kube-proxy made (iptables, and nftables if any).
            subprocess.run(
                [str(binary_path("kube-proxy")), "--cleanup"], capture_output=True, check=False
            )
        remove_kube_chains()
        self._unmount_leftovers()
        self._remove_cgroups()
        self._remove_log_links()

    def shims(self) -> list[tuple[int, str]]:
        """(pid, exe) of the containerd shims started by this node's containerd."""
        address = str(self.socket).encode()
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"-address" in cmdline and address in cmdline and b"-namespace" in cmdline:
                found.append((int(proc.name), cmdline[0].decode()))
        return found

    def _kill_leftover_shims(self, timeout: float) -> None:
        """containerd shims outlive containerd by design: stop ours (started with our socket)."""
        for pid, exe in self.shims():
            stop_pid(pid, timeout, exe=exe)

    def mounts(self) -> list[str]:
        """Mount points under the state directory."""
        root = str(self.state_dir.resolve())
        mounts = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].encode().decode("unicode_escape")
            if point == root or point.startswith(root + "/"):
                mounts.append(point)
        return sorted(set(mounts))

    def _unmount_leftovers(self) -> None:
        """Unmount whatever is still mounted under the state directory (deepest first)."""
        for point in sorted(self.mounts(), key=lambda m: m.count("/"), reverse=True):
            if subprocess.run(["umount", point], capture_output=True, check=False).returncode:
                subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)

    def _remove_cgroups(self) -> None:
        """Remove the kubelet's (now empty) cgroups in every hierarchy."""
        if not CGROUP_ROOT.is_dir():
            return
        for hierarchy in CGROUP_ROOT.iterdir():
            top = hierarchy / KUBELET_CGROUP
            if not top.is_dir():
                continue
            for dirpath, _dirs, _files in sorted(
                os.walk(top), key=lambda entry: entry[0].count("/"), reverse=True
            ):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)

    def _remove_log_links(self) -> None:
        """The kubelet links container logs into /var/log/containers: drop links to our logs."""
        logs = str(self.state_dir / "pod-logs")
        if not CONTAINER_LOG_LINKS.is_dir():
            return
        for link in CONTAINER_LOG_LINKS.iterdir():
            with contextlib.suppress(OSError):
                if link.is_symlink() and os.readlink(link).startswith(logs):
                    link.unlink()


def running_node(state_dir: Path) -> Node | None:
    """The node of the cluster in `state_dir` if its containerd runs (for loading images)."""
    state_dir = state_dir.resolve()
    ports = Ports.saved(state_dir)
    if ports is None:
        return None
    node = Node(ControlPlane(state_dir, ports, state_dir / "admin.kubeconfig"))
    return node if node.status()["containerd"] else None
