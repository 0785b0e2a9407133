"""Helpers for the e2e tier: the cluster handle, pods from our images, waiting, a test-only CRD."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT / "dev") not in sys.path:  # tests/conftest.py does the same
    sys.path.insert(0, str(REPO_ROOT / "dev"))
from controlplane.binaries import binary_path  # noqa: E402
from controlplane.cluster import LocalCluster  # noqa: E402
from localservices.supervisor import wait_for  # noqa: E402

# The images `make images` builds and the cluster fixture loads into the node.
API_IMAGE = "cyberfortune/api:dev"
WORKER_IMAGE = "cyberfortune/worker:dev"
RABBITMQ_IMAGE = "cyberfortune/rabbitmq:dev"
REDIS_IMAGE = "cyberfortune/redis:dev"
SECANTUSDB_IMAGE = "cyberfortune/secantusdb:dev"


@dataclass
class Cluster:
    """A running local cluster reachable through an admin kubeconfig."""

    kubeconfig: Path
    kubectl_cache: Path
    local: LocalCluster | None  # None: reused, started by someone else

    def admin_client(self) -> client.ApiClient:
        """A new ApiClient authenticated with the admin client certificate (system:masters)."""
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl (built at the server's version) against the cluster.

        `check`: fail the test if kubectl exits non-zero.
        """
        cmd = [
            str(binary_path("kubectl")),
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.kubectl_cache),
        ]
        proc = subprocess.run(
            [*cmd, *args], input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert not check or proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stderr}"
        return proc

    def apply(self, namespace: str, *objects: dict[str, Any]) -> None:
        """`kubectl apply` of `objects` in `namespace`."""
        manifest = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        self.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(manifest))

    def containers(self, namespace: str, state: str = "running") -> list[dict[str, Any]]:
        """The node's containers of pods in `namespace` as CRI reports them (`state`: running,
        exited, or all), read with crictl from the node's containerd."""
        assert self.local is not None, "needs the node's CRI endpoint (a cluster started here)"
        args = ["ps", "-o", "json", "--label", f"io.kubernetes.pod.namespace={namespace}"]
        if state == "all":
            args.append("--all")
        elif state != "running":
            args += ["--state", state]
        proc = self.local.node.crictl(*args)
        assert proc.returncode == 0, proc.stderr
        containers: list[dict[str, Any]] = json.loads(proc.stdout).get("containers") or []
        return containers

    def sandboxes(self, namespace: str) -> list[dict[str, Any]]:
        """The node's pod sandboxes (any state) of `namespace`, from CRI."""
        assert self.local is not None, "needs the node's CRI endpoint (a cluster started here)"
        proc = self.local.node.crictl("pods", "-o", "json", "--namespace", f"^{namespace}$")
        assert proc.returncode == 0, proc.stderr
        items: list[dict[str, Any]] = json.loads(proc.stdout).get("items") or []
        return items


def pod_logs(core: client.CoreV1Api, namespace: str, name: str) -> str:
    """The logs of the pod's (first) container."""
    return str(core.read_namespaced_pod_log(name, namespace))


def wait_pod_phase(
    core: client.CoreV1Api, namespace: str, name: str, phases: set[str], timeout: float = 120
) -> client.V1Pod:
    """Wait until pod `name` is in one of `phases`; the pod."""

    def reached() -> client.V1Pod | None:
        pod = core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase in phases else None

    pod: client.V1Pod = wait_for(reached, timeout, f"pod {name} in {sorted(phases)}", 0.25)
    return pod


def run_to_completion(
    core: client.CoreV1Api, namespace: str, pod: dict[str, Any], timeout: float = 120
) -> tuple[str, str]:
    """Create a run-once pod, wait until it ends; (phase, logs)."""
    name = pod["metadata"]["name"]
    pod["spec"].setdefault("restartPolicy", "Never")
    core.create_namespaced_pod(namespace, pod)
    ended = wait_pod_phase(core, namespace, name, {"Succeeded", "Failed"}, timeout)
    return str(ended.status.phase), pod_logs(core, namespace, name)


def wait_rollout(cluster: Cluster, namespace: str, kind_name: str, timeout: int = 180) -> None:
    """`kubectl rollout status` until every replica is updated and available."""
    cluster.kubectl(
        "-n",
        namespace,
        "rollout",
        "status",
        kind_name,
        f"--timeout={timeout}s",
        timeout=timeout + 10,
    )


def container(name: str, image: str, **fields: Any) -> dict[str, Any]:
    """A container of our local images (never pulled), restricted as the chart runs them."""
    spec: dict[str, Any] = {
        "name": name,
        "image": image,
        "imagePullPolicy": "Never",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    spec.update(fields)
    return spec


def pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A Pod with `containers`, non-root, seccomp RuntimeDefault, a writable /tmp."""
    body: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": list(containers),
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "terminationGracePeriodSeconds": 30,
    }
    for c in body["containers"]:
        c.setdefault("volumeMounts", []).append({"name": "tmp", "mountPath": "/tmp"})
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


def deployment(name: str, replicas: int, template: dict[str, Any]) -> dict[str, Any]:
    """A Deployment of `replicas` copies of the pod `template` (from pod()), labelled app=name."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": template["spec"]},
        },
    }


def service(name: str, port: int, target: int | None = None) -> dict[str, Any]:
    """A ClusterIP Service for the pods labelled app=name."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "main", "port": port, "targetPort": target or port}],
        },
    }


def python_pod(name: str, image: str, code: str, **spec: Any) -> dict[str, Any]:
    """A run-once pod executing `code` with the image's Python."""
    return pod(name, container(name, image, command=["python", "-c", code]), **spec)


def backend_objects() -> list[dict[str, Any]]:
    """RabbitMQ, Redis and SecantusDB (our local stand-in images), one pod each, with Services."""
    objects: list[dict[str, Any]] = []
    for name, image, port, data in (
        ("rabbitmq", RABBITMQ_IMAGE, 5672, "/var/lib/rabbitmq"),
        ("redis", REDIS_IMAGE, 6379, "/data"),
        ("secantusdb", SECANTUSDB_IMAGE, 27017, "/data/db"),
    ):
        main = container(
            name,
            image,
            ports=[{"containerPort": port}],
            readinessProbe={"tcpSocket": {"port": port}, "periodSeconds": 1},
            volumeMounts=[{"name": "data", "mountPath": data}],
        )
        template = pod(name, main)
        template["spec"]["volumes"].append({"name": "data", "emptyDir": {}})
        objects += [deployment(name, 1, template), service(name, port)]
    return objects


BACKEND_ENV = [
    {"name": "RABBITMQ_URL", "value": "amqp://guest:guest@rabbitmq:5672/%2F"},
    {"name": "RABBITMQ_MANAGEMENT_URL", "value": "http://guest:guest@rabbitmq:15672"},
    {"name": "REDIS_URL", "value": "redis://redis:6379/0"},
    {"name": "MONGODB_URI", "value": "mongodb://secantusdb:27017/cyberfortune"},
    {"name": "FORTUNE_LLM_PROVIDER", "value": "almanac"},
]
"""What the API and the worker need to reach backend_objects() in the same namespace."""


ServiceAccountClient = Callable[[str, str], client.ApiClient]
"""`(namespace, name) -> ApiClient` authenticated as that ServiceAccount."""


# --- a test-only CustomResourceDefinition ---------------------------------------------------------

GROUP = "test.cyberfortune.io"
VERSION = "v1"
PLURAL = "widgets"
CEL_MESSAGE = "minReplicas must not exceed maxReplicas"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "description": "A Widget exercises the API server in the e2e tier.",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "Desired state of the widget.",
                                "required": ["color"],
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.minReplicas <= self.maxReplicas",
                                        "message": CEL_MESSAGE,
                                    }
                                ],
                                "properties": {
                                    "color": {
                                        "type": "string",
                                        "description": "Paint color of the widget.",
                                        "enum": ["red", "green", "blue"],
                                    },
                                    "minReplicas": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "default": 1,
                                        "description": "Fewest replicas of the widget.",
                                    },
                                    "maxReplicas": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "default": 3,
                                        "description": "Most replicas of the widget.",
                                    },
                                },
                            },
                            "status": {
                                "type": "object",
                                "description": "Observed state of the widget.",
                                "properties": {
                                    "phase": {"type": "string", "description": "Lifecycle phase."}
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    """A Widget object with the given spec fields."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


# --- the chart, installed on the local cluster ------------------------------------------------

CHART = REPO_ROOT / "charts" / "cyberfortune"
LOCAL_VALUES = CHART / "values-local.yaml"


def helm(cluster: Cluster, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the pinned helm against the cluster; fail the test when it fails."""
    cmd = [str(binary_path("helm")), "--kubeconfig", str(cluster.kubeconfig), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"helm {' '.join(args)} failed:\n{proc.stderr}"
    return proc


@dataclass
class Release:
    """A release of the chart: where it is and how to reach its API."""

    cluster: Cluster
    name: str
    namespace: str
    api_url: str

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """kubectl in the release's namespace."""
        return self.cluster.kubectl("-n", self.namespace, *args, **kwargs)

    @property
    def fullname(self) -> str:
        """The chart's name prefix: the release name if it contains the chart's, else both."""
        return fullname(self.name)

    def component(self, name: str) -> str:
        """The full name of one of the release's components (api, operator, worker-default...)."""
        return f"{self.fullname}-{name}"

    def secret_value(self, secret: str, key: str) -> str:
        """One decoded value of a Secret of the release."""
        import base64

        out = self.kubectl("get", "secret", secret, "-o", f"jsonpath={{.data.{key}}}").stdout
        return base64.b64decode(out).decode()

    def diagnose(self) -> str:
        """What a failed test leaves to read: the pods, the recent Events, every thread of the
        operator (its faulthandler dump on SIGUSR1) and the tails of the components' logs."""
        parts = []

        def run(*args: str) -> str:
            proc = self.kubectl(*args, check=False)
            return (proc.stdout + proc.stderr).strip()

        parts.append(run("get", "pods", "-o", "wide"))
        parts.append(run("get", "events", "--sort-by=.lastTimestamp"))
        local = self.cluster.local
        if local is not None:
            for found in self.cluster.containers(self.namespace):
                if found["metadata"]["name"] != "operator":
                    continue
                inspected = local.node.crictl("inspect", found["id"])
                pid = json.loads(inspected.stdout or "{}").get("info", {}).get("pid")
                if not pid:
                    continue

                def dumps() -> int:
                    return run("logs", "-l", "app.kubernetes.io/component=operator").count(
                        "Current thread"
                    )

                before = dumps()
                os.kill(int(pid), signal.SIGUSR1)
                with contextlib.suppress(Exception):
                    wait_for(lambda before=before: dumps() > before, 10, "the operator's dump", 0.2)
        for component, tail in (("operator", 300), ("api", 60), ("mongodb", 60), ("rabbitmq", 60)):
            selector = f"app.kubernetes.io/component={component}"
            for previous in ("--previous=false", "--previous=true"):
                parts.append(
                    f"--- logs {component} {previous}\n"
                    + run("logs", "-l", selector, f"--tail={tail}", "--prefix", previous)
                )
        return "\n\n".join(parts)


def fullname(release: str) -> str:
    """The chart's fullname for a release (as `cf.fullname` in the chart's _helpers.tpl)."""
    return release if "cyberfortune" in release else f"{release}-cyberfortune"


def install(
    cluster: Cluster,
    name: str,
    namespace: str,
    *settings: str,
    values: list[Path] | None = None,
    local_values: bool = True,
) -> Release:
    """`helm upgrade --install` the chart with values-local.yaml (unless not `local_values`), the
    extra `values` files and `--set` `settings`, waiting until every pod is ready."""
    args = ["upgrade", "--install", name, str(CHART), "-n", namespace, "--create-namespace"]
    args += ["--wait", "--timeout", "8m"]
    if local_values:
        args += ["-f", str(LOCAL_VALUES)]
    for path in values or []:
        args += ["-f", str(path)]
    for setting in settings:
        args += ["--set", setting]
    helm(cluster, *args)
    service = json.loads(
        cluster.kubectl(
            "-n", namespace, "get", "service", f"{fullname(name)}-api", "-o", "json"
        ).stdout
    )
    api_url = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"

    def answers() -> bool:  # kube-proxy programs the endpoints up to a sync period after --wait
        try:
            with urllib.request.urlopen(f"{api_url}/readyz", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_for(answers, 60, "the API Service to answer", 0.25)
    return Release(cluster, name, namespace, api_url)
