"""The chart on the local cluster: every kind of install passes a server-side dry run, a bundled
install comes up, passes `helm test`, serves a FortuneRequest, upgrades without losing an in-flight
request, rolls back and uninstalls cleanly; an install on external backends works too; and each
ServiceAccount has exactly the rights docs/helm.md lists."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_cluster import BACKEND_ENV, CHART, Cluster, Release, backend_objects, helm, install
from fakes.fake_llm import FakeLLM
from kubernetes import client
from test_render import COMPONENTS, VALUE_SETS, skaffold, value_args

from controlplane.binaries import binary_path, ensure_binaries, fetched_file
from controlplane.network import NODE_IP
from localservices.jsonhttp import http_json
from localservices.supervisor import wait_for

pytestmark = pytest.mark.chart

ROOT = Path(__file__).resolve().parents[2]
BODY = {"profile": {"birthDate": "1990-05-17", "birthTime": "08:30"}, "topic": "love"}
EXAMPLE = ROOT / "docs" / "examples" / "fortunerequest.yaml"


@pytest.fixture(scope="module")
def integration_crds(cluster: Cluster) -> None:
    """Our CRD, and the CRDs of the integrations the chart can render (KEDA, Prometheus
    Operator), taken from their pinned modules, so their objects can be dry-run too."""
    ensure_binaries(["helm"])
    for name in ("keda", "prometheus-operator"):
        if not fetched_file(name).exists():
            subprocess.run(["bash", str(ROOT / "dev/controlplane/build.sh")], check=True)
        cluster.kubectl("apply", "--server-side", "-f", str(fetched_file(name)))
    cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    for crd in (
        "scaledobjects.keda.sh",
        "servicemonitors.monitoring.coreos.com",
        "fortunerequests.cyberfortune.io",
    ):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_server_side_dry_run(
    name: str, cluster: Cluster, integration_crds: None, make_namespace: Any
) -> None:
    namespace = make_namespace()
    rendered = helm(
        cluster,
        "template",
        "cf",
        str(CHART),
        "-n",
        namespace,
        "--kube-version",
        "1.34.4",
        *value_args(name),
    ).stdout
    applied = cluster.kubectl(
        "-n",
        namespace,
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        "-",
        input=rendered,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered) if doc}
    assert {"Deployment", "Service", "Role", "RoleBinding", "ServiceAccount"} <= kinds


# --- a bundled install, upgraded, rolled back and uninstalled ----------------------------------


@pytest.fixture(scope="module")
def slow_llm() -> Iterator[FakeLLM]:
    """The fake LLM with a latency long enough that an upgrade meets requests in flight."""
    with FakeLLM(host=NODE_IP, latency=3.0) as llm:
        yield llm


@pytest.fixture(scope="module")
def bundled(
    cluster: Cluster, slow_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Release, str]]:
    """(the release, helm install's output) in a fresh namespace, bundled stand-in backends."""
    namespace = f"cf-chart-{uuid.uuid4().hex[:8]}"
    values = tmp_path_factory.mktemp("bundled") / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "api": {"rateLimitPerMinute": 100000, "pollRateLimitPerMinute": 100000},
                "operator": {"sweepSeconds": 1},
                "llm": {
                    "provider": "openai",
                    "baseUrl": slow_llm.base_url,
                    "apiKey": "sk-chart",
                    "timeoutSeconds": 30,
                    "globalConcurrency": 32,
                    "reuse": False,  # one LLM call per request of the same body, as counted
                },
            }
        )
    )
    args = ["install", "cfb", str(CHART), "-n", namespace, "--create-namespace", "--wait"]
    args += ["--timeout", "8m", "-f", str(CHART / "values-local.yaml"), "-f", str(values)]
    output = helm(cluster, *args).stdout
    release = install(
        cluster, "cfb", namespace, values=[values]
    )  # the same values: a no-op upgrade
    yield release, output
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def api_call(release: Release, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return http_json(method, release.api_url + path, body)


def reading(release: Release, request_id: str) -> dict[str, Any] | None:
    status, body = api_call(release, "GET", f"/v1/fortunes/{request_id}")
    assert status == 200, body
    return body if body["status"] not in ("pending", "queued", "running") else None


def worker_concurrency(release: Release) -> str:
    jsonpath = "jsonpath={.spec.template.spec.containers[0].env}"
    name = release.component("worker-default")
    deployment = release.kubectl("get", "deployment", name, "-o", jsonpath).stdout
    found = re.search(r'"name":"FORTUNE_WORKER_CONCURRENCY","value":"(\d+)"', deployment)
    assert found, deployment
    return found.group(1)


class TestBundledRelease:
    """In order: install, helm test, a FortuneRequest, upgrade, rollback, uninstall."""

    def test_install_brings_everything_up_and_says_how_to_use_it(
        self, bundled: tuple[Release, str]
    ) -> None:
        release, output = bundled
        pods = (
            client.CoreV1Api(release.cluster.admin_client())
            .list_namespaced_pod(release.namespace)
            .items
        )
        assert pods and all(
            any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
            for p in pods
        )
        claims = release.kubectl("get", "pvc", "-o", "jsonpath={.items[*].status.phase}").stdout
        assert claims.split() == ["Bound"] * 3
        notes = output.split("NOTES:", 1)[1]
        assert "curl" in notes and "kubectl" in notes and "FortuneRequest" in notes
        assert "sk-chart" not in output

    def test_helm_test_submits_and_reads_a_reading(self, bundled: tuple[Release, str]) -> None:
        release, _ = bundled
        # The test pod submits through the Service, polls, and asserts the reading itself; it
        # exits non-zero (phase Failed, kept for its logs) otherwise.
        out = helm(release.cluster, "test", "cfb", "-n", release.namespace)
        assert "TEST SUITE:     cfb-cyberfortune-test-submit" in out.stdout
        assert "Phase:          Succeeded" in out.stdout

    def test_a_fortune_request_applied_with_kubectl_succeeds(
        self, bundled: tuple[Release, str]
    ) -> None:
        release, _ = bundled
        release.kubectl("apply", "-f", str(EXAMPLE))
        release.kubectl(
            "wait",
            "--for=jsonpath={.status.phase}=Succeeded",
            "fr/xiaoman-career",
            "--timeout=120s",
            timeout=130,
        )

    def test_upgrade_rolls_the_workers_without_losing_an_in_flight_request(
        self, bundled: tuple[Release, str], slow_llm: FakeLLM, tmp_path: Path
    ) -> None:
        release, _ = bundled
        slow_llm.reset()
        assert worker_concurrency(release) == "8"
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda _: api_call(release, "POST", "/v1/fortunes", BODY), range(24))
            )
        ids = [body["id"] for _, body in answers]
        wait_for(lambda: slow_llm.stats()["total"] > 0, 90, "requests in flight", 0.25)
        # A change of a pool's concurrency (the pools list is replaced as a whole, as Helm does).
        pools = yaml.safe_load((CHART / "values-local.yaml").read_text())["workers"]["pools"]
        pools[0]["concurrency"] = 4
        upgrade = tmp_path / "upgrade.yaml"
        upgrade.write_text(yaml.safe_dump({"workers": {"pools": pools}}))
        helm(
            release.cluster,
            "upgrade",
            "cfb",
            str(CHART),
            "-n",
            release.namespace,
            "--reuse-values",
            "-f",
            str(upgrade),
            "--wait",
            "--timeout",
            "8m",
        )
        assert worker_concurrency(release) == "4"
        wait_for(lambda: all(reading(release, i) for i in ids), 240, "every reading", 0.5)
        assert {reading(release, i)["status"] for i in ids} == {"succeeded"}  # type: ignore[index]
        calls = slow_llm.stats()["calls"]
        assert [i for i in ids if calls.get(i) != 1] == [], "no request lost or repeated"

    def test_rollback_returns_to_the_previous_revision(self, bundled: tuple[Release, str]) -> None:
        release, _ = bundled
        history = yaml.safe_load(
            helm(release.cluster, "history", "cfb", "-n", release.namespace, "-o", "yaml").stdout
        )
        previous = history[-2]["revision"]
        helm(
            release.cluster,
            "rollback",
            "cfb",
            str(previous),
            "-n",
            release.namespace,
            "--wait",
            "--timeout",
            "8m",
        )
        assert worker_concurrency(release) == "8"
        status, accepted = api_call(release, "POST", "/v1/fortunes", BODY)
        assert status == 202
        wait_for(lambda: reading(release, accepted["id"]), 120, "a reading after rollback", 0.5)

    def test_uninstall_leaves_no_pod_and_keeps_the_volumes(
        self, bundled: tuple[Release, str]
    ) -> None:
        release, _ = bundled
        helm(
            release.cluster,
            "uninstall",
            "cfb",
            "-n",
            release.namespace,
            "--wait",
            "--timeout",
            "5m",
        )
        core = client.CoreV1Api(release.cluster.admin_client())
        wait_for(
            lambda: not core.list_namespaced_pod(release.namespace).items,
            120,
            "every pod gone",
            0.5,
        )
        assert not release.cluster.containers(release.namespace)
        claims = core.list_namespaced_persistent_volume_claim(release.namespace).items
        assert sorted(c.metadata.name for c in claims) == [
            "data-cfb-cyberfortune-mongodb-0",
            "data-cfb-cyberfortune-rabbitmq-0",
            "data-cfb-cyberfortune-redis-0",
        ]


# --- external backends ---------------------------------------------------------------------


def test_install_on_external_backends(cluster: Cluster, make_namespace: Any) -> None:
    namespace = make_namespace()
    cluster.apply(namespace, *backend_objects())
    for name in ("rabbitmq", "redis", "secantusdb"):
        cluster.kubectl(
            "-n",
            namespace,
            "rollout",
            "status",
            f"deployment/{name}",
            "--timeout=180s",
            timeout=190,
        )
    env = {entry["name"]: entry["value"] for entry in BACKEND_ENV}
    secrets = {
        "broker": {"url": env["RABBITMQ_URL"], "management-url": env["RABBITMQ_MANAGEMENT_URL"]},
        "cache": {"url": env["REDIS_URL"]},
        "db": {"uri": env["MONGODB_URI"]},
    }
    for name, data in secrets.items():
        cluster.apply(
            namespace,
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data},
        )
    release = install(
        cluster,
        "cfx",
        namespace,
        "rabbitmq.bundled=false",
        "rabbitmq.external.existingSecret=broker",
        "redis.bundled=false",
        "redis.external.existingSecret=cache",
        "mongodb.bundled=false",
        "mongodb.external.existingSecret=db",
    )
    kinds = release.kubectl("get", "statefulsets,pvc", "-o", "name").stdout
    assert kinds.strip() == "", "no bundled backend"
    out = helm(cluster, "test", "cfx", "-n", namespace)
    assert "Phase:          Succeeded" in out.stdout


# --- RBAC: exactly the table of docs/helm.md ---------------------------------------------------


def documented_rights(component: str, fullname: str) -> set[tuple[str, str, str]]:
    """(resource, resource name, verbs) rows of the component's table in docs/helm.md."""
    text = (ROOT / "docs" / "helm.md").read_text()
    title = {"api": "API", "worker": "Worker", "operator": "Operator"}[component]
    section = text.split(f"\n{title} (`<fullname>-{component}`):\n\n", 1)[1].split("\n\n", 1)[0]
    rows = set()
    for line in section.splitlines()[2:]:
        resource, names, verbs = (cell.strip() for cell in line.strip("|").split("|"))
        rows.add(
            (
                resource,
                names.strip("`").replace("<fullname>", fullname),
                " ".join(v.strip() for v in verbs.split(",")),
            )
        )
    return rows


DEFAULT_RESOURCES = {
    ("selfsubjectreviews.authentication.k8s.io", "", "create"),
    ("selfsubjectaccessreviews.authorization.k8s.io", "", "create"),
    ("selfsubjectrulesreviews.authorization.k8s.io", "", "create"),
}


@pytest.mark.parametrize("component", ["api", "worker", "operator"])
def test_each_account_has_exactly_the_documented_rights(
    component: str, cluster: Cluster, make_namespace: Any
) -> None:
    namespace = make_namespace()
    rendered = helm(
        cluster,
        "template",
        "cfr",
        str(CHART),
        "-n",
        namespace,
        "--kube-version",
        "1.34.4",
        "-f",
        str(CHART / "values-local.yaml"),
    ).stdout
    rbac = [
        doc
        for doc in yaml.safe_load_all(rendered)
        if doc and doc["kind"] in ("ServiceAccount", "Role", "RoleBinding")
    ]
    cluster.apply(namespace, *rbac)
    account = f"system:serviceaccount:{namespace}:cfr-cyberfortune-{component}"
    ensure_binaries(["kubectl"])
    listing = subprocess.run(
        [
            str(binary_path("kubectl")),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "auth",
            "can-i",
            "--list",
            "-n",
            namespace,
            "--as",
            account,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = set()
    for line in listing.splitlines()[1:]:
        parts = re.split(r"\s{2,}", line.strip())
        if parts[0].startswith("["):  # a non-resource URL: what every account may read
            continue
        resource, _urls, names, verbs = parts
        rows.add((resource, names.strip("[]"), verbs.strip("[]")))
    assert rows - DEFAULT_RESOURCES == documented_rights(component, "cfr-cyberfortune")


def test_skaffold_deploys_what_its_custom_build_loaded_into_the_node(
    cluster: Cluster, make_namespace: Any, skaffold_env: dict[str, str], tmp_path: Path
) -> None:
    """The local profile's loop on this node, through skaffold: dev/skaffold-build.sh builds each
    image under the tag skaffold asks for (the custom-build contract: $IMAGE, $PUSH_IMAGE,
    $BUILD_CONTEXT) and loads it into the node's containerd; `skaffold deploy -p local` installs
    the chart with exactly those images and waits for every workload (its status check); the
    release passes `helm test`. (`skaffold build` itself cannot finish here: it reads a built image
    back from a Docker daemon, or from a registry when it pushes, and this machine has neither;
    docs/helm.md.)"""
    assert cluster.local is not None, "needs the node (a cluster started by this session)"
    namespace = make_namespace()
    suffix = uuid.uuid4().hex[:8]
    builds = []
    for component in COMPONENTS:
        tag = f"cyberfortune/{component}:skaffold-{suffix}"
        contract = {"IMAGE": tag, "PUSH_IMAGE": "false", "BUILD_CONTEXT": str(ROOT)}
        state = {"CYBERFORTUNE_CLUSTER_STATE": str(cluster.local.state_dir)}
        built = subprocess.run(
            [str(ROOT / "dev" / "skaffold-build.sh"), component],
            env={**os.environ, **contract, **state},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert built.returncode == 0, built.stderr
        builds.append({"imageName": f"cyberfortune/{component}", "tag": tag})
    loaded = set(cluster.local.node.ctr("images", "list", "--quiet").stdout.split())
    assert {f"docker.io/{b['tag']}" for b in builds} <= loaded
    artifacts = tmp_path / "artifacts.json"
    artifacts.write_text(json.dumps({"builds": builds}))

    env = {**skaffold_env, "KUBECONFIG": str(cluster.kubeconfig)}
    skaffold(env, "deploy", "-p", "local", "--build-artifacts", str(artifacts), "-n", namespace,
             "--status-check=true", timeout=600)  # fmt: skip
    running = cluster.kubectl(
        "-n", namespace, "get", "deployments", "-o",
        "jsonpath={range .items[*]}{.spec.template.spec.containers[0].image}{'\\n'}{end}",
    ).stdout.split()  # fmt: skip
    assert sorted(running) == sorted(b["tag"] for b in builds)
    tested = helm(cluster, "test", "cyberfortune", "-n", namespace)
    assert "Phase:          Succeeded" in tested.stdout
    helm(cluster, "uninstall", "cyberfortune", "-n", namespace, "--wait")
