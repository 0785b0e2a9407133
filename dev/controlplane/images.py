"""Container images for the local cluster, built here without a daemon or a registry.

    python dev/controlplane/images.py build [NAME...]   # `make images`: build, then load if the
                                                        # node runs
    python dev/controlplane/images.py list

- The base: a Debian bookworm root filesystem made with mmdebstrap (python3, python3-venv,
  python-is-python3, ca-certificates), committed as `localhost/cyberfortune/base:<key>`, where the
  key hashes its recipe; so the slow step (about a minute and a half) runs once per machine.
- Our images (api, worker, operator) and the backend stand-ins (rabbitmq, redis, secantusdb) are
  built from their Dockerfiles by buildah (Debian's package; `buildah bud --layers`, so unchanged
  steps come from its cache) with `--build-arg BASE=<the local base>`; pause, CoreDNS,
  local-path-provisioner and KEDA (operator, metrics API server) from the binaries build.sh made.
- Each image is written once as an OCI archive (`<cache>/images/<name>-<image id>.tar`) and
  imported into the node's containerd (namespace k8s.io) as `docker.io/cyberfortune/<name>:dev`,
  which is what `cyberfortune/<name>:dev` in a pod spec means. The node remembers what it
  imported (by image id), so a reload costs nothing when nothing changed.

buildah keeps its storage under `<cache>/buildah` (overlay driver; run as root, like the node).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import `controlplane` as the package it is
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from controlplane.binaries import REPO_ROOT, binary_path, cache_dir, ensure_binaries
from controlplane.daemons import ClusterError
from controlplane.node import Node, running_node

BUILDAH = "/usr/bin/buildah"
MMDEBSTRAP = "/usr/bin/mmdebstrap"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRRORS = [
    f"deb http://deb.debian.org/debian {DEBIAN_SUITE} main",
    f"deb http://deb.debian.org/debian {DEBIAN_SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {DEBIAN_SUITE}-security main",
]
BASE_PACKAGES = ["python3", "python3-venv", "python-is-python3", "ca-certificates"]
# Documentation and translations are never read in a container: leave them out of the base.
BASE_DPKG_EXCLUDES = [
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
]
BASE_RECIPE_VERSION = "1"  # bump to rebuild the base on every machine
# The host's way out to PyPI (its CA bundle, e.g. with a TLS-inspecting proxy's CA, and its pip
# configuration) is lent to the build steps only, as read-only mounts: it never lands in a layer.
HOST_TRUST = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf")


@dataclass(frozen=True)
class ImageSpec:
    """How to build one image: its Dockerfile, its context and whether it takes the local base."""

    name: str
    dockerfile: Path
    context: Path | None  # None: a temp dir holding the binary `binary`
    binary: str | None = None
    uses_base: bool = True
    extra_args: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        """The name pods use (`cyberfortune/<name>:dev`) as containerd stores it."""
        if self.name == "pause":
            return "localhost/cyberfortune/pause:dev"
        return f"docker.io/cyberfortune/{self.name}:dev"


IMAGES: dict[str, ImageSpec] = {
    spec.name: spec
    for spec in [
        ImageSpec("pause", REPO_ROOT / "dev/images/pause/Dockerfile", None, "pause", False),
        ImageSpec("coredns", REPO_ROOT / "dev/images/coredns/Dockerfile", None, "coredns", False),
        ImageSpec(
            "local-path-provisioner",
            REPO_ROOT / "dev/images/local-path-provisioner/Dockerfile",
            None,
            "local-path-provisioner",
            False,
        ),
        # KEDA (its operator and metrics API server), for the chart's KEDA mode in the e2e tier.
        ImageSpec("keda", REPO_ROOT / "dev/images/keda/Dockerfile", None, "keda", False),
        ImageSpec(
            "keda-adapter",
            REPO_ROOT / "dev/images/keda-adapter/Dockerfile",
            None,
            "keda-adapter",
            False,
        ),
        # The Debian base itself: the provisioner's helper pods run its shell to make directories.
        ImageSpec("base", REPO_ROOT / "dev/controlplane/images.py", None),
        ImageSpec("api", REPO_ROOT / "api-image/Dockerfile", REPO_ROOT),
        ImageSpec("worker", REPO_ROOT / "worker-image/Dockerfile", REPO_ROOT),
        ImageSpec("rabbitmq", REPO_ROOT / "dev/images/rabbitmq/Dockerfile", None),
        ImageSpec("redis", REPO_ROOT / "dev/images/redis/Dockerfile", None),
        ImageSpec("secantusdb", REPO_ROOT / "dev/images/secantusdb/Dockerfile", None),
    ]
}
if (REPO_ROOT / "operator/Dockerfile").exists():
    IMAGES["operator"] = ImageSpec("operator", REPO_ROOT / "operator/Dockerfile", REPO_ROOT)


def images_dir() -> Path:
    """Where the OCI archives are kept."""
    return cache_dir() / "images"


def _buildah(*args: str, capture: bool = True) -> str:
    root = cache_dir() / "buildah"
    cmd = [
        BUILDAH,
        "--root",
        str(root / "storage"),
        "--runroot",
        str(root / "run"),
        "--storage-driver",
        "overlay",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=capture, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or "").strip()[-2000:] if capture else "see the output above"
        raise ClusterError(f"buildah {args[0]} failed: {detail}")
    return proc.stdout.strip() if capture else ""


def _image_id(ref: str) -> str | None:
    try:
        return _buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", ref)
    except ClusterError:
        return None


def base_ref() -> str:
    """The local base image's name, keyed by its recipe."""
    recipe = json.dumps(
        [BASE_RECIPE_VERSION, DEBIAN_SUITE, DEBIAN_MIRRORS, BASE_PACKAGES, BASE_DPKG_EXCLUDES]
    )
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return f"localhost/cyberfortune/base:{DEBIAN_SUITE}-{key}"


def build_base() -> str:
    """Make the Debian base with mmdebstrap unless an image of this recipe exists; its name."""
    ref = base_ref()
    if _image_id(ref):
        return ref
    for tool in (MMDEBSTRAP, BUILDAH):
        if not Path(tool).exists():
            raise ClusterError(f"{tool} is missing: run `make system-packages` (as root)")
    start = time.monotonic()
    print(f"images: making the Debian {DEBIAN_SUITE} base with mmdebstrap (once per machine) ...")
    with tempfile.TemporaryDirectory(prefix="cyberfortune-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        cmd = [MMDEBSTRAP, "--variant=minbase", "--mode=root", "--quiet"]
        cmd += [f"--include={','.join(BASE_PACKAGES)}"]
        cmd += [f"--dpkgopt={opt}" for opt in BASE_DPKG_EXCLUDES]
        cmd += [DEBIAN_SUITE, str(rootfs), *DEBIAN_MIRRORS]
        subprocess.run(cmd, check=True)
        container = _buildah("from", "scratch")
        try:
            _buildah("add", container, str(rootfs), "/")
            path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            _buildah("config", "--env", f"PATH={path}", "--cmd", '["python3"]', container)
            _buildah("commit", "--quiet", "--rm", container, ref)
        except ClusterError:
            _buildah("rm", container)
            raise
    print(f"images: base {ref} made in {time.monotonic() - start:.0f}s")
    return ref


def build(spec: ImageSpec, base: str | None) -> str:
    """Build one image (cached layers are reused); its image id."""
    if spec.name == "base":
        base_id = _image_id(base or build_base())
        assert base_id is not None
        return base_id
    ref = spec.ref
    with tempfile.TemporaryDirectory(prefix=f"cyberfortune-{spec.name}-") as tmp:
        if spec.binary:
            ensure_binaries([spec.binary])
            shutil.copy2(binary_path(spec.binary), Path(tmp) / spec.binary)
            context = Path(tmp)
        else:
            context = spec.context or spec.dockerfile.parent
        args = ["bud", "--layers", "--isolation", "chroot", "--quiet", "-f", str(spec.dockerfile)]
        args += [f"--volume={path}:{path}:ro" for path in HOST_TRUST if Path(path).exists()]
        if spec.uses_base and base:
            args += ["--build-arg", f"BASE={base}"]
        args += [*spec.extra_args, "-t", ref, str(context)]
        _buildah(*args)
    image_id = _image_id(ref)
    if not image_id:
        raise ClusterError(f"image {ref} missing after its build")
    return image_id


def _archives_of(directory: Path, name: str) -> list[Path]:
    """The archives of image `name` in `directory`: `<name>-<16 hex>[-<tag hash>].tar`, and not
    those of an image whose name merely starts with it (`keda` and `keda-adapter`)."""
    pattern = re.compile(rf"{re.escape(name)}-[0-9a-f]{{16}}(-[0-9a-f]{{8}})?\.tar")
    return [path for path in directory.glob(f"{name}-*.tar") if pattern.fullmatch(path.name)]


def archive(spec: ImageSpec, image_id: str, ref: str | None = None) -> Path:
    """The image as an OCI archive named `ref` (default: the image's own name), written once per
    image id and name."""
    ref = ref or spec.ref
    if ref == spec.ref:
        out = images_dir() / f"{spec.name}-{image_id[:16]}.tar"
    else:  # another tag of the image (skaffold's): kept beside the image's own archive
        tag = hashlib.sha256(ref.encode()).hexdigest()[:8]
        out = images_dir() / "tagged" / f"{spec.name}-{image_id[:16]}-{tag}.tar"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    for old in _archives_of(out.parent, spec.name):
        old.unlink()
    partial = out.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    _buildah("push", "--quiet", image_id, f"oci-archive:{partial}:{ref}")
    partial.rename(out)
    return out


def build_all(names: list[str] | None = None) -> dict[str, Path]:
    """Build the images `names` (all by default); name -> OCI archive."""
    selected = [IMAGES[n] for n in (names or list(IMAGES))]
    base = build_base() if any(s.uses_base for s in selected) else None
    archives = {}
    for spec in selected:
        start = time.monotonic()
        image_id = build(spec, base)
        archives[spec.name] = archive(spec, image_id)
        print(f"images: {spec.ref} ready ({time.monotonic() - start:.1f}s)")
    return archives


def built_archives() -> dict[str, Path]:
    """The newest archive of each image built so far."""
    found: dict[str, Path] = {}
    for spec in IMAGES.values():
        candidates = sorted(_archives_of(images_dir(), spec.name), key=os.path.getmtime)
        if candidates:
            found[spec.name] = candidates[-1]
    return found


def qualified(ref: str) -> str:
    """`ref` as containerd names it (`cyberfortune/api:x` is `docker.io/cyberfortune/api:x`)."""
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        return f"docker.io/library/{ref}"
    if "." in first or ":" in first or first == "localhost":
        return ref
    return f"docker.io/{ref}"


def load_into(node: Node, archives: dict[str, Path]) -> list[str]:
    """Import the archives the node does not have yet into its containerd; the names imported."""
    record_file = node.containerd_dir / "imported.json"
    try:
        imported: dict[str, str] = json.loads(record_file.read_text())
    except (OSError, ValueError):
        imported = {}
    present = node.ctr("images", "list", "--quiet").stdout.split()
    loaded = []
    for name, path in archives.items():
        if imported.get(name) == path.name and IMAGES[name].ref in present:
            continue
        proc = node.ctr("images", "import", "--no-unpack=false", str(path))
        if proc.returncode != 0:
            raise ClusterError(f"importing {path} failed: {proc.stderr.strip()}")
        imported[name] = path.name
        loaded.append(name)
    record_file.write_text(json.dumps(imported, indent=2))
    return loaded


def main(argv: list[str] | None = None) -> int:
    """CLI: build (and load into a running node), list."""
    parser = argparse.ArgumentParser(description="Build the local cluster's images.")
    parser.add_argument("command", choices=["build", "list"])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(IMAGES))
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".local" / "cluster")
    parser.add_argument(
        "--tag", help="also name the (one) image so, and load it under that name (skaffold)"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(IMAGES))
    if unknown:
        parser.error(f"unknown image(s) {', '.join(unknown)}; known: {', '.join(IMAGES)}")
    if args.tag and len(args.names) != 1:
        parser.error("--tag names exactly one image")
    if args.command == "list":
        for name, path in built_archives().items():
            print(f"{IMAGES[name].ref}  {path}")
        return 0
    if os.geteuid() != 0:
        print("images: building needs root (buildah, mmdebstrap, the node)", file=sys.stderr)
        return 1
    try:
        archives = build_all(args.names or None)
        node = running_node(args.state_dir)
        if args.tag:
            spec = IMAGES[args.names[0]]
            image_id = _image_id(spec.ref)
            assert image_id is not None
            tagged = archive(spec, image_id, qualified(args.tag))
            if node is None:
                raise ClusterError(f"no local node runs to load {args.tag} into")
            proc = node.ctr("images", "import", str(tagged))
            if proc.returncode != 0:
                raise ClusterError(f"importing {tagged} failed: {proc.stderr.strip()}")
            print(f"images: {args.tag} loaded into the node")
        elif node is None:
            print("images: no local node is running; `make cluster-up` loads them")
        else:
            loaded = load_into(node, archives)
            print(f"images: loaded into the node: {', '.join(loaded) or 'nothing new'}")
    except (ClusterError, subprocess.CalledProcessError) as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
