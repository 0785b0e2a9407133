"""The local node really runs our images: Deployments become Available, Services resolve through
CoreDNS and route through kube-proxy, scaling starts and stops containers (gracefully), crashing
containers are restarted with back-off, readiness gates the EndpointSlice, configuration and the
ServiceAccount token reach the container, the security context is enforced, and deleting a
namespace stops its containers. Container state is read from CRI (crictl), not only the API."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_cluster import (
    API_IMAGE,
    BACKEND_ENV,
    WORKER_IMAGE,
    Cluster,
    backend_objects,
    container,
    deployment,
    pod,
    python_pod,
    run_to_completion,
    service,
    wait_pod_phase,
    wait_rollout,
)
from kubernetes import client, watch

from fortune_core.profile import derive_profile
from fortune_core.request import BirthProfile
from localservices.supervisor import wait_for

pytestmark = pytest.mark.e2e

PROFILE = {"birthDate": "1990-05-17", "birthTime": "08:30", "timezone": "Asia/Shanghai"}


@pytest.fixture(scope="module")
def backends(cluster: Cluster, module_namespace: str) -> str:
    """RabbitMQ, Redis and SecantusDB running as pods (our stand-in images) in the module's
    namespace; the namespace."""
    cluster.apply(module_namespace, *backend_objects())
    for name in ("rabbitmq", "redis", "secantusdb"):
        wait_rollout(cluster, module_namespace, f"deployment/{name}")
    return module_namespace


@pytest.fixture(scope="module")
def api(cluster: Cluster, backends: str) -> str:
    """Two replicas of the API image behind the Service `api`; the namespace."""
    main = container(
        "api",
        API_IMAGE,
        env=[*BACKEND_ENV, {"name": "FORTUNE_API_WORKERS", "value": "1"}],
        ports=[{"containerPort": 8080}],
        readinessProbe={"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 2},
        livenessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
    )
    cluster.apply(backends, deployment("api", 2, pod("api", main)), service("api", 8080))
    wait_rollout(cluster, backends, "deployment/api")
    return backends


def test_api_replicas_become_available_and_answer_through_dns_and_cluster_ip(
    cluster: Cluster, core: client.CoreV1Api, api: str
) -> None:
    apps = client.AppsV1Api(core.api_client)
    status = apps.read_namespaced_deployment("api", api).status
    assert (status.ready_replicas, status.available_replicas) == (2, 2)

    # From the host: kube-proxy routes the ClusterIP for local processes too (once it has
    # programmed the Service's endpoints, which follows the rollout by up to a sync period).
    cluster_ip = core.read_namespaced_service("api", api).spec.cluster_ip

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://{cluster_ip}:8080/healthz", timeout=5) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    wait_for(healthy, 30, "the ClusterIP to answer from the host", 0.25)

    # From another pod: the Service name resolves through CoreDNS and both the liveness and the
    # synchronous profile endpoint answer.
    code = f"""
import json, socket, urllib.request
host = "api.{api}.svc.cluster.local"
address = socket.gethostbyname(host)
ready = urllib.request.urlopen(f"http://{{host}}:8080/readyz", timeout=10).status
req = urllib.request.Request(f"http://api:8080/v1/profiles", method="POST",
    data=json.dumps({{"profile": {json.dumps(PROFILE)}}}).encode(),
    headers={{"Content-Type": "application/json"}})
body = json.load(urllib.request.urlopen(req, timeout=30))
print(json.dumps({{"address": address, "ready": ready, "bazi": body["profile"]["bazi"]}}))
"""
    phase, logs = run_to_completion(core, api, python_pod("client", API_IMAGE, code))
    assert phase == "Succeeded", logs
    seen = json.loads(logs.strip().splitlines()[-1])
    assert seen["address"] == cluster_ip
    assert seen["ready"] == 200
    # The image computes what this checkout computes.
    assert seen["bazi"] == derive_profile(BirthProfile.model_validate(PROFILE)).bazi.model_dump()


def worker_pods(core: client.CoreV1Api, namespace: str) -> list[client.V1Pod]:
    """The worker pods that are not being deleted."""
    pods = core.list_namespaced_pod(namespace, label_selector="app=worker").items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def test_scaling_starts_and_gracefully_stops_containers(
    cluster: Cluster, core: client.CoreV1Api, backends: str
) -> None:
    grace = 20
    # Ready once consuming, as the chart probes it: a rollout then means every worker runs.
    probe = {"httpGet": {"path": "/readyz", "port": 9100}, "periodSeconds": 1}
    main = container("worker", WORKER_IMAGE, env=BACKEND_ENV, readinessProbe=probe)
    template = pod("worker", main, terminationGracePeriodSeconds=grace)
    cluster.apply(backends, deployment("worker", 2, template))
    wait_rollout(cluster, backends, "deployment/worker")

    def running_workers() -> int:
        return sum(c["metadata"]["name"] == "worker" for c in cluster.containers(backends))

    assert running_workers() == 2
    cluster.kubectl("-n", backends, "scale", "deployment/worker", "--replicas=4")
    wait_rollout(cluster, backends, "deployment/worker")
    assert running_workers() == 4

    # Record how each pod ends: the container's final state, with the last words the process
    # wrote as its termination message (its log goes with the pod).
    names = [p.metadata.name for p in worker_pods(core, backends)]
    final: dict[str, Any] = {}

    def watch_terminations() -> None:
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_pod, backends, label_selector="app=worker", timeout_seconds=120
        ):
            p = event["object"]
            for status in p.status.container_statuses or []:
                if status.state.terminated is not None:
                    final[p.metadata.name] = (
                        p.metadata.deletion_timestamp,
                        status.state.terminated,
                    )
            if len(final) >= 3:
                w.stop()

    watcher = threading.Thread(target=watch_terminations)
    watcher.start()
    cluster.kubectl("-n", backends, "scale", "deployment/worker", "--replicas=1")
    wait_for(lambda: len(worker_pods(core, backends)) == 1, 60, "one worker pod left", 0.25)
    wait_for(lambda: running_workers() == 1, 60, "3 worker containers to stop", 0.25)
    watcher.join(60)
    survivor = worker_pods(core, backends)[0].metadata.name
    stopped = [n for n in names if n != survivor]
    assert sorted(final) == sorted(stopped)
    for name in stopped:
        deleted_at, state = final[name]
        assert state.message == (
            "SIGTERM received: finishing in-flight work, then exiting\nworker stopped (drained)\n"
        ), (name, state)
        assert state.exit_code == 0, (name, state)
        # It exited on the signal, well inside its grace period (not killed at the end of it).
        assert (state.finished_at - deleted_at).total_seconds() < grace, (name, state)
    assert "SIGTERM" not in core.read_namespaced_pod_log(survivor, backends)


def test_crashing_container_is_restarted_with_back_off(
    core: client.CoreV1Api, namespace: str
) -> None:
    crash = python_pod(
        "crash",
        API_IMAGE,
        "print('starting and failing'); raise SystemExit(3)",
        restartPolicy="Always",
    )
    core.create_namespaced_pod(namespace, crash)

    def backing_off() -> client.V1ContainerStatus | None:
        statuses = core.read_namespaced_pod("crash", namespace).status.container_statuses or []
        for s in statuses:
            waiting = s.state.waiting
            if s.restart_count >= 2 and waiting and waiting.reason == "CrashLoopBackOff":
                return s
        return None

    status = wait_for(backing_off, 120, "restartCount >= 2 in CrashLoopBackOff", 0.5)
    assert status.last_state.terminated.exit_code == 3
    assert "starting and failing" in core.read_namespaced_pod_log("crash", namespace)


def test_failing_readiness_probe_takes_the_pod_out_of_the_endpoint_slice(
    cluster: Cluster, core: client.CoreV1Api, namespace: str
) -> None:
    serve = container(
        "web",
        API_IMAGE,
        command=["sh", "-c", "touch /tmp/ready && exec python -m http.server 8080"],
        readinessProbe={"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1},
    )
    cluster.apply(namespace, deployment("web", 2, pod("web", serve)), service("web", 8080))
    wait_rollout(cluster, namespace, "deployment/web")
    discovery = client.DiscoveryV1Api(core.api_client)

    def endpoints() -> dict[str, bool]:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web"
        ).items
        return {
            e.target_ref.name: bool(e.conditions.ready) for s in slices for e in s.endpoints or []
        }

    pods = [p.metadata.name for p in core.list_namespaced_pod(namespace).items]
    wait_for(lambda: endpoints() == dict.fromkeys(pods, True), 60, "2 ready endpoints", 0.25)
    failing, healthy = pods
    cluster.kubectl("-n", namespace, "exec", failing, "--", "rm", "/tmp/ready")
    wait_for(
        lambda: endpoints() == {failing: False, healthy: True},
        60,
        "the failing pod's endpoint to turn not-ready",
        0.25,
    )
    ready = next(
        c
        for c in core.read_namespaced_pod(failing, namespace).status.conditions
        if c.type == "Ready"
    )
    assert ready.status == "False"


def test_secret_configmap_and_downward_api_reach_the_container(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="llm"), string_data={"key": "sk-e2e"}),
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg"), data={"pool": "gold"}),
    )
    env = [
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "llm", "key": "key"}}},
        {
            "name": "FROM_CONFIGMAP",
            "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "pool"}},
        },
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {
            "name": "MEMORY_LIMIT",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}},
        },
    ]
    names = [e["name"] for e in env]
    code = f"import json, os; print(json.dumps({{n: os.environ[n] for n in {names!r}}}))"
    spec = python_pod("env", API_IMAGE, code)
    spec["spec"]["containers"][0].update(env=env, resources={"limits": {"memory": "128Mi"}})
    phase, logs = run_to_completion(core, namespace, spec)
    assert phase == "Succeeded", logs
    seen = json.loads(logs.strip().splitlines()[-1])
    pod_ip = core.read_namespaced_pod("env", namespace).status.pod_ip
    assert seen == {
        "FROM_SECRET": "sk-e2e",
        "FROM_CONFIGMAP": "gold",
        "POD_NAME": "env",
        "POD_NAMESPACE": namespace,
        "POD_IP": pod_ip,
        "MEMORY_LIMIT": str(128 * 1024 * 1024),
    }


def test_service_account_token_has_exactly_its_role_s_rights(
    cluster: Cluster, core: client.CoreV1Api, namespace: str
) -> None:
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"))
    )
    cluster.apply(
        namespace,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-configmaps"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-configmaps",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
    )
    assert rbac.read_namespaced_role_binding("reader", namespace).role_ref.name == "read-configmaps"
    # In the pod: the projected token and CA, the API server through the `kubernetes` Service.
    code = f"""
import json, ssl, urllib.error, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(f"{{sa}}/token").read()
ctx = ssl.create_default_context(cafile=f"{{sa}}/ca.crt")
def status(path):
    req = urllib.request.Request("https://kubernetes.default.svc" + path,
                                 headers={{"Authorization": "Bearer " + token}})
    try:
        return urllib.request.urlopen(req, context=ctx, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code
ns = "{namespace}"
print(json.dumps({{
    "get own configmap": status(f"/api/v1/namespaces/{{ns}}/configmaps/settings"),
    "list configmaps": status(f"/api/v1/namespaces/{{ns}}/configmaps"),
    "get secret": status(f"/api/v1/namespaces/{{ns}}/secrets/anything"),
    "other namespace": status("/api/v1/namespaces/kube-system/configmaps/coredns"),
}}))
"""
    phase, logs = run_to_completion(
        core, namespace, python_pod("token", API_IMAGE, code, serviceAccountName="reader")
    )
    assert phase == "Succeeded", logs
    assert json.loads(logs.strip().splitlines()[-1]) == {
        "get own configmap": 200,
        "list configmaps": 403,
        "get secret": 403,
        "other namespace": 403,
    }


def test_security_context_is_enforced_in_the_container(
    core: client.CoreV1Api, namespace: str
) -> None:
    code = """
import errno, json, os
try:
    open("/written-to-root", "w")
    write = "allowed"
except OSError as exc:
    write = errno.errorcode[exc.errno]
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines())
print(json.dumps({"uid": os.getuid(), "write": write,
                  **{k: status[k].strip() for k in ("CapEff", "NoNewPrivs", "Seccomp")}}))
"""
    phase, logs = run_to_completion(core, namespace, python_pod("restricted", API_IMAGE, code))
    assert phase == "Succeeded", logs
    assert json.loads(logs.strip().splitlines()[-1]) == {
        "uid": 10001,  # the image's user (runAsNonRoot checks it is not 0)
        "write": "EROFS",  # readOnlyRootFilesystem
        "CapEff": "0000000000000000",  # capabilities: drop ALL
        "NoNewPrivs": "1",  # allowPrivilegeEscalation: false
        "Seccomp": "2",  # RuntimeDefault: filter mode
    }

    # runAsNonRoot is checked by the kubelet before the container starts: uid 0 is refused.
    as_root = python_pod("as-root", API_IMAGE, "print('must not run')")
    as_root["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0
    core.create_namespaced_pod(namespace, as_root)

    def refused() -> str | None:
        statuses = core.read_namespaced_pod("as-root", namespace).status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        if waiting and waiting.reason == "CreateContainerConfigError":
            return str(waiting.message)
        return None

    assert "non-root" in wait_for(refused, 60, "the kubelet to refuse uid 0", 0.25)


@pytest.fixture
def doomed_namespace(core: client.CoreV1Api) -> Iterator[str]:
    """A namespace the test deletes itself."""
    name = f"e2e-doomed-{threading.get_ident() % 100000}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def test_deleting_a_namespace_stops_its_containers(
    cluster: Cluster, core: client.CoreV1Api, doomed_namespace: str
) -> None:
    ns = doomed_namespace
    # PID 1 of a container ignores signals it has no handler for: this one exits on SIGTERM.
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, lambda *_: exit(0)); time.sleep(3600)"
    )
    sleeper = container("sleeper", API_IMAGE, command=["python", "-c", code])
    # The namespace controller re-checks after the pods' grace period: keep it short.
    template = pod("sleeper", sleeper, terminationGracePeriodSeconds=5)
    cluster.apply(ns, deployment("sleeper", 2, template))
    wait_rollout(cluster, ns, "deployment/sleeper")
    assert len(cluster.containers(ns)) == 2
    assert len(cluster.sandboxes(ns)) == 2

    core.delete_namespace(ns)

    def gone() -> bool:
        try:
            core.read_namespace(ns)
            return False
        except client.ApiException as exc:
            return exc.status == 404

    wait_for(gone, 120, f"namespace {ns} to be deleted", 0.5)
    # Stopped on the node: no container of the namespace runs, every sandbox is torn down (the
    # kubelet's garbage collection removes the exited ones later, on its own schedule).
    assert cluster.containers(ns) == []
    assert {c["state"] for c in cluster.containers(ns, "all")} <= {"CONTAINER_EXITED"}
    assert {s["state"] for s in cluster.sandboxes(ns)} <= {"SANDBOX_NOTREADY"}


def test_pod_is_scheduled_on_the_local_node_from_a_local_image(
    core: client.CoreV1Api, namespace: str
) -> None:
    code = "import platform; print(platform.python_version())"
    phase, logs = run_to_completion(core, namespace, python_pod("hello", API_IMAGE, code))
    assert phase == "Succeeded"
    started = wait_pod_phase(core, namespace, "hello", {"Succeeded"})
    assert started.spec.node_name == "cyberfortune-local"
    assert started.status.container_statuses[0].image_id  # resolved by containerd, not pulled
    assert logs.strip().startswith("3.11")


def test_a_claim_gets_a_volume_that_outlives_its_pod(
    core: client.CoreV1Api, namespace: str
) -> None:
    claim = client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name="data"),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
        ),
    )
    core.create_namespaced_persistent_volume_claim(namespace, claim)
    volume = {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}

    def with_volume(name: str, code: str) -> dict[str, Any]:
        spec = python_pod(name, API_IMAGE, code)
        spec["spec"]["volumes"].append(volume)
        spec["spec"]["containers"][0]["volumeMounts"].append({"name": "data", "mountPath": "/data"})
        return spec

    write = "open('/data/note', 'w').write('kept')"
    phase, logs = run_to_completion(core, namespace, with_volume("writer", write))
    assert phase == "Succeeded", logs
    phase, logs = run_to_completion(
        core, namespace, with_volume("reader", "print(open('/data/note').read())")
    )
    assert phase == "Succeeded", logs
    assert logs.strip() == "kept"
    bound = core.read_namespaced_persistent_volume_claim("data", namespace)
    assert bound.status.phase == "Bound"
    assert bound.spec.storage_class_name == "local-path"
